"""Before the teleconsultation: the reason, the patient's consent (or its refusal) and the room checklist the HAS
asks for; and abandoning a session that will not take place.

With the consent, for a qualified identity only, staff ask whether the patient opposes a copy of the report in
their Mon espace santé mailbox (its address is the INS: sync.delivery.recipients); the answer is required then,
and not recorded otherwise."""
from __future__ import annotations

from mobile.workflow.context import WorkflowContext
from mobile.workflow.resume import CLEARED
from mobile.workflow.state import WorkflowError

CONSENT_DECISIONS = ("given", "refused")


class SessionStartStep:
    def __init__(self, ctx: WorkflowContext) -> None:
        self.ctx = ctx

    def start_session(self, *, reason: str, consent: str, given_by: str = "patient", given_by_name: str | None = None,
                      room_closed: bool = False, device_hygiene: bool = False, accessibility: bool = False,
                      companion_present: bool = False, interpreter_present: bool = False,
                      callback_phone: str | None = None, mes_opposed: bool | None = None) -> bool:
        """Record what the HAS asks before a teleconsultation. Consent refused ends the session cleanly (recorded,
        abandoned, never uploaded): returns False. Consent given needs the reason and the three checklist items;
        then measurements may start: returns True."""
        ctx = self.ctx
        session_id = ctx.require_session()
        self._check(reason=reason, consent=consent, given_by=given_by, given_by_name=given_by_name,
                    room_checked=room_closed and device_hygiene and accessibility)
        asked = consent == "given" and self.asks_mes()
        if asked and mes_opposed not in (True, False):
            raise WorkflowError("session.mes_answer_missing", "mes_opposed")
        try:
            ctx.store.record_consent(session_id, decision=consent, recorded_by=ctx.state.staff["id"],
                                     given_by=given_by, given_by_name=(given_by_name or None) if
                                     given_by != "patient" else None, mes_opposed=mes_opposed if asked else None)
            if consent == "refused":
                ctx.store.update_session(session_id, reason=(reason or "").strip() or None)
                ctx.store.abandon_session(session_id)
            else:
                ctx.store.update_session(session_id, reason=reason.strip(), companion_present=companion_present,
                                         interpreter_present=interpreter_present,
                                         callback_phone=(callback_phone or "").strip() or None,
                                         checklist_room_closed=True, checklist_device_hygiene=True,
                                         checklist_accessibility=True)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        if consent == "refused":
            ctx.claims.release_session(session_id)
            ctx.changed(step="patient", patient=None, session_id=None, session_ready=False,
                        notice="session.consent_refused")
            return False
        ctx.changed(step="measure", session_ready=True, notice=None)
        return True

    def asks_mes(self) -> bool:
        """Whether the Mon espace santé question is asked for the current patient: a qualified identity (QUAL, with
        its INS) only."""
        patient = self.ctx.state.patient or {}
        return patient.get("identity_status") == "QUAL" and bool(patient.get("ins"))

    def _check(self, *, reason: str, consent: str, given_by: str, given_by_name: str | None,
               room_checked: bool) -> None:
        if self.ctx.state.step != "session_start":
            raise WorkflowError("session.consent_already_recorded")
        if consent not in CONSENT_DECISIONS:
            raise WorkflowError("session.consent_missing", "consent")
        if given_by != "patient" and not (given_by_name or "").strip():
            raise WorkflowError("session.consent_grantor_name_missing", "given_by_name")
        if consent == "given":
            if not (reason or "").strip():
                raise WorkflowError("session.reason_missing", "reason")
            if not room_checked:
                raise WorkflowError("session.room_checks_missing")

    def abandon(self) -> None:
        """The session will not take place after all (patient unwell, call impossible): kept, never uploaded."""
        ctx = self.ctx
        ctx.require_session()
        ctx.cancel_measurement()
        ctx.abandon_current()
        ctx.changed(step="patient", notice="session.abandoned", **CLEARED)
