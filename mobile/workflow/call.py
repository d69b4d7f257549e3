"""The teleconsultation itself: the remote doctor answers (the call's time starts; the session so far goes to the
server with the request, sync.live), then the doctor's conclusions, the orientation and the prescriptions go into
the session, and the call ends. Or staff ask for advice without a call (téléexpertise): the request goes, and the
session stays open, waiting for the doctor's answer, parked on the patient list until staff resume it.

Two ways the conclusions come in: the doctor signed them in their own application and the tablet received them
(`received_conclusions`, `accept_conclusions`: stored unchanged, the doctor's own words), or staff type what the
doctor says (`end_call`: stored as transcribed by the staff member). Accepting also answers an advice request."""
from __future__ import annotations

import logging
from typing import Any, Callable

from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import WorkflowError
from sync import answers
from sync.errors import RelaisError
from sync.fhir.exchange import ORIENTATIONS_FR
from sync.store import SessionStateError

log = logging.getLogger(__name__)


class CallStep:
    def __init__(self, ctx: WorkflowContext, draft_summary: Callable[[], str]) -> None:
        self.ctx = ctx
        self._draft_summary = draft_summary

    def start_call(self, *, doctor_name: str, doctor_rpps: str | None = None) -> None:
        """The remote doctor answered: the call's time starts (shown as a timer)."""
        ctx = self.ctx
        session_id = ctx.require_session()
        if ctx.state.step != "teleconsult":
            raise WorkflowError("session.finish_measurements_first")
        if not (doctor_name or "").strip():
            raise WorkflowError("call.doctor_name_missing", "doctor_name")
        now = ctx.clock()
        try:
            ctx.store.update_session(session_id, started_at=now.isoformat(), remote_doctor_name=doctor_name.strip(),
                                     remote_doctor_rpps=(doctor_rpps or "").strip() or None)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        try:  # the doctor is on the line: the call never waits for the request (sent again with the next value)
            self._send_request(session_id, "teleconsultation")
        except WorkflowError as exc:
            log.warning("the request for the call was not queued (%s)", exc.code)
        ctx.changed(call_started_at=now, call_ended_at=None, doctor_name=doctor_name.strip(),
                    request_kind=ctx.state.request_kind or "teleconsultation")

    def request_advice(self) -> None:
        """Ask a remote doctor for advice without a call (téléexpertise): the session so far goes with the request;
        the session stays open and waits for the answer (staff may go back to the patient list, which marks it,
        and resume it later). Asking again sends no second request."""
        ctx = self.ctx
        session_id = ctx.require_session()
        if ctx.state.step != "teleconsult":
            raise WorkflowError("session.finish_measurements_first")
        if ctx.state.call_started_at is not None:
            raise WorkflowError("call.already_started")
        self._send_request(session_id, "teleexpertise")
        ctx.changed(request_kind=ctx.state.request_kind or "teleexpertise")

    def _send_request(self, session_id: str, kind: str) -> None:
        """The request (once per session: a second one only sends the session so far again), the sync loop woken
        so it reaches the server within seconds while online."""
        try:
            self.ctx.store.send_request(session_id, kind=kind)
        except (ValueError, RelaisError) as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        self.ctx.on_saved(session_id)

    def briefing(self) -> dict:
        """What staff read to the remote doctor: the reason, the values accepted (with their flags and source),
        what they assessed by hand, the NEWS2 score (its advice fitted to the site) and any call to the 15. Empty
        outside an open session."""
        state = self.ctx.state
        if state.session_id is None:
            return {}
        session = self.ctx.store.get_session(state.session_id)
        return {"reason": session.get("reason") or "", "accepted": dict(state.accepted),
                "vitals": dict(state.vitals), "news2": state.news2, "emergency_call": state.emergency_call,
                "site_kind": (state.site or {}).get("kind") or ""}

    def call_seconds(self) -> int:
        """The call's duration so far (or in all, once ended)."""
        state = self.ctx.state
        if state.call_started_at is None:
            return 0
        end = state.call_ended_at or self.ctx.clock()
        return max(0, int((end - state.call_started_at).total_seconds()))

    def end_call(self, *, conclusion: str, orientation: str | None = None, prescriptions: str | None = None,
                 orientation_detail: str | None = None) -> None:
        """The doctor's conclusions, the orientation and the prescriptions, as staff noted them; the call ends and
        the summary for the patient's own doctor is drafted from the whole session."""
        ctx = self.ctx
        session_id = ctx.require_session()
        if ctx.state.call_started_at is None:
            raise WorkflowError("call.start_first")
        if not (conclusion or "").strip():
            raise WorkflowError("call.conclusion_missing", "conclusion")
        if orientation is not None and orientation not in ORIENTATIONS_FR:
            raise WorkflowError("call.orientation_unknown", "orientation")
        now = ctx.clock()
        doctor = ctx.state.doctor_name
        # the doctor's words as the staff member typed them: marked transcribed, by whom
        typed = {"author": doctor, "staff_id": ctx.state.staff["id"], "written_by": "staff",
                 "author_rpps": ctx.store.get_session(session_id).get("remote_doctor_rpps")}
        try:
            ctx.store.update_session(session_id, ended_at=now.isoformat())
            ctx.store.add_note(session_id, kind="remote_doctor_conclusion", text=conclusion.strip(), **typed)
            if orientation:
                text = ORIENTATIONS_FR[orientation] + (f" — {orientation_detail.strip()}"
                                                       if (orientation_detail or "").strip() else "")
                ctx.store.add_note(session_id, kind="orientation", text=text, **typed)
            if (prescriptions or "").strip():
                ctx.store.add_note(session_id, kind="prescription", text=prescriptions.strip(), **typed)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        ctx.changed(call_ended_at=now, step="summary", summary_draft=self._draft_summary())

    def received_conclusions(self) -> dict[str, Any]:
        """What the remote doctor signed for the open session: `waiting` (received, not accepted yet: shown with
        its button) and `accepted` (taken into the session already); each a row of sync.store.conclusions or None.
        `newer`: a version came after the one accepted ("nouvelle version reçue"). Empty outside a session."""
        session_id = self.ctx.state.session_id
        if session_id is None:
            return {}
        waiting = self.ctx.store.waiting_conclusions(session_id)
        accepted = self.ctx.store.accepted_conclusions(session_id)
        return {"waiting": waiting, "accepted": accepted, "newer": bool(waiting and accepted)}

    def waiting_for_answer(self) -> bool:
        """Staff are waiting for the remote doctor's answer: the open session is on the teleconsultation step (a
        call going on, or an advice request sent for it), so the app asks the server every few seconds."""
        state = self.ctx.state
        asked = state.call_started_at is not None or state.request_kind == "teleexpertise"
        return state.session_id is not None and state.step == "teleconsult" and state.call_ended_at is None and asked

    def conclusions_arrived(self) -> None:
        """New conclusions were stored for a session (by the watch or the regular pull): the screens read again."""
        self.ctx.changed(answers_received=self.ctx.state.answers_received + 1)

    def accept_conclusions(self) -> None:
        """Take the doctor's conclusions as received into the session, unchanged and marked as the doctor's own
        (name and RPPS from their signed answer, who is then the session's remote doctor); the call ends if one
        was going on, and the summary is drafted as after `end_call`. Also for an advice request (no call)."""
        ctx = self.ctx
        session_id = ctx.require_session()
        staff = ctx.require_staff()
        if ctx.state.step not in ("teleconsult", "summary"):
            raise WorkflowError("session.finish_measurements_first")
        waiting = ctx.store.waiting_conclusions(session_id)
        if waiting is None:
            raise WorkflowError("call.no_conclusions")
        now = ctx.clock()
        ending = ctx.state.call_started_at is not None and ctx.state.call_ended_at is None
        try:
            answers.accept_conclusions(ctx.store, session_id, waiting["id"], staff_id=staff["id"])
            if ending:
                ctx.store.update_session(session_id, ended_at=now.isoformat())
        except (ValueError, SessionStateError) as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        ctx.changed(call_ended_at=now if ending else ctx.state.call_ended_at, doctor_name=waiting["doctor_name"],
                    step="summary", summary_draft=self._draft_summary())
