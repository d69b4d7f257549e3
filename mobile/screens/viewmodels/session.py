"""The steps around the measurements: session start (reason, consent, checklist), what staff assess by hand with the
NEWS2 score, the call with the remote doctor (its timer), and the summary that closes the session."""
from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, DictProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty

from mobile.screens import news2_texts
from mobile.screens.texts import KINDS
from mobile.screens.viewmodels.base import ScreenModel, attempt, clock_text
from sync.clinical.news2 import News2
from mobile.workflow import WorkflowState


class SessionStartModel(ScreenModel):
    error = ObjectProperty(None, allownone=True)
    asks_mes = BooleanProperty(False)   # the Mon espace santé question, for a qualified identity only

    def on_state(self, state: WorkflowState) -> None:
        self.asks_mes = state.step == "session_start" and self.workflow.asks_mes()

    def on_step(self, step: str, previous: str) -> None:
        self.error = None

    def start_session(self, **values: Any) -> bool:
        return attempt(self, "error", lambda: self.workflow.start_session(**values))

    def abandon(self) -> None:
        attempt(self, "error", self.workflow.abandon)


class VitalsModel(ScreenModel):
    error = ObjectProperty(None, allownone=True)
    news2_rows = ListProperty([])        # [(parameter, points)] in chart order
    news2_total = NumericProperty(0)
    news2_risk = StringProperty("incomplete")   # an RCP 2017 band, or "incomplete" (sync.clinical.news2)
    news2_missing = ListProperty([])
    news2_scale = NumericProperty(1)     # SpO2 scale 2 when a 88–92 % target was prescribed
    site_kind = StringProperty("")       # "ehpad" or "pharmacie": the wording of the advice
    call_15_time = StringProperty("")    # HH:MM once staff recorded the call to the 15, else ""
    call_15_by = StringProperty("")
    today = ListProperty([])             # the values accepted this session, per device (cards' order)
    usual = DictProperty({})             # LOINC code -> the resident's usual value (sync.store.history.Usual)
    _previewed = False

    def on_state(self, state: WorkflowState) -> None:
        self.site_kind = (state.site or {}).get("kind") or ""
        self.today = [state.accepted[kind].stored_values for kind in KINDS if kind in state.accepted]
        call = state.emergency_call
        self.call_15_time = f"{call['at'].astimezone():%H:%M}" if call else ""
        self.call_15_by = call["by"] if call else ""
        # what staff are typing outranks the score of the devices alone (recording the 15 call changes the state)
        if state.news2 is not None and not (state.step == "vitals" and self._previewed):
            self._show(state.news2)

    def on_step(self, step: str, previous: str) -> None:
        self.error = None
        self._previewed = False
        if step == "vitals":
            self.usual = self.workflow.usual_values()

    def open_history(self) -> bool:
        """The resident's trends; back to these vitals as they were typed."""
        return attempt(self, "error", self.workflow.open_history)

    def _show(self, score: News2) -> None:
        self.news2_rows = [(name, score.parameters[name]) for name in news2_texts.NEWS2_ORDER
                           if name in score.parameters]
        self.news2_total, self.news2_risk, self.news2_missing = score.score, score.risk, list(score.missing)
        self.news2_scale = score.spo2_scale

    def preview_vitals(self, **values: Any) -> None:
        scores: list[News2] = []
        if attempt(self, "error", lambda: scores.append(self.workflow.preview_news2(**values))):
            self._previewed = True
            self._show(scores[0])

    def record_emergency_call(self) -> bool:
        return attempt(self, "error", self.workflow.record_emergency_call)

    def confirm_vitals(self, **values: Any) -> bool:
        return attempt(self, "error", lambda: self.workflow.confirm_vitals(**values))


class TeleconsultModel(ScreenModel):
    error = ObjectProperty(None, allownone=True)
    call_running = BooleanProperty(False)
    call_time = StringProperty("00:00")
    doctor_name = StringProperty("")
    briefing = ObjectProperty(None, allownone=True)   # what staff read to the doctor (workflow.briefing)
    call_notes = DictProperty({})                     # what was typed during the call, kept with the session
    advice_requested = BooleanProperty(False)         # advice asked without a call: the session waits for it
    confirming_advice = BooleanProperty(False)        # staff read what asking for advice does, before it goes
    answer = ObjectProperty(None, allownone=True)     # the doctor's conclusions received, waiting for staff
    answer_newer = BooleanProperty(False)             # received after an earlier version was taken

    def on_state(self, state: WorkflowState) -> None:
        self.call_running = state.call_started_at is not None and state.call_ended_at is None
        self.doctor_name = state.doctor_name or ""
        self.advice_requested = state.request_kind == "teleexpertise" and state.call_started_at is None
        self.call_notes = dict(state.call_notes)
        if state.step == "teleconsult" and state.session_id is not None:
            self.briefing = self.workflow.briefing()
            received = self.workflow.received_conclusions()
            self.answer, self.answer_newer = received.get("waiting"), bool(received.get("newer"))
        else:
            self.answer, self.answer_newer = None, False
        self.tick()

    def on_step(self, step: str, previous: str) -> None:
        self.error = None
        self.confirming_advice = False

    def ask_advice(self, confirmed: bool | None = None) -> bool:
        """Advice without a call: first what it does is shown (`confirmed` None), then it is sent (True) or not."""
        if confirmed is None:
            self.confirming_advice = True
            return True
        self.confirming_advice = False
        return attempt(self, "error", self.workflow.request_advice) if confirmed else True

    def back_to_list(self) -> None:
        """The session stays open, waiting for the doctor's advice; the patient list marks it."""
        self.workflow.leave_session()

    def keep_note(self, key: str, text: str, *, save: bool = False) -> None:
        """A field of the call changed (or was left: `save`): the text stays with the session."""
        if self.workflow.state.step == "teleconsult" and self.workflow.state.session_id is not None:
            self.workflow.keep_call_notes(save=save, **{key: text})

    def tick(self) -> None:
        """Once a second: the call's timer."""
        self.call_time = clock_text(self.workflow.call_seconds())

    def start_call(self, doctor_name: str, doctor_rpps: str = "") -> bool:
        started = attempt(self, "error", lambda: self.workflow.start_call(doctor_name=doctor_name,
                                                                         doctor_rpps=doctor_rpps or None))
        if started:
            self.tick()
        return started

    def end_call(self, **values: Any) -> bool:
        return attempt(self, "error", lambda: self.workflow.end_call(**values))

    def accept_conclusions(self) -> bool:
        """The doctor's conclusions as received go into the session unchanged; on to the summary."""
        return attempt(self, "error", self.workflow.accept_conclusions)
