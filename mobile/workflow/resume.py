"""An open session is never lost by navigation: leaving it (another resident, the end of a shift, a restart) parks
it, and the patient list offers it back where it was — the values accepted, NEWS2, the call and its timer, the notes
typed so far. Abandoning a session stays a separate act (session_start.abandon).

Where the session stands is saved in the store (sync.store.resume) at every change that matters — a value accepted,
the step moving on, the call starting — and when staff leave or lock with notes typed. A parked session keeps its
device claims (one device, one patient); a measurement running when staff leave is cancelled, and its reading,
bound to the session it was started for, is discarded."""
from __future__ import annotations

import datetime as dt
from typing import Any

from mobile.workflow import resume_codec
from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import WorkflowError, WorkflowState
from mobile.workflow.vitals import emergency_call_of, news2_of

# what the patient list says of a parked session: the step it reached
CLEARED = dict(patient=None, session_id=None, proposal=None, error=None, live_value=None, device_state="idle",
               accepted={}, measuring_kind=None, session_ready=False, vitals={}, news2=None, emergency_call=None,
               call_started_at=None,
               call_ended_at=None, doctor_name=None, summary_draft="", call_notes={}, editing=None,
               edited=None, request_kind=None)


class ResumeStep:
    def __init__(self, ctx: WorkflowContext) -> None:
        self.ctx = ctx
        # the session last written and its document: only the session on screen is compared, and a closed or left
        # session's values and notes are not kept in memory for the rest of the day
        self._saved: tuple[str, dict[str, Any]] | None = None
        ctx.state.listeners.append(self._changed)

    # -- saving ----------------------------------------------------------------------------------------------
    def _changed(self, state: WorkflowState) -> None:
        if state.session_id is not None and state.step in resume_codec.RESUMABLE_STEPS:
            self.save()

    def save(self) -> None:
        """Write where the open session stands, when it changed since the last write."""
        ctx = self.ctx
        session_id = ctx.state.session_id
        if session_id is None or ctx.state.step not in resume_codec.RESUMABLE_STEPS:
            return
        doc = resume_codec.document(ctx.state)
        if self._saved == (session_id, doc):
            return
        if ctx.store.get_session(session_id)["state"] != "open":
            return
        ctx.store.save_resume(session_id, doc)
        self._saved = (session_id, doc)

    def keep_call_notes(self, *, save: bool = False, **notes: str) -> None:
        """What staff typed during the call so far (conclusions, orientation, prescriptions): kept with the
        session, written to the store when `save` (a field left, leaving, locking)."""
        unknown = set(notes) - set(resume_codec.NOTE_KEYS)
        if unknown:
            raise TypeError(f"unknown call notes: {sorted(unknown)}")
        self.ctx.state.call_notes = {**self.ctx.state.call_notes, **notes}
        if save:
            self.save()

    # -- leaving ---------------------------------------------------------------------------------------------
    def leave(self) -> None:
        """Back to the patient list: the open session is saved and stays open, to be resumed from the list."""
        ctx = self.ctx
        ctx.cancel_measurement()
        self.save()
        ctx.changed(step="patient", notice=None, **CLEARED)

    # -- the open sessions and resuming them -----------------------------------------------------------------
    def open_sessions(self) -> list[dict[str, Any]]:
        """The sessions still open on this tablet, newest first: the patient, the step reached, when and by whom
        each was opened."""
        ctx = self.ctx
        ctx.require_staff()
        rows = []
        for session in reversed(ctx.store.open_sessions()):
            doc = ctx.store.resume_state(session["id"])
            staff = ctx.store.get_staff(session["staff_id"]) if session.get("staff_id") else {}
            rows.append({"session_id": session["id"], "patient": ctx.store.get_patient(session["patient_id"]),
                         "step": (doc or {}).get("step") or self._inferred(session)["step"],
                         "opened_at": session["opened_at"], "staff_name": staff.get("display_name") or "",
                         "call_started_at": (doc or {}).get("call_started_at"),
                         "request_kind": session.get("request_kind"),
                         # advice asked without a call: the list marks it as waiting for the doctor's answer
                         "waiting_advice": session.get("request_kind") == "teleexpertise"})
        return rows

    def resume(self, session_id: str) -> None:
        """Take an open session up again where it was left (the call's timer counts from its start)."""
        ctx = self.ctx
        ctx.require_staff()
        if ctx.state.site is None:
            raise WorkflowError("site.not_set_up")
        session = ctx.store.get_session(session_id)
        if session["state"] != "open":
            raise WorkflowError("session.no_longer_open")
        if ctx.state.session_id not in (None, session_id):
            self.leave()
        doc = ctx.store.resume_state(session_id)
        updates = resume_codec.restored(doc, session_id) if doc else self._inferred(session)
        for proposal in updates.get("accepted", {}).values():
            if proposal.reading is not None and ctx.claims.holder(proposal.reading.device.address) is None:
                ctx.claims.claim(proposal.reading.device.address, session_id)
        if updates["step"] in ("vitals", "teleconsult", "summary"):
            updates["news2"] = news2_of(updates.get("accepted", {}), updates.get("vitals", {}))
        patient = ctx.store.get_patient(session["patient_id"])
        ctx.store.record_view("session", session_id, "resumed")
        ctx.cancel_measurement()
        if doc:
            self._saved = (session_id, doc)
        updates["emergency_call"] = emergency_call_of(ctx.store.notes(session_id))
        updates["request_kind"] = session.get("request_kind")
        ctx.changed(**{**CLEARED, "patient": patient, "session_id": session_id, "saved_session_id": None,
                       "notice": None, "duplicates": [], **updates})

    def open_session_of(self, patient_id: str) -> str | None:
        """The newest session still open for this patient on this tablet, if any."""
        found = [s["id"] for s in self.ctx.store.open_sessions() if s["patient_id"] == patient_id]
        return found[-1] if found else None

    def _inferred(self, session: dict[str, Any]) -> dict[str, Any]:
        """A session open without a resume document (opened before the tablet kept them): its step from what the
        store holds — the call started, values stored, consent given, or nothing yet."""
        store = self.ctx.store
        if session.get("started_at"):
            return {"step": "teleconsult", "session_ready": True, "doctor_name": session.get("remote_doctor_name"),
                    "call_started_at": dt.datetime.fromisoformat(session["started_at"])}
        if store.measurements(session["id"]):
            return {"step": "vitals", "session_ready": True}
        if store.consent_decision(session["id"]) == "given":
            return {"step": "measure", "session_ready": True}
        return {"step": "session_start"}
