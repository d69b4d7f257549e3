"""The resident's history screen: opened from the patient list (any resident, no session opened for them) or from the
vitals step (the resident of the session), it shows the trends of the last 90 days (sync.store.history); closing it
goes back where staff came from, the session untouched. Looking at a resident's history is recorded in the audit
trail like opening their record."""
from __future__ import annotations

from typing import Any

from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import WorkflowError

HISTORY_REACHABLE_FROM = ("patient", "vitals")


class HistoryStep:
    def __init__(self, ctx: WorkflowContext) -> None:
        self.ctx = ctx

    def open_history(self, patient_id: str | None = None) -> None:
        """The history of `patient_id` (from the patient list) or of the session's resident (from the vitals)."""
        ctx = self.ctx
        ctx.require_staff()
        step = ctx.state.step
        if step not in HISTORY_REACHABLE_FROM:
            raise WorkflowError("history.not_from_here")
        if patient_id is None:
            if ctx.state.patient is None:
                raise WorkflowError("session.choose_patient_first")
            patient = ctx.state.patient
        else:
            patient = ctx.store.get_patient(patient_id)
        ctx.store.record_view("patient", patient["id"], "history")
        ctx.changed(step="history", history_patient=patient, history_return=step)

    def close_history(self) -> None:
        """Back to the patient list or the vitals, as they were."""
        ctx = self.ctx
        if ctx.state.step == "history":
            ctx.changed(step=ctx.state.history_return or "patient", history_patient=None, history_return=None)

    def resident_history(self) -> Any:
        """The history shown (sync.store.history.History), None when no history is open."""
        patient = self.ctx.state.history_patient
        return self.ctx.store.resident_history(patient["id"]) if patient else None

    def usual_values(self) -> dict[str, Any]:
        """The usual values of the resident shown; for the session's resident, without the session in progress."""
        ctx = self.ctx
        patient = ctx.state.history_patient
        if not patient:
            return {}
        if ctx.state.patient and ctx.state.patient["id"] == patient["id"]:
            return ctx.usual_values()
        return ctx.store.usual_values(patient["id"])
