"""Create a patient from the five INS identity traits and an identity status; errors come from the workflow."""
from __future__ import annotations

from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import Screen

from mobile.screens.widgets import load_kv

DEFAULT_STATUS = "PROV"


class PatientFormScreen(Screen):
    wf = ObjectProperty(None, rebind=True)

    def on_pre_enter(self, *_args) -> None:
        self.reset()

    def reset(self) -> None:
        for key in ("family", "given", "birth", "insee"):
            self.ids[key].text = ""
        self.ids.sex.selected = ""
        self.ids.status.selected = DEFAULT_STATUS
        self.wf.form_error = ""
        self.ids.scroll.scroll_y = 1

    def values(self) -> dict[str, str]:
        ids = self.ids
        return dict(family_name=ids.family.text, given_name=ids.given.text, birth_date=ids.birth.text,
                    sex=ids.sex.selected, birth_place_insee=ids.insee.text, identity_status=ids.status.selected)

    def submit(self) -> bool:
        created = self.wf.create_patient(**self.values())
        if not created:
            self.ids.scroll.scroll_y = 1  # the message sits at the top of the form
        return created

    def cancel(self) -> None:
        self.wf.form_error = ""
        self.manager.current = "patient"


load_kv("patient_form.kv")
