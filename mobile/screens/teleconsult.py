"""The call with the remote doctor: the doctor's name, a running timer, and what the doctor concluded (conclusions,
orientation, prescriptions) as noted by staff."""
from __future__ import annotations

from kivy.properties import StringProperty

from mobile.screens.widgets import ModelScreen, load_kv


class TeleconsultScreen(ModelScreen):
    orientation = StringProperty("")  # the orientation button chosen

    def on_pre_enter(self, *_args) -> None:
        for key in ("doctor", "rpps", "conclusion", "prescriptions", "orientation_detail"):
            self.ids[key].text = ""
        self.orientation = ""

    def start_call(self) -> bool:
        return self.vm.start_call(self.ids.doctor.text, self.ids.rpps.text)

    def end_call(self) -> bool:
        ids = self.ids
        return self.vm.end_call(conclusion=ids.conclusion.text, orientation=self.orientation or None,
                                orientation_detail=ids.orientation_detail.text,
                                prescriptions=ids.prescriptions.text)


load_kv("teleconsult.kv")
