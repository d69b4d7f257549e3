"""Choose the patient: search by date of birth or name letters, tap a resident; or open the creation form."""
from __future__ import annotations

from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from mobile.screens.widgets import ModelScreen, load_kv


class PatientRow(ButtonBehavior, BoxLayout):
    """One resident in the list (RecycleView view class; its properties come from PatientListModel.patients)."""

    patient_id = StringProperty("")
    name = StringProperty("")
    family = StringProperty("")
    usual = StringProperty("")
    given = StringProperty("")
    room = StringProperty("")
    sex = StringProperty("")
    birth_date = StringProperty("")
    insee = StringProperty("")
    status = StringProperty("")
    vm = ObjectProperty(None, allownone=True)

    def on_release(self) -> None:
        if self.vm is not None and self.patient_id:
            self.vm.select_patient(self.patient_id)


class PatientScreen(ModelScreen):
    def on_pre_enter(self, *_args) -> None:
        self.ids.search.text = self.vm.query
        self.vm.refresh_patients()

    def open_form(self) -> None:
        self.manager.current = "patient_form"


load_kv("patient.kv")
