"""Create a patient from the five INS identity traits, the usual name and the room, and a status staff may set by
hand (Provisoire, or Validée with the document checked); the probable duplicates follow every change of the
traits; errors come from the workflow. The same form corrects a resident's record (`vm.editing`, opened from the
patient list): filled with it, the traits read-only when the identity came from INSi (`vm.locked`)."""
from __future__ import annotations

from kivy.factory import Factory
from kivy.properties import StringProperty

from mobile.screens.texts import format_date
from mobile.screens.widgets import ModelScreen, load_kv

DEFAULT_STATUS = "PROV"
_TEXT_FIELDS = ("family", "usual", "given", "birth", "insee", "room")


class PatientFormScreen(ModelScreen):
    method = StringProperty("")    # how the traits were collected (FR Core method-collection code)
    document = StringProperty("")  # the identity document checked, for a validated identity
    more_buttons: list = []        # the buttons of the matches after the first (show_more_duplicates)

    def on_pre_enter(self, *_args) -> None:
        if self.vm.editing:
            self.fill(self.vm.editing)
        else:
            self.reset()

    def reset(self) -> None:
        for key in _TEXT_FIELDS:
            self.ids[key].text = ""
        self.method = ""
        self.document = ""
        self.vm.dismiss_duplicates()
        self.ids.sex.selected = ""
        self.ids.status.selected = DEFAULT_STATUS
        self.vm.error = None
        self.ids.scroll.scroll_y = 1

    def fill(self, patient: dict) -> None:
        """The record to correct, as staff would have typed it."""
        self.reset()
        ids = self.ids
        for key, column in (("family", "family_name"), ("usual", "usual_name"), ("given", "given_name"),
                            ("insee", "birth_place_insee"), ("room", "room")):
            ids[key].text = patient.get(column) or ""
        ids.birth.text = format_date(patient.get("birth_date"))
        ids.sex.selected = patient.get("sex") or ""
        status = patient.get("identity_status") or DEFAULT_STATUS
        ids.status.selected = status if status in ("PROV", "VALI") else DEFAULT_STATUS
        self.method = patient.get("identity_method") or ""
        self.document = patient.get("identity_document") or ""

    def traits(self) -> dict[str, str]:
        ids = self.ids
        return dict(family_name=ids.family.text, usual_name=ids.usual.text, given_name=ids.given.text,
                    birth_date=ids.birth.text, sex=ids.sex.selected, birth_place_insee=ids.insee.text)

    def values(self) -> dict[str, str | None]:
        if self.vm.locked:  # a retrieved or qualified identity: only what the tablet may change
            return dict(usual_name=self.ids.usual.text, room=self.ids.room.text)
        status = self.ids.status.selected
        return dict(self.traits(), room=self.ids.room.text, identity_status=status,
                    identity_method=self.method or None,
                    identity_document=self.document or None if status == "VALI" else None)

    def traits_changed(self) -> None:
        """Any identity trait was typed or chosen: the duplicates shown are those of what is typed now."""
        if self.vm is not None and "family" in self.ids:
            self.vm.check_duplicates(**self.traits())

    def show_more_duplicates(self) -> None:
        """The first match has its button in the kv (`use_existing`); every other match gets its own, naming it,
        laid out after it and before "create anyway"."""
        choices, actions = self.ids.get("more_duplicates"), self.ids.get("duplicate_actions")
        if choices is None or actions is None:
            return
        for button in self.more_buttons:
            actions.remove_widget(button)
        self.more_buttons = []
        for text, patient_id in choices.choices:
            button = Factory.BigButton(text=text, height="80dp")
            button.bind(on_release=lambda _button, chosen=patient_id: self.use_existing(chosen))
            actions.add_widget(button, index=1)  # children run backwards: index 1 sits before the last one added
            self.more_buttons.append(button)

    def use_existing(self, patient_id: str) -> None:
        """A probable duplicate was the same person: open the session on that identity."""
        self.vm.use_patient(patient_id)

    def submit(self, allow_duplicate: bool = False) -> bool:
        """Create the patient, or save the correction of the record being edited."""
        if self.vm.editing:
            created = self.vm.save_edit(**self.values(), allow_duplicate=allow_duplicate)
        else:
            created = self.vm.create_patient(**self.values(), allow_duplicate=allow_duplicate)
        if not created:
            self.ids.scroll.scroll_y = 1  # the message sits at the top of the form
        return created

    def cancel(self) -> None:
        if self.vm.editing:
            self.vm.cancel_edit()  # the workflow goes back to the list, nothing changed
            return
        self.vm.error = None
        self.manager.current = "patient"


load_kv("patient_form.kv")
