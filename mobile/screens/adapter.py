"""The thin layer between the plain-Python workflow and the kv rules.

:class:`WorkflowAdapter` mirrors ``SessionWorkflow.state`` into Kivy properties (``workflow.subscribe``) and
forwards taps to the workflow, turning ``WorkflowError`` into a message property. :class:`SyncMonitor` polls the
outbox counts and the just-saved session's sync state once a second. No domain rule lives here.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, DictProperty, ListProperty, NumericProperty, StringProperty

from mobile.screens import texts
from mobile.workflow import SessionWorkflow, WorkflowError, WorkflowState

log = logging.getLogger(__name__)


class WorkflowAdapter(EventDispatcher):
    step = StringProperty("patient")
    # patient list and form
    query = StringProperty("")
    patients = ListProperty([])          # RecycleView data: one dict per resident
    form_error = StringProperty("")
    # the selected patient (banner)
    has_patient = BooleanProperty(False)
    patient_id = StringProperty("")
    patient_name = StringProperty("")
    patient_sex = StringProperty("")
    patient_birth_date = StringProperty("")
    patient_insee = StringProperty("")
    patient_status = StringProperty("")
    # measurement
    device_state = StringProperty("idle")
    busy = BooleanProperty(False)        # a measurement is running
    live_value = StringProperty("")
    error = StringProperty("")
    manual_mode = BooleanProperty(False)
    manual_error = StringProperty("")
    selected_kind = StringProperty("thermometer")   # the device card chosen on the measure screen
    measuring_kind = StringProperty("")             # the device being read, while busy
    accepted = DictProperty({})                     # kind -> display of the value accepted this session
    has_accepted = BooleanProperty(False)
    # review
    review_kind = StringProperty("thermometer")
    value_text = StringProperty("")
    warnings = ListProperty([])
    source = StringProperty("")
    device_label = StringProperty("")
    measured_time = StringProperty("")
    save_error = StringProperty("")
    # saved
    saved_session_id = StringProperty("")
    saved_value = StringProperty("")
    saved_values = ListProperty([])      # [(kind, display)] in the cards' order

    def __init__(self, workflow: SessionWorkflow, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workflow = workflow
        self._task: asyncio.Task | None = None
        self.ready: asyncio.Future | None = None   # the app sets it to the runtime's start: devices come up
        workflow.subscribe(self._on_state)

    # -- workflow → properties ---------------------------------------------------------------------------------
    def _on_state(self, state: WorkflowState) -> None:
        patient = state.patient or {}
        self.has_patient = bool(state.patient)
        self.patient_id = str(patient.get("id") or "")
        self.patient_name = texts.display_name(patient.get("family_name"), patient.get("given_name"))
        self.patient_sex = patient.get("sex") or ""
        self.patient_birth_date = patient.get("birth_date") or ""
        self.patient_insee = patient.get("birth_place_insee") or ""
        self.patient_status = patient.get("identity_status") or ""
        self.device_state = state.device_state
        self.busy = state.device_state in ("scanning", "connecting", "measuring")
        self.live_value = state.live_value or ""
        self.error = state.error or ""
        self.measuring_kind = (state.measuring_kind or "") if self.busy else ""
        self.accepted = {kind: p.display for kind, p in state.accepted.items()}
        self.has_accepted = bool(state.accepted)
        if state.step == "saved":
            self.saved_values = [(kind, self.accepted[kind]) for kind in texts.KINDS if kind in self.accepted] + \
                [(kind, text) for kind, text in self.accepted.items() if kind not in texts.KINDS]
        proposal = state.proposal
        if proposal is not None:
            self.value_text = proposal.display
            self.warnings = list(proposal.warnings)
            self.source = proposal.source
            self.device_label = self._device_label(proposal)
            self.measured_time = proposal.measured_at.astimezone().strftime("%H:%M")
            self.saved_value = proposal.display
            self.review_kind = proposal.kind
        elif state.step != "saved":
            self.value_text, self.warnings, self.source, self.device_label, self.measured_time = "", [], "", "", ""
        self.saved_session_id = state.saved_session_id or ""
        if state.step != self.step:
            self.manual_mode, self.manual_error, self.save_error = False, "", ""
            if state.step == "patient":
                self.refresh_patients()
            if state.step == "measure" and self.step in ("patient", "patient_form", "saved"):
                self.selected_kind = "thermometer" if "thermometer" in self.workflow.kinds or \
                    not self.workflow.kinds else self.workflow.kinds[0]
        self.step = state.step

    @staticmethod
    def _device_label(proposal) -> str:
        reading = proposal.reading
        if reading is None:
            return ""
        device = reading.device
        name = device.name or device.address
        return f"{name} ({device.model})" if device.model else name

    # -- patient ----------------------------------------------------------------------------------------------
    def search(self, text: str) -> None:
        self.query = text
        self.refresh_patients()

    def refresh_patients(self) -> None:
        rows = self.workflow.patients(self.query.strip())  # the store matches dd/mm/yyyy and name prefixes
        self.patients = [{
            "patient_id": str(p["id"]),
            "name": texts.display_name(p.get("family_name"), p.get("given_name")),
            "sex": p.get("sex") or "",
            "birth_date": p.get("birth_date") or "",
            "insee": p.get("birth_place_insee") or "",
            "status": p.get("identity_status") or "",
            "wf": self,
        } for p in rows]

    def select_patient(self, patient_id: str) -> None:
        self.workflow.select_patient(patient_id)

    def create_patient(self, *, family_name: str, given_name: str, birth_date: str, sex: str,
                       birth_place_insee: str, identity_status: str) -> bool:
        """The form's submit. Returns True when the patient was created (and selected)."""
        self.form_error = ""
        try:
            iso = texts.parse_date(birth_date)
            self.workflow.create_patient(family_name=family_name.strip(), given_name=given_name.strip(),
                                         birth_date=iso, sex=sex, birth_place_insee=birth_place_insee.strip(),
                                         identity_status=identity_status)
        except WorkflowError as exc:
            self.form_error = str(exc)
            return False
        return True

    def change_patient(self) -> None:
        self.workflow.new_session()

    # -- measurement ------------------------------------------------------------------------------------------
    def select_kind(self, kind: str) -> None:
        """A device card was tapped: show its instructions; an old error belongs to the previous device."""
        if self.busy or kind == self.selected_kind:
            return
        self.manual_mode, self.manual_error = False, ""
        if self.workflow.state.error and self.workflow.state.step == "measure":
            self.workflow.retake()
        self.error = ""
        self.selected_kind = kind

    def measure(self) -> None:
        if self.busy or (self._task is not None and not self._task.done()):
            return
        self.manual_mode, self.manual_error = False, ""
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
            self.error = str(exc)
        except Exception:  # noqa: BLE001 - never let a device bug kill the UI; show it as a failure
            log.exception("measurement crashed")
            self.error = "Mesure impossible : erreur inattendue. Reprenez, ou saisissez la valeur à la main."
            self.device_state = "error"
            self.busy = False

    def show_manual(self) -> None:
        self.manual_mode, self.manual_error = True, ""

    def enter_manual(self, text: str) -> bool:
        self.manual_error = ""
        try:
            self.workflow.enter_manual_temperature(text)
        except WorkflowError as exc:
            self.manual_error = str(exc)
            return False
        return True

    def retake(self) -> None:
        self.workflow.retake()

    def accept(self) -> None:
        """Keep the value on review and go back to the devices."""
        self.save_error = ""
        try:
            self.workflow.accept()
        except WorkflowError as exc:
            self.save_error = str(exc)

    def save(self) -> str | None:
        self.save_error = ""
        try:
            return self.workflow.save()
        except WorkflowError as exc:
            self.save_error = str(exc)
            return None

    def next_patient(self) -> None:
        self.query = ""
        self.workflow.new_session()

    def cancel_tasks(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None


class SyncMonitor(EventDispatcher):
    """Outbox counts and the last saved session's state, polled from the runtime every `interval` seconds."""

    waiting = NumericProperty(0)      # pending + in flight
    rejected = NumericProperty(0)
    sent = NumericProperty(0)
    session_state = StringProperty("")
    level = StringProperty("ok")      # ok | pending | rejected
    simulated = BooleanProperty(False)

    def __init__(self, runtime: Any, interval: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.interval = interval
        self._event = None
        self._failed = False
        config = getattr(runtime, "config", None)
        self.simulated = bool(getattr(config, "simulated_devices", False))

    def start(self) -> None:
        self.refresh()
        if self._event is None:
            self._event = Clock.schedule_interval(self.refresh, self.interval)

    def stop(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def refresh(self, *_args: Any) -> None:
        try:
            counts = self.runtime.sync_counts()
            state = self.runtime.workflow.sync_state() or ""
        except Exception:  # noqa: BLE001 - the indicator must never crash the app
            if not self._failed:
                log.exception("sync indicator: cannot read the outbox")
            self._failed = True
            return
        self._failed = False
        self.waiting = int(counts.get("pending", 0)) + int(counts.get("in_flight", 0))
        self.rejected = int(counts.get("rejected", 0))
        self.sent = int(counts.get("sent", 0))
        self.session_state = state
        self.level = texts.sync_level(self.waiting, self.rejected)
