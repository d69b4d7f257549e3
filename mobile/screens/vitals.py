"""What staff assess by hand (respiration rate counted over 60 s, consciousness ACVPU, oxygen, a prescribed SpO2
target of 88–92 %) and the NEWS2 early warning score computed live from it and from the devices' values, with its
risk band and what to do; at high risk the first action is recording the call to the 15."""
from __future__ import annotations


from mobile.screens.widgets import ModelScreen, load_kv


class VitalsScreen(ModelScreen):
    shown_session = ""   # the session the fields were filled for: back after a lock, what was typed is still there

    def on_pre_enter(self, *_args) -> None:
        if self.shell is not None and self.shell.session_id == self.shown_session:
            self.preview()   # back from the history or the PIN pad: the score follows what is still typed
            return
        self.shown_session = self.shell.session_id if self.shell is not None else ""
        self.ids.rr.text = ""
        self.ids.acvpu.selected = ""
        self.ids.oxygen.selected = ""
        self.ids.spo2_target.active = False

    def values(self) -> dict:
        ids = self.ids
        oxygen = {"yes": True, "no": False}.get(ids.oxygen.selected)
        return dict(respiration_rate=ids.rr.text.strip() or None, consciousness=ids.acvpu.selected or None,
                    on_oxygen=oxygen, spo2_target_88_92=ids.spo2_target.active)

    def preview(self) -> None:
        if self.vm is not None and self.manager is not None and self.manager.current == self.name:
            self.vm.preview_vitals(**self.values())

    def submit(self) -> bool:
        return self.vm.confirm_vitals(**self.values())


load_kv("vitals.kv")
