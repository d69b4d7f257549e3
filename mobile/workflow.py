"""The assisted-teleconsultation session workflow, as plain Python (no Kivy): screens bind to it and stay thin.

Walking-skeleton scope: choose or create a patient → measure temperature with a thermometer → review the
proposed value (accept, retake, or enter it by hand) → save. Saving stores the measurement and closes the
session, which enqueues it in the outbox in the same transaction; sync then happens in the background.

Safety rules kept here, where they can be tested without a screen:
- a device error (NaN, NRes, ±INF) or an implausible value is never proposed as a reading;
- a reading is bound to the session it was started for: changing patient mid-measurement discards it;
- values keep the precision the device sent ("37.60" stays "37.60").
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Awaitable, Callable, Protocol

from devices.parsers.common import ParsedMeasurement
from devices.reading import DeviceReading
from devices.transport import TransportError
from mobile.vitals import Implausible, assess_blood_pressure, assess_pulse, assess_spo2, assess_temperature

log = logging.getLogger(__name__)

LOINC_BODY_TEMPERATURE = "8310-5"

REASONS_FR = {
    "NaN": "le thermomètre signale une mesure invalide",
    "NRes": "valeur hors de la plage mesurable du thermomètre",
    "+INF": "valeur au-dessus de la plage du thermomètre",
    "-INF": "valeur au-dessous de la plage du thermomètre",
    "reserved": "valeur réservée reçue : appareil défaillant",
}


class WorkflowError(Exception):
    """A step cannot proceed; `str(exc)` is a plain-French message for staff."""


class StoreLike(Protocol):
    def find_patients(self, query: str = "") -> list[dict[str, Any]]: ...
    def add_patient(self, **traits: Any) -> str: ...
    def get_patient(self, patient_id: str) -> dict[str, Any]: ...
    def open_session(self, patient_id: str, *, reason: str | None = None, staff: str | None = None) -> str: ...
    def add_measurement(self, session_id: str, **values: Any) -> str: ...
    def close_session(self, session_id: str) -> str: ...
    def session_sync_state(self, session_id: str) -> str: ...


ThermometerReader = Callable[[Callable[[str], None], Callable[[ParsedMeasurement], None]], Awaitable[DeviceReading]]


KINDS_FR = {"thermometer": "le thermomètre", "blood_pressure": "le tensiomètre", "oximeter": "l'oxymètre"}

# Device status bits (devices/parsers) that staff must hear about, in plain French.
STATUS_FR = {
    "body_movement": "Mouvement pendant la mesure : reprenez au repos.",
    "cuff_too_loose": "Brassard trop lâche : réajustez-le et reprenez.",
    "irregular_pulse": "Pouls irrégulier détecté par le tensiomètre.",
    "improper_position": "Position de mesure incorrecte (bras à hauteur du cœur).",
    "questionable": "Mesure douteuse selon l'oxymètre : vérifiez et reprenez si besoin.",
    "early_estimated": "Valeur provisoire de l'oxymètre.",
    "low_perfusion": "Perfusion faible : réchauffez la main ou changez de doigt.",
    "poor_signal": "Signal faible : vérifiez la position du capteur.",
    "erratic_signal": "Signal instable : gardez la main immobile.",
}


@dataclass(frozen=True)
class Proposal:
    """A value offered to staff for acceptance; bound to the session it was measured for."""

    session_id: str
    code: str
    value: Decimal
    unit: str
    source: str                      # "bluetooth" | "manual"
    measured_at: dt.datetime
    received_at: dt.datetime
    reading: DeviceReading | None = None
    warnings: tuple[str, ...] = ()
    kind: str = "thermometer"
    values: tuple[ProposedValue, ...] = ()  # every value to store; empty means just (code, value, unit)

    @property
    def stored_values(self) -> tuple[ProposedValue, ...]:
        return self.values or (ProposedValue("temperature", self.code, self.value, self.unit),)

    def get(self, field_name: str) -> ProposedValue | None:
        return next((v for v in self.stored_values if v.field == field_name), None)

    @property
    def display(self) -> str:
        if self.kind == "blood_pressure":
            sys_, dia = self.get("systolic"), self.get("diastolic")
            unit = "kPa" if sys_.unit == "kPa" else "mmHg"
            text = f"{_fr(sys_.value)}/{_fr(dia.value)}\u00a0{unit}"
        elif self.kind == "oximeter":
            text = f"SpO2 {_fr(self.get('spo2').value)}\u00a0%"
        else:
            return format_temperature(self.value, self.unit)
        pulse = self.get("pulse_rate")
        return f"{text} · pouls {_fr(pulse.value)}/min" if pulse else text


@dataclass(frozen=True)
class ProposedValue:
    field: str
    code: str
    value: Decimal
    unit: str


def _fr(value: Decimal) -> str:
    return str(value).replace(".", ",")


def format_temperature(value: Decimal, unit: str) -> str:
    """French display: decimal comma and a non-breaking space before the unit ("37,60 °C")."""
    symbol = "°F" if unit == "[degF]" else "°C"
    return f"{str(value).replace('.', ',')}\u00a0{symbol}"


def check_temperature(value: Decimal, unit: str) -> tuple[str, ...]:
    """Plausibility guard and alerts (mobile/vitals.py). Raises WorkflowError for implausible values;
    returns the warnings to show: values to verify, then clinical alerts."""
    try:
        assessment = assess_temperature(value, unit)
    except Implausible as exc:
        raise WorkflowError(str(exc)) from None
    return assessment.verify + assessment.alerts


def parse_manual_temperature(text: str) -> Decimal:
    """Staff type "37,6" or "37.6"; anything else is refused with a message."""
    cleaned = text.strip().replace(",", ".").removesuffix("°C").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise WorkflowError("Saisissez une température comme 37,6.") from None
    if not value.is_finite() or value.as_tuple().exponent < -2:
        raise WorkflowError("Saisissez une température comme 37,6 (deux décimales au plus).")
    return value


def _live_text(measurement: ParsedMeasurement) -> str | None:
    """What a live packet shows while measuring: temperature, cuff pressure, or SpO2 and pulse."""
    temp = measurement.observation("temperature")
    if temp is not None:
        return format_temperature(temp.value, temp.unit)
    cuff = measurement.observation("cuff_pressure")
    if cuff is not None:
        return f"Brassard {_fr(cuff.value)}\u00a0{'kPa' if cuff.unit == 'kPa' else 'mmHg'}"
    spo2, pulse = measurement.observation("spo2"), measurement.observation("pulse_rate")
    if spo2 is not None:
        return f"SpO2 {_fr(spo2.value)}\u00a0%" + (f" · pouls {_fr(pulse.value)}/min" if pulse else "")
    return None


@dataclass
class WorkflowState:
    step: str = "patient"            # patient → measure → review → saved
    patient: dict[str, Any] | None = None
    session_id: str | None = None
    device_state: str = "idle"       # idle, scanning, connecting, measuring, done, error
    live_value: str | None = None
    proposal: Proposal | None = None
    error: str | None = None
    saved_session_id: str | None = None
    accepted: dict[str, Proposal] = field(default_factory=dict)  # kind -> value accepted for this session
    measuring_kind: str | None = None
    listeners: list[Callable[["WorkflowState"], None]] = field(default_factory=list, repr=False)


class SessionWorkflow:
    def __init__(self, store: StoreLike, read_thermometer: ThermometerReader | None = None, *,
                 readers: dict[str, ThermometerReader] | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
                 on_saved: Callable[[str], None] | None = None) -> None:
        """`readers` maps a device kind (thermometer, blood_pressure, oximeter) to a coroutine function
        (on_state, on_live) -> DeviceReading; `read_thermometer` is the thermometer's, kept for brevity."""
        self.store = store
        self._readers = {**({"thermometer": read_thermometer} if read_thermometer else {}), **(readers or {})}
        self._clock = clock
        self._on_saved = on_saved or (lambda _sid: None)
        self.state = WorkflowState()
        self._measure_task: asyncio.Task[Any] | None = None

    # -- observation ------------------------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[WorkflowState], None]) -> None:
        self.state.listeners.append(listener)
        listener(self.state)

    def _changed(self, **updates: Any) -> None:
        for key, value in updates.items():
            setattr(self.state, key, value)
        for listener in list(self.state.listeners):
            listener(self.state)

    # -- patient ----------------------------------------------------------------------------------------------
    def patients(self, query: str = "") -> list[dict[str, Any]]:
        return self.store.find_patients(query)

    def create_patient(self, **traits: Any) -> str:
        """Create and select a patient. Identity errors surface as WorkflowError with the store's message."""
        try:
            patient_id = self.store.add_patient(**traits)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc
        self.select_patient(patient_id)
        return patient_id

    def select_patient(self, patient_id: str) -> None:
        """Start a new session for this patient. Any measurement in progress is abandoned, never re-attached."""
        self._cancel_measurement()
        patient = self.store.get_patient(patient_id)
        session_id = self.store.open_session(patient_id)
        self._changed(step="measure", patient=patient, session_id=session_id, proposal=None, error=None,
                      live_value=None, device_state="idle", saved_session_id=None, accepted={},
                      measuring_kind=None)

    # -- measurement ------------------------------------------------------------------------------------------
    @property
    def kinds(self) -> tuple[str, ...]:
        """The device kinds this tablet can read."""
        return tuple(self._readers)

    async def measure_temperature(self) -> Proposal | None:
        return await self.measure("thermometer")

    async def measure(self, kind: str) -> Proposal | None:
        """Read a device of this kind and propose its values. Returns None (with `state.error` set) when the
        device failed or sent no usable value."""
        if self.state.session_id is None:
            raise WorkflowError("Choisissez d'abord le patient.")
        if kind not in self._readers:
            raise WorkflowError(f"Aucun appareil de ce type n'est configuré ({kind}).")
        session_id = self.state.session_id
        self._changed(step="measure", proposal=None, error=None, live_value=None, device_state="scanning",
                      measuring_kind=kind)

        def on_state(device_state: str) -> None:
            if self.state.session_id == session_id:
                self._changed(device_state=device_state)

        def on_live(measurement: ParsedMeasurement) -> None:
            if self.state.session_id == session_id:
                live = _live_text(measurement)
                if live:
                    self._changed(live_value=live)

        self._measure_task = asyncio.ensure_future(self._readers[kind](on_state, on_live))
        try:
            reading = await self._measure_task
        except asyncio.CancelledError:
            return None
        except TransportError as exc:
            log.info("%s read failed: %s", kind, type(exc).__name__)
            self._fail(session_id, f"Mesure impossible : {exc}. Vérifiez que {KINDS_FR.get(kind, kind)} est "
                                   "allumé et proche, puis reprenez, ou saisissez la valeur à la main.")
            return None
        finally:
            self._measure_task = None
        if self.state.session_id != session_id:
            log.info("reading discarded: the session changed during the measurement")
            return None
        if kind == "thermometer":
            return self._propose_reading(session_id, reading)
        return self._propose_vitals(session_id, kind, reading)

    def _propose_vitals(self, session_id: str, kind: str, reading: DeviceReading) -> Proposal | None:
        """Blood pressure and oximetry: every needed value valid, plausible, with status flags as warnings."""
        m = reading.measurement
        if m.details.get("device_error"):
            self._fail(session_id, str(m.details.get("message") or "L'appareil signale une erreur de mesure."))
            return None
        needed = ("systolic", "diastolic") if kind == "blood_pressure" else ("spo2", "pulse_rate")
        bad = [i for i in m.invalid if i.field in needed]
        if bad or any(m.observation(f) is None for f in needed):
            reason = REASONS_FR.get(bad[0].reason if bad else "NaN", "mesure invalide").replace("le thermomètre",
                                                                                              KINDS_FR[kind])
            self._fail(session_id, f"Erreur de l'appareil : {reason}. Reprenez la mesure.")
            return None
        fields = ("systolic", "diastolic", "mean_arterial_pressure", "pulse_rate") if kind == "blood_pressure" \
            else ("spo2", "pulse_rate")
        values = tuple(ProposedValue(o.field, o.code, o.value, o.unit)
                       for f in fields if (o := m.observation(f)) is not None)
        try:
            found = {v.field: v for v in values}
            if kind == "blood_pressure":
                sys_, dia = found["systolic"], found["diastolic"]
                checks = [assess_blood_pressure(sys_.value, dia.value, sys_.unit)]
            else:
                checks = [assess_spo2(found["spo2"].value)]
            if "pulse_rate" in found:
                checks.append(assess_pulse(found["pulse_rate"].value))
        except Implausible as exc:
            self._fail(session_id, str(exc))
            return None
        warnings = tuple(w for c in checks for w in c.verify) + tuple(w for c in checks for w in c.alerts) + \
            tuple(STATUS_FR[s] for s in m.status if s in STATUS_FR)
        primary = values[0]
        proposal = Proposal(session_id=session_id, code=primary.code, value=primary.value, unit=primary.unit,
                            source="bluetooth", measured_at=self._measured_at(reading),
                            received_at=reading.received_at, reading=reading, warnings=warnings, kind=kind,
                            values=values)
        self._changed(step="review", proposal=proposal, device_state="done", error=None)
        return proposal

    def _propose_reading(self, session_id: str, reading: DeviceReading) -> Proposal | None:
        measurement = reading.measurement
        invalid = next((i for i in measurement.invalid if i.field == "temperature"), None)
        obs = measurement.observation("temperature")
        if invalid is not None or obs is None:
            reason = REASONS_FR.get(invalid.reason if invalid else "NaN", "mesure invalide")
            self._fail(session_id, f"Erreur de l'appareil : {reason}. Reprenez la mesure.")
            return None
        try:
            warnings = check_temperature(obs.value, obs.unit)
        except WorkflowError as exc:
            self._fail(session_id, str(exc))
            return None
        proposal = Proposal(session_id=session_id, code=obs.code, value=obs.value, unit=obs.unit,
                            source="bluetooth", measured_at=self._measured_at(reading),
                            received_at=reading.received_at, reading=reading, warnings=warnings)
        self._changed(step="review", proposal=proposal, device_state="done", error=None)
        return proposal

    def enter_manual_temperature(self, text: str) -> Proposal:
        """Fallback when no device works: the value is typed and marked as manual."""
        if self.state.session_id is None:
            raise WorkflowError("Choisissez d'abord le patient.")
        value = parse_manual_temperature(text)
        warnings = check_temperature(value, "Cel")
        now = self._clock()
        proposal = Proposal(session_id=self.state.session_id, code=LOINC_BODY_TEMPERATURE, value=value,
                            unit="Cel", source="manual", measured_at=now, received_at=now, warnings=warnings)
        self._cancel_measurement()
        self._changed(step="review", proposal=proposal, error=None, device_state="idle")
        return proposal

    def retake(self) -> None:
        self._changed(step="measure", proposal=None, error=None, live_value=None, device_state="idle")

    def _fail(self, session_id: str, message: str) -> None:
        if self.state.session_id == session_id:
            self._changed(step="measure", proposal=None, device_state="error", error=message)

    def _cancel_measurement(self) -> None:
        if self._measure_task is not None and not self._measure_task.done():
            self._measure_task.cancel()
        self._measure_task = None

    def _measured_at(self, reading: DeviceReading) -> dt.datetime:
        """The device's own time stamp when it is complete and agrees with the tablet within 10 minutes
        (device clocks reset on battery change); otherwise the time the tablet received the value."""
        stamp = reading.measurement.timestamp
        local = stamp.to_datetime() if stamp else None
        if local is not None:
            aware = local.astimezone()  # device-local wall time: interpret in the tablet's zone
            if abs(aware - reading.received_at) <= dt.timedelta(minutes=10):
                return aware
        return reading.received_at

    # -- save -------------------------------------------------------------------------------------------------
    def accept(self) -> None:
        """Keep the proposed value for this session and go back to choose the next device."""
        proposal, session_id = self.state.proposal, self.state.session_id
        if proposal is None or session_id is None:
            raise WorkflowError("Aucune mesure à valider.")
        if proposal.session_id != session_id:
            raise WorkflowError("Cette mesure appartient à une autre séance : reprenez la mesure.")
        accepted = {**self.state.accepted, proposal.kind: proposal}
        self._changed(step="measure", accepted=accepted, proposal=None, live_value=None, device_state="idle",
                      measuring_kind=None)

    def save(self) -> str:
        """Store every accepted value (and the one on review) and close the session, which queues it for upload
        in the same transaction. Returns the session id."""
        if self.state.proposal is not None:
            self.accept()
        session_id = self.state.session_id
        if session_id is None or not self.state.accepted:
            raise WorkflowError("Aucune mesure à enregistrer.")
        for proposal in self.state.accepted.values():
            self._store(session_id, proposal)
        self.store.close_session(session_id)
        self._changed(step="saved", saved_session_id=session_id, session_id=None)
        self._on_saved(session_id)
        return session_id

    def _store(self, session_id: str, proposal: Proposal) -> None:
        reading = proposal.reading
        status = list(reading.measurement.status) if reading else []
        if reading and reading.measurement.details.get("temperature_type"):
            status.append(f"site:{reading.measurement.details['temperature_type']}")
        panel_id = str(uuid.uuid4()) if proposal.kind == "blood_pressure" else None
        for value in proposal.stored_values:
            in_panel = panel_id if value.field in ("systolic", "diastolic", "mean_arterial_pressure") else None
            extra = {"panel_id": in_panel} if in_panel else {}
            self.store.add_measurement(
                session_id, code=value.code, value=str(value.value), unit=value.unit, source=proposal.source,
                device=reading.device.as_dict() if reading else None, raw=reading.raw if reading else None,
                status=status, measured_at=proposal.measured_at.isoformat(),
                received_at=proposal.received_at.isoformat(), **extra)

    def new_session(self) -> None:
        """Back to the patient list for the next resident."""
        self._cancel_measurement()
        self._changed(step="patient", patient=None, session_id=None, proposal=None, error=None, live_value=None,
                      device_state="idle", accepted={}, measuring_kind=None)

    def sync_state(self, session_id: str | None = None) -> str | None:
        sid = session_id or self.state.saved_session_id
        return self.store.session_sync_state(sid) if sid else None
