"""The patient list (search by date of birth or name letters) and the creation form with its probable duplicates."""
from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty

from mobile.screens import texts
from mobile.screens.viewmodels.base import ScreenModel, attempt
from mobile.workflow import WorkflowState
from mobile.workflow.patient_edit import traits_locked
from mobile.workflow.patients import LIST_LENGTH


def patient_row(patient: dict[str, Any], answer_session: str = "") -> dict[str, Any]:
    """A resident of the list; `answer_session`: their open session whose doctor's answer waits for staff."""
    return {"patient_id": str(patient["id"]), "answer_session": answer_session,
            "name": texts.display_name(patient.get("usual_name") or patient.get("family_name"),
                                       patient.get("given_name")),
            "family": patient.get("family_name") or "", "usual": patient.get("usual_name") or "",
            "given": patient.get("given_name") or "", "room": patient.get("room") or "",
            "sex": patient.get("sex") or "", "birth_date": patient.get("birth_date") or "",
            "insee": patient.get("birth_place_insee") or "", "status": patient.get("identity_status") or ""}


def open_session_row(row: dict[str, Any]) -> dict[str, Any]:
    patient = row["patient"]
    return {"session_id": row["session_id"], "name": texts.display_name(patient.get("family_name"),
                                                                       patient.get("given_name")),
            "status": patient.get("identity_status") or "", "step": row["step"],
            "call_started_at": row.get("call_started_at") or "", "opened_at": row["opened_at"] or "",
            "staff_name": row["staff_name"], "waiting_advice": bool(row.get("waiting_advice"))}


class PatientListModel(ScreenModel):
    query = StringProperty("")
    patients = ListProperty([])          # RecycleView data: one dict per resident
    more = BooleanProperty(False)        # the search (or the whole list) found more residents than it shows
    searched = BooleanProperty(False)    # something is typed in the search (kv cannot watch query.strip())
    open_sessions = ListProperty([])     # the sessions left open on this tablet, to resume
    edited = ObjectProperty(None, allownone=True)   # the fields of the record just corrected (stamp keys)
    error = ObjectProperty(None, allownone=True)    # why a record could not be opened for correction
    _answers_seen = 0

    def on_state(self, state: WorkflowState) -> None:
        self.edited = state.edited
        if state.answers_received != self._answers_seen:  # a doctor's answer came down: "Avis reçu" may change
            self._answers_seen = state.answers_received
            if state.step == "patient":
                self.refresh_patients()

    def on_step(self, step: str, previous: str) -> None:
        if step == "patient":
            if previous == "saved":  # the next resident: a fresh search
                self.query = ""
            self.refresh_patients()

    def search(self, text: str) -> None:
        self.query = text
        self.refresh_patients()

    def refresh_patients(self) -> None:
        query = self.query.strip()  # the store matches dd/mm/yyyy and name prefixes
        rows = self.workflow.patients(query, limit=LIST_LENGTH + 1)  # one more than shown: are there others?
        self.more, rows = len(rows) > LIST_LENGTH, rows[:LIST_LENGTH]
        self.searched = bool(query)
        staff = self.workflow.state.staff is not None and not self.workflow.state.locked
        answers = self.workflow.conclusions_waiting_by_patient() if staff else {}
        self.patients = [{**patient_row(p, answers.get(p["id"], "")), "vm": self} for p in rows]
        self.open_sessions = [open_session_row(r) for r in self.workflow.open_sessions()] if staff else []

    def resume_session(self, session_id: str) -> None:
        self.workflow.resume_session(session_id)

    def select_patient(self, patient_id: str) -> None:
        self.workflow.select_patient(patient_id)

    def open_history(self, patient_id: str) -> None:
        """The resident's trends, without opening a session for them."""
        self.workflow.open_history(patient_id)

    def open_edit(self, patient_id: str) -> bool:
        """The resident form filled with this record, to correct it, without opening a session."""
        return attempt(self, "error", lambda: self.workflow.open_patient_edit(patient_id))


class PatientFormModel(ScreenModel):
    duplicates = ListProperty([])        # probable duplicates of the identity being typed, kept up to date
    documents = ListProperty([])         # the identity documents that validate an identity on this site
    error = ObjectProperty(None, allownone=True)
    editing = ObjectProperty(None, allownone=True)   # the record being corrected; None when creating a patient
    locked = BooleanProperty(False)                  # its traits came from INSi: read-only

    def on_state(self, state: WorkflowState) -> None:
        if state.editing != self.editing:
            self.editing = state.editing
        self.locked = traits_locked(state.editing)
        rows = [patient_row(p) for p in state.duplicates]
        if rows != self.duplicates:
            self.duplicates = rows
        documents = list(self.workflow.identity_documents()) if state.site else []
        if documents != self.documents:
            self.documents = documents

    def check_duplicates(self, **traits: str) -> None:
        """A trait changed in the form: the probable duplicates are looked for again."""
        self.workflow.check_duplicates(**traits)

    def create_patient(self, *, family_name: str, given_name: str, birth_date: str, sex: str,
                       birth_place_insee: str, identity_status: str, identity_method: str | None = None,
                       allow_duplicate: bool = False, usual_name: str | None = None, room: str | None = None,
                       identity_document: str | None = None) -> bool:
        """The form's submit. True when the patient was created (and selected); a probable duplicate fills
        `duplicates` and returns False until staff pick one or create anyway."""
        extra = {key: value.strip() for key, value in (("identity_method", identity_method),
                                                       ("usual_name", usual_name), ("room", room),
                                                       ("identity_document", identity_document)) if value}
        return attempt(self, "error", lambda: self.workflow.create_patient(
            family_name=family_name.strip(), given_name=given_name.strip(), birth_date=birth_date, sex=sex,
            birth_place_insee=birth_place_insee.strip(), identity_status=identity_status,
            allow_duplicate=allow_duplicate, **extra))

    def save_edit(self, *, allow_duplicate: bool = False, **values: str | None) -> bool:
        """The form's submit when correcting a record: True when saved (the workflow goes back to the list)."""
        return attempt(self, "error", lambda: self.workflow.save_patient_edit(allow_duplicate=allow_duplicate,
                                                                              **values))

    def cancel_edit(self) -> None:
        self.error = None
        self.workflow.cancel_patient_edit()

    def dismiss_duplicates(self) -> None:
        self.workflow.dismiss_duplicates()

    def use_patient(self, patient_id: str) -> bool:
        """Staff recognised a match: the session opens on exactly that identity, if it is still one of the
        matches shown (a stale button never opens another patient)."""
        if patient_id not in [d["patient_id"] for d in self.duplicates]:
            return False
        self.workflow.dismiss_duplicates()
        self.workflow.select_patient(patient_id)
        return True

    def select_patient(self, patient_id: str) -> None:
        self.workflow.select_patient(patient_id)
