"""What staff assess by hand (respiration rate counted over 60 s, consciousness ACVPU, oxygen) and the NEWS2 early
warning score computed live from it and from the devices' values."""
from __future__ import annotations


from mobile.screens.widgets import ModelScreen, load_kv


class VitalsScreen(ModelScreen):
    shown_session = ""   # the session the fields were filled for: back after a lock, what was typed is still there

    def on_pre_enter(self, *_args) -> None:
        if self.shell is not None and self.shell.session_id == self.shown_session:
            return
        self.shown_session = self.shell.session_id if self.shell is not None else ""
        self.ids.rr.text = ""
        self.ids.acvpu.selected = ""
        self.ids.oxygen.selected = ""

    def values(self) -> dict:
        ids = self.ids
        oxygen = {"yes": True, "no": False}.get(ids.oxygen.selected)
        return dict(respiration_rate=ids.rr.text.strip() or None, consciousness=ids.acvpu.selected or None,
                    on_oxygen=oxygen)

    def preview(self) -> None:
        if self.vm is not None and self.manager is not None and self.manager.current == self.name:
            self.vm.preview_vitals(**self.values())

    def submit(self) -> bool:
        return self.vm.confirm_vitals(**self.values())


load_kv("vitals.kv")
