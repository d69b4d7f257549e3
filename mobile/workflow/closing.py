"""The end of a session: the summary for the patient's own doctor (drafted from the session, then staff's own
text), the close that locks the session and queues it for upload, and addenda to a closed session.

The draft is a French document for French doctors: its sentences are its content, not screen messages."""
from __future__ import annotations

from typing import Any, Callable

from mobile.workflow.record_fr import by_hand_fr, measurement_lines, news2_fr
from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import WorkflowError, WorkflowState
from sync.delivery.renderer import renderer_of
from sync.store import NotFoundError, SessionStateError
from sync import closing as sync_closing

NOTE_LABELS_FR = {"remote_doctor_conclusion": "Conclusions du médecin", "orientation": "Orientation",
                  "prescription": "Prescriptions"}


class ClosingStep:
    def __init__(self, ctx: WorkflowContext, record_recipients: Callable[[str, dict[str, Any] | None], None]
                 ) -> None:
        self.ctx = ctx
        self.record_recipients = record_recipients   # mobile.workflow.recipients: before the close
        self._step = ctx.state.step
        ctx.state.listeners.append(self._step_changed)

    def _step_changed(self, state: WorkflowState) -> None:
        """Staff read and correct the summary before the close: the report's builder starts meanwhile."""
        if state.step == "summary" and self._step != "summary":
            renderer_of(self.ctx.store).prepare()
        self._step = state.step

    def draft_summary(self) -> str:
        """A first text of the summary for the patient's own doctor: reason, labelled measurements with their
        device and its warnings, NEWS2 with its band and any call to the 15, conclusions, orientation,
        prescriptions. Always French (mobile.workflow.record_fr). Staff read it, correct it, and it is theirs."""
        ctx = self.ctx
        session_id = ctx.require_session()
        session = ctx.store.get_session(session_id)
        lines = [f"Téléconsultation assistée du {ctx.clock().astimezone().strftime('%d/%m/%Y')}"
                 + (f" avec {session['remote_doctor_name']}" if session.get("remote_doctor_name") else "") + "."]
        if session.get("reason"):
            lines.append(f"Motif : {session['reason']}.")
        values = measurement_lines(ctx.state.accepted.values())
        if values:
            lines += ["Mesures :", *values]
        by_hand = by_hand_fr(ctx.state.vitals)
        if by_hand:
            lines.append("Relevé par le soignant : " + ", ".join(by_hand) + ".")
        if ctx.state.news2 is not None:
            lines += news2_fr(ctx.state.news2)
        notes = ctx.store.notes(session_id)
        lines += [n["text"] for n in notes if n["kind"] == "emergency_call"]
        for note in notes:
            if note["kind"] != "emergency_call":
                lines.append(f"{NOTE_LABELS_FR.get(note['kind'], 'Note')} : {note['text']}")
        return "\n".join(lines)

    def close(self, *, summary: str, recipient_name: str | None = None, gp: dict[str, Any] | None = None) -> str:
        """Save the summary for the patient's own doctor, record who receives the report by secure mail (`gp`:
        {name, address, rpps?} of the médecin traitant, remembered for the patient, or None when none is known;
        the patient's Mon espace santé box when the rule allows) and close the session: it is locked from then on
        (later remarks are addenda) and queued for upload in the same transaction. Returns the session id."""
        ctx = self.ctx
        session_id = ctx.require_session()
        if ctx.state.step != "summary":
            raise WorkflowError("session.finish_call_first")
        if not (summary or "").strip():
            raise WorkflowError("summary.missing", "summary")
        name = (gp or {}).get("name") or recipient_name
        try:
            ctx.store.set_summary(session_id, text=summary.strip(), recipient_name=(name or "").strip() or None)
            self.record_recipients(session_id, gp)
            sync_closing.close_session(ctx.store, session_id, require_complete=True)
        except (ValueError, SessionStateError) as exc:  # the store's guards (consent, measurements)
            raise WorkflowError.refused_by_store(exc) from exc
        ctx.claims.release_session(session_id)
        ctx.changed(step="saved", saved_session_id=session_id, session_id=None, session_ready=False)
        ctx.on_saved(session_id)
        return session_id

    def add_addendum(self, session_id: str, text: str) -> str:
        """A later remark on a closed session (the session itself never changes)."""
        staff = self.ctx.require_staff()
        try:
            return sync_closing.add_addendum(self.ctx.store, session_id, staff_id=staff["id"], text=text)
        except (ValueError, SessionStateError) as exc:
            raise WorkflowError.refused_by_store(exc) from exc

    def sync_state(self, session_id: str | None = None) -> str | None:
        sid = session_id or self.ctx.state.saved_session_id
        if not sid:
            return None
        try:
            return self.ctx.store.session_sync_state(sid)
        except NotFoundError:  # confirmed by the server, then purged from the tablet (sync.retention)
            return "sent"
