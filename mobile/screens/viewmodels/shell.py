"""The part every screen shares: the step and the screen shown (the PIN pad while locked), who is signed in, the
selected patient (the banner), the one-off notice for the patient list, the idle lock and the staff menu."""
from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty

from mobile.screens import texts
from mobile.screens.viewmodels.base import ScreenModel, attempt, clock_text
from mobile.workflow import WorkflowState

SCREEN_OF_STEP = {"patient_edit": "patient_form"}   # correcting a record reuses the creation form


class ShellModel(ScreenModel):
    step = StringProperty("signin")      # the workflow's step; the screen shown is `screen` (the PIN pad if locked)
    screen = StringProperty("signin")
    locked = BooleanProperty(False)
    staff_name = StringProperty("")
    staff_role = StringProperty("")
    is_admin = BooleanProperty(False)
    site_name = StringProperty("")
    notice = ObjectProperty(None, allownone=True)   # a code or a refusal, for the patient list (consent refused…)
    # the selected patient (banner)
    has_patient = BooleanProperty(False)
    patient_id = StringProperty("")
    patient_name = StringProperty("")
    patient_sex = StringProperty("")
    patient_birth_date = StringProperty("")
    patient_insee = StringProperty("")
    patient_status = StringProperty("")
    patient_family = StringProperty("")   # birth name
    patient_usual = StringProperty("")    # usual name (nom utilisé), may be empty
    patient_given = StringProperty("")
    patient_room = StringProperty("")
    # the open session (leaving it asks first; the call keeps running)
    session_id = StringProperty("")
    session_open = BooleanProperty(False)
    call_running = BooleanProperty(False)
    doctor_name = StringProperty("")

    def on_state(self, state: WorkflowState) -> None:
        staff = state.staff or {}
        self.staff_name = staff.get("display_name") or ""
        self.staff_role = staff.get("role") or ""
        self.is_admin = bool(staff.get("is_admin")) and not state.locked
        self.locked = state.locked
        self.site_name = (state.site or {}).get("name") or ""
        self.notice = state.notice
        patient = state.patient or {}
        self.has_patient = bool(state.patient)
        self.patient_id = str(patient.get("id") or "")
        self.patient_name = texts.display_name(patient.get("family_name"), patient.get("given_name"))
        self.patient_sex = patient.get("sex") or ""
        self.patient_birth_date = patient.get("birth_date") or ""
        self.patient_insee = patient.get("birth_place_insee") or ""
        self.patient_status = patient.get("identity_status") or ""
        self.patient_family = patient.get("family_name") or ""
        self.patient_usual = patient.get("usual_name") or ""
        self.patient_given = patient.get("given_name") or ""
        self.patient_room = patient.get("room") or ""
        self.session_id = state.session_id or ""
        self.session_open = state.session_id is not None
        self.call_running = state.call_started_at is not None and state.call_ended_at is None
        self.doctor_name = state.doctor_name or ""
        self.step = state.step
        self.screen = "signin" if state.locked else SCREEN_OF_STEP.get(state.step, state.step)

    # -- taps -------------------------------------------------------------------------------------------------
    def touched(self) -> None:
        self.workflow.touch()

    def lock(self) -> None:
        self.workflow.lock()

    def sign_out(self) -> None:
        self.workflow.sign_out()

    def change_patient(self) -> None:
        """Back to the patient list; an open session stays open (parked), to be resumed from the list."""
        self.workflow.leave_session()

    def abandon(self) -> None:
        attempt(self, "notice", self.workflow.abandon)

    def call_time(self) -> str:
        return clock_text(self.workflow.call_seconds()) if self.call_running else ""

    def open_admin(self) -> bool:
        return attempt(self, "notice", self.workflow.open_admin)

    def tick(self) -> None:
        """Once a second: the idle lock."""
        self.workflow.check_idle()
