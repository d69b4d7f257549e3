"""The call with the remote doctor: the doctor's name, a running timer, and what the doctor concluded (conclusions,
orientation, prescriptions) as noted by staff."""
from __future__ import annotations

from kivy.properties import StringProperty

from mobile.screens.widgets import ModelScreen, load_kv


NOTE_FIELDS = ("conclusion", "prescriptions", "orientation_detail")


class TeleconsultScreen(ModelScreen):
    orientation = StringProperty("")  # the orientation button chosen

    def on_pre_enter(self, *_args) -> None:
        """The fields show what was typed for this session so far (after a lock, or when it is resumed)."""
        notes = self.vm.call_notes
        for key in ("doctor", "rpps"):
            self.ids[key].text = ""
        for key in NOTE_FIELDS:
            self.ids[key].text = notes.get(key, "")
        self.orientation = notes.get("orientation", "")

    def on_orientation(self, _screen, value: str) -> None:
        self.vm.keep_note("orientation", value, save=True)

    def note_changed(self, key: str, text: str) -> None:
        self.vm.keep_note(key, text)

    def note_left(self, key: str, focus: bool) -> None:
        if not focus:
            self.vm.keep_note(key, self.ids[key].text, save=True)

    def start_call(self) -> bool:
        return self.vm.start_call(self.ids.doctor.text, self.ids.rpps.text)

    def end_call(self) -> bool:
        ids = self.ids
        return self.vm.end_call(conclusion=ids.conclusion.text, orientation=self.orientation or None,
                                orientation_detail=ids.orientation_detail.text,
                                prescriptions=ids.prescriptions.text)


load_kv("teleconsult.kv")
