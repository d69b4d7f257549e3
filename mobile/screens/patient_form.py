"""Create a patient from the five INS identity traits and an identity status; errors come from the workflow."""
from __future__ import annotations

from kivy.properties import StringProperty

from mobile.screens.widgets import ModelScreen, load_kv

DEFAULT_STATUS = "PROV"


class PatientFormScreen(ModelScreen):
    method = StringProperty("")  # how the identity was checked (FR Core method-collection code)

    def on_pre_enter(self, *_args) -> None:
        self.reset()

    def reset(self) -> None:
        for key in ("family", "given", "birth", "insee", "ins"):
            self.ids[key].text = ""
        self.method = ""
        self.vm.dismiss_duplicates()
        self.ids.sex.selected = ""
        self.ids.status.selected = DEFAULT_STATUS
        self.vm.error = None
        self.ids.scroll.scroll_y = 1

    def values(self) -> dict[str, str]:
        ids = self.ids
        values = dict(family_name=ids.family.text, given_name=ids.given.text, birth_date=ids.birth.text,
                      sex=ids.sex.selected, birth_place_insee=ids.insee.text, identity_status=ids.status.selected,
                      identity_method=self.method or None)
        if ids.status.selected == "QUAL":
            values["ins"] = ids.ins.text.replace(" ", "")
        return values

    def use_existing(self) -> None:
        """A probable duplicate was the same person: open the session on the existing identity."""
        if self.vm.duplicates:
            patient_id = self.vm.duplicates[0]["patient_id"]
            self.vm.dismiss_duplicates()
            self.vm.select_patient(patient_id)

    def submit(self, allow_duplicate: bool = False) -> bool:
        created = self.vm.create_patient(**self.values(), allow_duplicate=allow_duplicate)
        if not created:
            self.ids.scroll.scroll_y = 1  # the message sits at the top of the form
        return created

    def cancel(self) -> None:
        self.vm.error = None
        self.manager.current = "patient"


load_kv("patient_form.kv")
