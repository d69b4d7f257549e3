"""Choose the patient: search by date of birth or name letters, tap a resident; or open the creation form."""
from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
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
    narrow = BooleanProperty(False)   # a narrow list (portrait): the status and buttons go under the name
    answer_session = StringProperty("")  # their open session with the doctor's answer waiting ("Advice received")

    def on_release(self) -> None:  # a resident with a session open goes back to it (the answer shown there)
        if self.vm is not None and self.patient_id:
            self.vm.select_patient(self.patient_id)


class OpenSessionRow(ButtonBehavior, BoxLayout):
    """A session left open: the patient, the step it reached, when and by whom it was opened; a tap resumes it."""

    session_id = StringProperty("")
    name = StringProperty("")
    status = StringProperty("")
    step = StringProperty("")
    call_started_at = StringProperty("")
    opened_at = StringProperty("")
    staff_name = StringProperty("")
    waiting_advice = BooleanProperty(False)  # advice asked without a call, the doctor has not answered yet
    vm = ObjectProperty(None, allownone=True)

    def on_release(self) -> None:
        if self.vm is not None and self.session_id:
            self.vm.resume_session(self.session_id)


class PatientScreen(ModelScreen):
    def on_kv_post(self, *_args) -> None:
        if self.vm is not None:
            self.vm.bind(open_sessions=self._show_open_sessions)
            self._show_open_sessions(self.vm, self.vm.open_sessions)

    def _show_open_sessions(self, _vm, rows) -> None:
        # rebuilt only when the sessions changed: a row replaced under a finger would lose its tap
        if rows == getattr(self, "_shown_rows", None):
            return
        self._shown_rows = [dict(row) for row in rows]
        box = self.ids.open_list
        box.clear_widgets()
        for row in rows:
            box.add_widget(OpenSessionRow(vm=self.vm, **row))

    def on_pre_enter(self, *_args) -> None:
        self.ids.search.text = self.vm.query
        self.vm.refresh_patients()

    def open_form(self) -> None:
        self.manager.current = "patient_form"


load_kv("patient.kv")
