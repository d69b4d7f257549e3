"""The measure screen (the three device cards, the measurement running with what it waits for and for how long, its
cancellation, the values typed by hand) and the review of a proposed value (next device, finish, retake)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from kivy.clock import Clock
from kivy.properties import (BooleanProperty, DictProperty, ListProperty, NumericProperty, ObjectProperty,
                             StringProperty)

from mobile.screens.texts import KINDS
from mobile.screens.viewmodels.base import ScreenModel, attempt
from mobile.workflow import Proposal, WorkflowError, WorkflowState

log = logging.getLogger(__name__)

BUSY_STATES = ("scanning", "connecting", "measuring")


class MeasureModel(ScreenModel):
    device_state = StringProperty("idle")
    busy = BooleanProperty(False)        # a measurement is running
    live_values = ObjectProperty(())     # what the device shows while measuring: numbers and units
    error = ObjectProperty(None, allownone=True)         # why the measurement failed
    manual_mode = BooleanProperty(False)
    manual_error = ObjectProperty(None, allownone=True)
    save_error = ObjectProperty(None, allownone=True)
    selected_kind = StringProperty("thermometer")   # the device card chosen on the measure screen
    measuring_kind = StringProperty("")             # the device being read, while busy
    accepted = DictProperty({})                     # kind -> the values accepted this session
    has_accepted = BooleanProperty(False)
    failures = DictProperty({})                     # kind -> why its last attempt gave nothing (or was cancelled)
    elapsed = NumericProperty(0)                    # seconds spent in the device phase shown
    phase_limit = NumericProperty(0)                # how long that phase may wait (0: no limit shown)

    def __init__(self, workflow, **kwargs: Any) -> None:
        super().__init__(workflow, **kwargs)
        self._task: asyncio.Task | None = None
        self._ticker = None
        self._accepted_on_review: dict = {}
        self.ready: asyncio.Future | None = None   # the app sets it to the runtime's start: devices come up

    def on_state(self, state: WorkflowState) -> None:
        self.device_state = state.device_state
        self.busy = state.device_state in BUSY_STATES
        self.live_values = state.live_value or ()
        self.error = state.error
        self.measuring_kind = (state.measuring_kind or "") if self.busy else ""
        self.accepted = {kind: p.stored_values for kind, p in state.accepted.items()}
        self.has_accepted = bool(state.accepted)
        self.failures = state.failed_attempts()
        self.phase_limit = state.phase_limit or 0
        self._tick()

    def on_busy(self, _model, busy: bool) -> None:
        """While a device is read, the time spent waiting is counted on screen."""
        if busy and self._ticker is None:
            self._ticker = Clock.schedule_interval(self._tick, 0.25)
        elif not busy and self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _tick(self, *_args: Any) -> None:
        started = self.workflow.state.phase_started
        self.elapsed = int(self.workflow.context.monotonic() - started) if self.busy and started is not None else 0

    def on_step(self, step: str, previous: str) -> None:
        self.manual_mode, self.manual_error, self.save_error = False, None, None
        state = self.workflow.state
        if step == "measure" and previous in ("patient", "patient_form", "saved"):
            kinds = self.workflow.kinds
            self.selected_kind = "thermometer" if "thermometer" in kinds or not kinds else kinds[0]
        elif step == "review":
            self._accepted_on_review = dict(state.accepted)
        elif step == "measure" and previous == "review":
            kind = self.selected_kind
            if state.accepted.get(kind) is not None and state.accepted.get(kind) is not self._accepted_on_review.get(kind):
                following = self.workflow.unmeasured(after=kind, order=KINDS)  # "Next device": the next to measure
                if following:
                    self.selected_kind = following[0]

    def select_kind(self, kind: str) -> None:
        """A device card was tapped: show its instructions; an old error belongs to the previous device."""
        if self.busy or kind == self.selected_kind:
            return
        self.manual_mode, self.manual_error = False, None
        self._clear_last_attempt()
        self.error = None
        self.selected_kind = kind

    def _clear_last_attempt(self) -> None:
        """The screen's error panel or "cancelled" line belongs to the last attempt; its card keeps saying it."""
        state = self.workflow.state
        if state.step == "measure" and (state.error or state.device_state == "cancelled"):
            self.workflow.retake()

    def measure(self) -> None:
        if self.busy or (self._task is not None and not self._task.done()):
            return
        self.manual_mode, self.manual_error = False, None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.error("measure() needs the asyncio loop: run the app with async_run(async_lib='asyncio')")
            return
        self._task = loop.create_task(self._measure())

    async def _measure(self) -> None:
        if self.ready is not None and not self.ready.done():
            await asyncio.wait({self.ready})  # a tap in the first split second waits for the devices
        try:
            await self.workflow.measure(self.selected_kind)
        except WorkflowError as exc:
            self.error = exc
        except Exception:  # noqa: BLE001 - never let a device bug kill the UI; show it as a failure
            log.exception("measurement crashed")
            self.error = WorkflowError("measure.unexpected_error")
            self.device_state = "error"
            self.busy = False

    def cancel(self) -> None:
        """"Cancel the measurement": the reader stops and disconnects; the card says it was cancelled."""
        self.workflow.cancel_measurement()

    def show_manual(self) -> None:
        self.manual_mode, self.manual_error = True, None
        self._clear_last_attempt()  # the error panel gives way to the form

    def enter_manual(self, typed: dict[str, str]) -> bool:
        """The values typed for the selected device (field -> text)."""
        return attempt(self, "manual_error", lambda: self.workflow.enter_manual(self.selected_kind, typed))

    def finish_measurements(self) -> bool:
        return attempt(self, "save_error", self.workflow.finish_measurements)

    def cancel_tasks(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None


def device_label(proposal: Proposal) -> str:
    reading = proposal.reading
    if reading is None:
        return ""
    device = reading.device
    name = device.name or device.address
    return f"{name} ({device.model})" if device.model else name


class ReviewModel(ScreenModel):
    review_kind = StringProperty("thermometer")
    remaining = ListProperty([])         # the device kinds still to measure in this session, in the cards' order
    values = ObjectProperty(())          # the values on review: numbers and units, worded by the screen
    warnings = ListProperty([])          # warning codes
    source = StringProperty("")
    device_label = StringProperty("")
    measured_time = StringProperty("")
    save_error = ObjectProperty(None, allownone=True)
    usual = DictProperty({})             # LOINC code -> the resident's usual value (sync.store.history.Usual)
    _usual_for = None                    # the proposal the usual values were read for

    def on_state(self, state: WorkflowState) -> None:
        proposal = state.proposal
        if proposal is not None and proposal is not self._usual_for:
            self._usual_for = proposal
            self.usual = self.workflow.usual_values()
        if proposal is not None:
            self.values = proposal.stored_values
            self.warnings = list(proposal.warnings)
            self.source = proposal.source
            self.device_label = device_label(proposal)
            self.measured_time = proposal.measured_at.astimezone().strftime("%H:%M")
            self.review_kind = proposal.kind
            self.remaining = self.workflow.unmeasured(after=proposal.kind, order=KINDS)
        elif state.step != "saved":
            self.values, self.warnings, self.source, self.device_label, self.measured_time = (), [], "", "", ""
            self.remaining = []

    def on_step(self, step: str, previous: str) -> None:
        self.save_error = None

    def accept(self) -> None:
        """"Next device": keep the value on review and go back to the devices, the next one to measure chosen."""
        attempt(self, "save_error", self.workflow.accept)

    def retake(self) -> None:
        self.workflow.retake()

    def finish_measurements(self) -> bool:
        return attempt(self, "save_error", self.workflow.finish_measurements)
