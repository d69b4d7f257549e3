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
import re
import time
import uuid
from pathlib import Path
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Awaitable, Callable, Protocol

from devices.parsers.common import ParsedMeasurement
from devices.reading import DeviceReading
from devices.transport import TransportError
from sync.store import NotFoundError, PinLockedError, SessionStateError, fold, hash_pin
from mobile.vitals import (ACVPU, Implausible, News2, assess_blood_pressure, assess_pulse, assess_spo2,
                           assess_temperature, news2, respiration_rate_from_text)

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


def _iso_birth_date(text: str) -> str | None:
    """"02/04/1938", "02041938" or "1938-04-02" → "1938-04-02"; None when it is none of those."""
    text = (text or "").strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text
    match = re.fullmatch(r"(\d{2})/?(\d{2})/?(\d{4})", text)
    return f"{match.group(3)}-{match.group(2)}-{match.group(1)}" if match else None


LOW_BATTERY_PERCENT = 15


def _battery_warning(reading: DeviceReading) -> tuple[str, ...]:
    """The device's battery level (Battery Service 0x2A19) when it is low: the next measurement may fail."""
    level = reading.battery_percent
    if level is not None and level <= LOW_BATTERY_PERCENT:
        return ("Pile faible : changez les piles de l'appareil après cette mesure.",)
    return ()


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


STEPS = ("signin", "site_setup", "patient", "session_start", "measure", "review", "vitals", "teleconsult",
         "summary", "saved", "admin")

ORIENTATIONS_FR = {
    "stay": "Maintien sur place avec surveillance",
    "gp": "Consultation du médecin traitant",
    "specialist": "Avis spécialisé",
    "emergency": "Urgences / SAMU (15)",
    "hospital": "Hospitalisation programmée",
}


class DuplicateWarning(WorkflowError):
    """Probable duplicates of a new identity: staff choose one of `candidates` or create anyway."""

    def __init__(self, candidates: list[dict[str, Any]]) -> None:
        self.candidates = candidates
        super().__init__("Cette personne existe peut-être déjà : vérifiez la liste avant de créer une nouvelle "
                         "identité.")


class DeviceClaims:
    """Which open session each device (by Bluetooth address) is serving on this tablet: one device, one patient.
    Shared by every workflow of the app (the runtime owns it)."""

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}

    def holder(self, address: str) -> str | None:
        return self._holders.get(address)

    def claim(self, address: str, session_id: str) -> None:
        held = self._holders.get(address)
        if held is not None and held != session_id:
            raise WorkflowError("Cet appareil sert déjà une autre séance ouverte sur cette tablette : terminez-la "
                                "ou utilisez un autre appareil.")
        self._holders[address] = session_id

    def release_session(self, session_id: str) -> None:
        for address in [a for a, held in self._holders.items() if held == session_id]:
            del self._holders[address]


@dataclass
class WorkflowState:
    step: str = "signin"             # see STEPS
    staff: dict[str, Any] | None = None   # who is signed in (id, display_name, role)
    locked: bool = False             # the PIN screen covers the step, which is kept
    site: dict[str, Any] | None = None
    notice: str | None = None        # a one-off message for the next screen (consent refused…)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    session_ready: bool = False      # consent given and room checklist done: measurements allowed
    vitals: dict[str, Any] = field(default_factory=dict)  # respiration_rate, consciousness, on_oxygen (manual)
    news2: News2 | None = None
    call_started_at: dt.datetime | None = None
    call_ended_at: dt.datetime | None = None
    doctor_name: str | None = None
    summary_draft: str = ""
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
                 on_saved: Callable[[str], None] | None = None, device_claims: DeviceClaims | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """`readers` maps a device kind (thermometer, blood_pressure, oximeter) to a coroutine function
        (on_state, on_live) -> DeviceReading; `read_thermometer` is the thermometer's, kept for brevity.
        `device_claims` is shared by the workflows of one tablet; `monotonic` is the idle-lock clock (tests)."""
        self.store = store
        self._readers = {**({"thermometer": read_thermometer} if read_thermometer else {}), **(readers or {})}
        self._clock = clock
        self._monotonic = monotonic
        self._on_saved = on_saved or (lambda _sid: None)
        self.claims = device_claims or DeviceClaims()
        self.state = WorkflowState()
        self._measure_task: asyncio.Task[Any] | None = None
        self._last_activity = monotonic()
        site_id = store.get_setting("site_id")
        self.state.site = store.get_site(site_id) if site_id else None
        self.state.step = "signin" if self.staff_members() else "site_setup"

    # -- observation ------------------------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[WorkflowState], None]) -> None:
        self.state.listeners.append(listener)
        listener(self.state)

    def _changed(self, **updates: Any) -> None:
        for key, value in updates.items():
            setattr(self.state, key, value)
        for listener in list(self.state.listeners):
            listener(self.state)

    # -- staff: sign-in, idle lock ----------------------------------------------------------------------------
    def staff_members(self) -> list[dict[str, Any]]:
        """Who can sign in on this tablet: active staff with a PIN, without their PIN hashes."""
        return [{k: v for k, v in m.items() if k not in ("pin_hash",)}
                for m in self.store.list_staff(active_only=True) if m.get("pin_hash")]

    def sign_in(self, staff_id: str, pin: str) -> None:
        """PIN sign-in (or unlock: the step and the session in progress are kept; another staff member may take
        over). Wrong PIN, locked account: WorkflowError with the reason."""
        try:
            ok = self.store.verify_pin(staff_id, pin)
        except (ValueError, PinLockedError) as exc:  # unknown or inactive account, no PIN, locked out
            raise WorkflowError(str(exc)) from exc
        if not ok:
            raise WorkflowError("Code PIN incorrect.")
        self.store.actor = staff_id  # what they do from now on is traced under their name (audit log)
        member = {k: v for k, v in self.store.get_staff(staff_id).items() if k != "pin_hash"}
        self._last_activity = self._monotonic()
        site_id = self.store.get_setting("site_id")
        self.state.site = self.store.get_site(site_id) if site_id else None
        if self.state.locked:
            self._changed(staff=member, locked=False, notice=None)
            return
        step = "site_setup" if self.state.site is None else "patient"
        self._changed(staff=member, locked=False, step=step, notice=None)

    def sign_out(self) -> None:
        """End of shift: back to the PIN screen. A session in progress stays open in the store."""
        self._cancel_measurement()
        if self.state.staff is not None:
            self.store.record_sign_out(self.state.staff["id"])
        self.store.actor = None
        self._changed(step="signin", staff=None, locked=False, patient=None, session_id=None, proposal=None,
                      accepted={}, session_ready=False, notice=None)

    @property
    def idle_lock_seconds(self) -> float:
        try:
            return max(15.0, float(self.store.get_setting("idle_lock_seconds", "120")))
        except ValueError:
            return 120.0

    def touch(self) -> None:
        """Staff did something: the idle timer starts again."""
        self._last_activity = self._monotonic()

    def lock(self) -> None:
        """Cover the screen with the PIN pad; the step, the patient and the session are kept."""
        if self.state.staff is not None and not self.state.locked:
            self.store.record_sign_out(self.state.staff["id"], "locked")
            self._changed(locked=True)

    def check_idle(self) -> bool:
        """Lock when nothing happened for `idle_lock_seconds` (never during a measurement). True if it locked."""
        busy = self._measure_task is not None and not self._measure_task.done()
        if self.state.staff is None or self.state.locked or busy:
            return False
        if self._monotonic() - self._last_activity >= self.idle_lock_seconds:
            self.lock()
            return True
        return False

    # -- first run: the site and its first account ------------------------------------------------------------
    def setup_site(self, *, kind: str, name: str, finess: str | None = None, ars_declaration: str | None = None,
                   first_staff_name: str | None = None, first_staff_role: str | None = None,
                   first_staff_pin: str | None = None) -> str:
        """Where this tablet works (EHPAD or pharmacy cabin). On the very first run there is nobody to sign in
        yet: the person setting the tablet up also creates their own account, as administrator of the tablet."""
        first_run = not self.staff_members()
        if not first_run and self.state.staff is None:
            raise WorkflowError("Identifiez-vous d'abord.")
        try:
            if first_run:
                if not first_staff_pin or not first_staff_name:
                    raise WorkflowError("Indiquez votre nom et choisissez un code PIN (4 à 8 chiffres).")
                pin_hash = hash_pin(first_staff_pin)
            site_id = self.store.add_site(kind=kind, name=name, finess=finess or None,
                                          ars_declaration=ars_declaration or None)
            if first_run:
                staff_id = self.store.add_staff(display_name=first_staff_name, role=first_staff_role or "administrateur",
                                                pin_hash=pin_hash, is_admin=True)
                self.state.staff = {k: v for k, v in self.store.get_staff(staff_id).items() if k != "pin_hash"}
                self.store.actor = staff_id
            self.store.set_setting("site_id", site_id)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc
        self._last_activity = self._monotonic()
        self._changed(site=self.store.get_site(site_id), step="patient")
        return site_id

    # -- patient ----------------------------------------------------------------------------------------------
    def patients(self, query: str = "") -> list[dict[str, Any]]:
        return self.store.find_patients(query)

    def probable_duplicates(self, *, family_name: str, given_name: str, birth_date: str,
                            **_other: Any) -> list[dict[str, Any]]:
        """Residents born the same day whose family name, first given name or birth name matches once accents,
        case and hyphens are folded, or whose names are swapped (a classic identity-vigilance error)."""
        day = _iso_birth_date(birth_date)
        if day is None:
            return []
        family, given = fold(family_name or ""), fold((given_name or "").split(" ")[0])
        found = []
        for p in self.store.find_patients(""):
            if p.get("birth_date") != day:
                continue
            p_family, p_given = fold(p.get("family_name") or ""), fold((p.get("given_name") or "").split(" ")[0])
            if family and (family == p_family or given == p_given or (family == p_given and given == p_family)):
                found.append(p)
        return found

    def create_patient(self, *, allow_duplicate: bool = False, **traits: Any) -> str:
        """Create and select a patient. Identity errors surface as WorkflowError with the store's message; a
        probable duplicate raises DuplicateWarning (with the candidates) unless `allow_duplicate`."""
        if self.state.staff is None:
            raise WorkflowError("Identifiez-vous d'abord.")
        if not allow_duplicate:
            candidates = self.probable_duplicates(**traits)
            if candidates:
                self._changed(duplicates=candidates)
                raise DuplicateWarning(candidates)
        try:
            patient_id = self.store.add_patient(**traits)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc
        self._changed(duplicates=[])
        self.select_patient(patient_id)
        return patient_id

    def select_patient(self, patient_id: str) -> None:
        """Open a new session for this patient, on this site, by the signed-in staff member. Any measurement in
        progress is abandoned, never re-attached; an unfinished session of the previous patient is abandoned."""
        if self.state.staff is None or self.state.locked:
            raise WorkflowError("Identifiez-vous d'abord.")
        if self.state.site is None:
            raise WorkflowError("Le site de la tablette n'est pas encore configuré.")
        self._cancel_measurement()
        self._abandon_current()
        patient = self.store.get_patient(patient_id)
        self.store.record_view("patient", patient_id)
        session_id = self.store.open_session(patient_id, staff_id=self.state.staff["id"],
                                             site_id=self.state.site["id"])
        self._changed(step="session_start", patient=patient, session_id=session_id, proposal=None, error=None,
                      live_value=None, device_state="idle", saved_session_id=None, accepted={},
                      measuring_kind=None, session_ready=False, vitals={}, news2=None, call_started_at=None,
                      call_ended_at=None, doctor_name=None, summary_draft="", notice=None, duplicates=[])

    def _abandon_current(self) -> None:
        session_id = self.state.session_id
        if session_id and self.store.get_session(session_id)["state"] == "open":
            self.store.abandon_session(session_id)
            self.claims.release_session(session_id)

    # -- session start: reason, consent, room checklist ------------------------------------------------------
    def start_session(self, *, reason: str, consent: str, given_by: str = "patient", given_by_name: str | None = None,
                      room_closed: bool = False, device_hygiene: bool = False, accessibility: bool = False,
                      companion_present: bool = False, interpreter_present: bool = False,
                      callback_phone: str | None = None) -> bool:
        """Record what the HAS asks before a teleconsultation. Consent refused ends the session cleanly (recorded,
        abandoned, never uploaded): returns False. Consent given needs the reason and the three checklist items;
        then measurements may start: returns True."""
        session_id = self._require_session()
        if self.state.step != "session_start":
            raise WorkflowError("Le consentement de cette séance est déjà recueilli.")
        if consent not in ("given", "refused"):
            raise WorkflowError("Indiquez si le consentement est donné ou refusé.")
        if given_by != "patient" and not (given_by_name or "").strip():
            raise WorkflowError("Indiquez le nom de la personne qui consent pour le patient.")
        if consent == "given":
            if not (reason or "").strip():
                raise WorkflowError("Indiquez le motif de la téléconsultation.")
            if not (room_closed and device_hygiene and accessibility):
                raise WorkflowError("Cochez les trois points de la vérification de la pièce avant de commencer.")
        try:
            self.store.record_consent(session_id, decision=consent, recorded_by=self.state.staff["id"],
                                      given_by=given_by, given_by_name=(given_by_name or None) if
                                      given_by != "patient" else None)
            if consent == "refused":
                self.store.update_session(session_id, reason=(reason or "").strip() or None)
                self.store.abandon_session(session_id)
            else:
                self.store.update_session(session_id, reason=reason.strip(), companion_present=companion_present,
                                          interpreter_present=interpreter_present,
                                          callback_phone=(callback_phone or "").strip() or None,
                                          checklist_room_closed=True, checklist_device_hygiene=True,
                                          checklist_accessibility=True)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc
        if consent == "refused":
            self.claims.release_session(session_id)
            self._changed(step="patient", patient=None, session_id=None, session_ready=False,
                          notice="Consentement refusé : la séance est close sans téléconsultation. Le refus est "
                                 "enregistré.")
            return False
        self._changed(step="measure", session_ready=True, notice=None)
        return True

    def abandon(self) -> None:
        """The session will not take place after all (patient unwell, call impossible): kept, never uploaded."""
        self._require_session()
        self._cancel_measurement()
        self._abandon_current()
        self._changed(step="patient", patient=None, session_id=None, session_ready=False, accepted={},
                      proposal=None, notice="Séance abandonnée : rien ne sera transmis.")

    def _require_session(self) -> str:
        if self.state.staff is None or self.state.locked:
            raise WorkflowError("Identifiez-vous d'abord.")
        if self.state.session_id is None:
            raise WorkflowError("Choisissez d'abord le patient.")
        return self.state.session_id

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
        self._require_session()
        if not self.state.session_ready:
            raise WorkflowError("Recueillez d'abord le consentement et vérifiez la pièce.")
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
            manual = ", ou saisissez la valeur à la main" if kind == "thermometer" else ""
            self._fail(session_id, f"Mesure impossible : {exc}. Vérifiez que {KINDS_FR.get(kind, kind)} est "
                                   f"allumé et proche, puis reprenez{manual}.")
            return None
        finally:
            self._measure_task = None
        if self.state.session_id != session_id:
            log.info("reading discarded: the session changed during the measurement")
            return None
        holder = self.claims.holder(reading.device.address)
        if holder is not None and holder != session_id:
            self._fail(session_id, "Cet appareil sert déjà une autre séance ouverte sur cette tablette : terminez-la "
                                   "ou utilisez un autre appareil.")
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
                            received_at=reading.received_at, reading=reading,
                            warnings=warnings + _battery_warning(reading), kind=kind,
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
                            received_at=reading.received_at, reading=reading,
                            warnings=warnings + _battery_warning(reading))
        self._changed(step="review", proposal=proposal, device_state="done", error=None)
        return proposal

    def enter_manual_temperature(self, text: str) -> Proposal:
        """Fallback when no device works: the value is typed and marked as manual."""
        self._require_session()
        if not self.state.session_ready:
            raise WorkflowError("Recueillez d'abord le consentement et vérifiez la pièce.")
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
        if self.state.staff is None or self.state.locked:
            raise WorkflowError("Identifiez-vous d'abord.")
        proposal, session_id = self.state.proposal, self.state.session_id
        if proposal is None or session_id is None:
            raise WorkflowError("Aucune mesure à valider.")
        if proposal.session_id != session_id:
            raise WorkflowError("Cette mesure appartient à une autre séance : reprenez la mesure.")
        if proposal.reading is not None:
            self.claims.claim(proposal.reading.device.address, session_id)
        accepted = {**self.state.accepted, proposal.kind: proposal}
        self._changed(step="measure", accepted=accepted, proposal=None, live_value=None, device_state="idle",
                      measuring_kind=None)

    def finish_measurements(self) -> None:
        """Store every accepted value (and the one on review) in the open session, then go on to what staff
        assess by hand (respiration rate, consciousness, oxygen) and the early-warning score."""
        session_id = self._require_session()
        if self.state.proposal is not None:
            self.accept()
        if not self.state.accepted:
            raise WorkflowError("Aucune mesure à enregistrer.")
        self._cancel_measurement()
        for proposal in self.state.accepted.values():
            self._store(session_id, proposal)
        self._changed(step="vitals", news2=self._news2(), proposal=None, device_state="idle")

    # -- by hand: respiration rate, consciousness, oxygen; NEWS2 --------------------------------------------
    def preview_news2(self, *, respiration_rate: str | None = None, consciousness: str | None = None,
                      on_oxygen: bool | None = None) -> News2:
        """The score with what is entered so far (nothing stored); bad input raises WorkflowError."""
        return self._news2(self._manual_vitals(respiration_rate, consciousness, on_oxygen))

    def confirm_vitals(self, *, respiration_rate: str | None = None, consciousness: str | None = None,
                       on_oxygen: bool | None = None) -> News2:
        """Store what staff assessed (marked manual) and go on to the teleconsultation. A parameter left blank
        keeps the score partial, and the screen says which."""
        session_id = self._require_session()
        if self.state.step != "vitals":
            raise WorkflowError("Terminez d'abord les mesures.")
        vitals = self._manual_vitals(respiration_rate, consciousness, on_oxygen)
        now = self._clock()
        rows = []
        if "respiration_rate" in vitals:
            rows.append(("9279-1", str(vitals["respiration_rate"]), "/min"))
        if "consciousness" in vitals:
            rows.append(("67775-7", vitals["consciousness"], ""))
        if "on_oxygen" in vitals:
            rows.append(("supplemental-oxygen", "yes" if vitals["on_oxygen"] else "no", ""))
        for code, value, unit in rows:
            self.store.add_measurement(session_id, code=code, value=value, unit=unit, source="manual",
                                       measured_at=now.isoformat(), received_at=now.isoformat())
        score = self._news2(vitals)
        self._changed(step="teleconsult", vitals=vitals, news2=score)
        return score

    def _manual_vitals(self, respiration_rate: str | None, consciousness: str | None,
                       on_oxygen: bool | None) -> dict[str, Any]:
        vitals: dict[str, Any] = {}
        if respiration_rate not in (None, ""):
            try:
                vitals["respiration_rate"] = respiration_rate_from_text(str(respiration_rate))
            except Implausible as exc:
                raise WorkflowError(str(exc)) from None
        if consciousness not in (None, ""):
            if consciousness not in ACVPU:
                raise WorkflowError("Choisissez l'état de conscience : A, C, V, P ou U.")
            vitals["consciousness"] = consciousness
        if on_oxygen is not None:
            vitals["on_oxygen"] = bool(on_oxygen)
        return vitals

    def _news2(self, vitals: dict[str, Any] | None = None) -> News2:
        """NEWS2 from the accepted device values and the manual entries (scale 1)."""
        vitals = self.state.vitals if vitals is None else vitals
        found: dict[str, Decimal] = {}
        for proposal in self.state.accepted.values():
            for v in proposal.stored_values:
                found[v.field] = v.value if v.unit != "kPa" else v.value * Decimal("7.50062")
                if v.field == "temperature" and v.unit == "[degF]":
                    found["temperature"] = (v.value - 32) * 5 / 9
        return news2(temperature_c=found.get("temperature"), spo2=found.get("spo2"),
                     systolic=found.get("systolic"), pulse=found.get("pulse_rate"),
                     respiration_rate=vitals.get("respiration_rate"), on_oxygen=vitals.get("on_oxygen"),
                     consciousness=vitals.get("consciousness"))

    # -- the teleconsultation ----------------------------------------------------------------------------------
    def start_call(self, *, doctor_name: str, doctor_rpps: str | None = None) -> None:
        """The remote doctor answered: the call's time starts (shown as a timer)."""
        session_id = self._require_session()
        if self.state.step != "teleconsult":
            raise WorkflowError("Terminez d'abord les mesures.")
        if not (doctor_name or "").strip():
            raise WorkflowError("Indiquez le nom du médecin téléconsultant.")
        now = self._clock()
        try:
            self.store.update_session(session_id, started_at=now.isoformat(), remote_doctor_name=doctor_name.strip(),
                                      remote_doctor_rpps=(doctor_rpps or "").strip() or None)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc
        self._changed(call_started_at=now, call_ended_at=None, doctor_name=doctor_name.strip())

    def call_seconds(self) -> int:
        """The call's duration so far (or in all, once ended)."""
        if self.state.call_started_at is None:
            return 0
        end = self.state.call_ended_at or self._clock()
        return max(0, int((end - self.state.call_started_at).total_seconds()))

    def end_call(self, *, conclusion: str, orientation: str | None = None, prescriptions: str | None = None,
                 orientation_detail: str | None = None) -> None:
        """The doctor's conclusions, the orientation and the prescriptions, as staff noted them; the call ends and
        the summary for the patient's own doctor is drafted from the whole session."""
        session_id = self._require_session()
        if self.state.call_started_at is None:
            raise WorkflowError("Démarrez d'abord la téléconsultation (nom du médecin).")
        if not (conclusion or "").strip():
            raise WorkflowError("Notez les conclusions du médecin avant de terminer.")
        if orientation is not None and orientation not in ORIENTATIONS_FR:
            raise WorkflowError("Choisissez une orientation dans la liste.")
        now = self._clock()
        doctor = self.state.doctor_name
        try:
            self.store.update_session(session_id, ended_at=now.isoformat())
            self.store.add_note(session_id, kind="remote_doctor_conclusion", text=conclusion.strip(), author=doctor)
            if orientation:
                text = ORIENTATIONS_FR[orientation] + (f" — {orientation_detail.strip()}"
                                                       if (orientation_detail or "").strip() else "")
                self.store.add_note(session_id, kind="orientation", text=text, author=doctor)
            if (prescriptions or "").strip():
                self.store.add_note(session_id, kind="prescription", text=prescriptions.strip(), author=doctor)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc
        self._changed(call_ended_at=now, step="summary", summary_draft=self.draft_summary())

    def draft_summary(self) -> str:
        """A first text of the summary for the patient's own doctor: reason, measurements, NEWS2, conclusions,
        orientation, prescriptions. Staff read it, correct it, and it is theirs."""
        session_id = self._require_session()
        session = self.store.get_session(session_id)
        lines = [f"Téléconsultation assistée du {self._clock().astimezone().strftime('%d/%m/%Y')}"
                 + (f" avec {session['remote_doctor_name']}" if session.get("remote_doctor_name") else "") + "."]
        if session.get("reason"):
            lines.append(f"Motif : {session['reason']}.")
        values = [p.display for p in self.state.accepted.values()]
        if values:
            lines.append("Mesures : " + " ; ".join(values) + ".")
        vitals = self.state.vitals
        by_hand = []
        if "respiration_rate" in vitals:
            by_hand.append(f"fréquence respiratoire {vitals['respiration_rate']}/min")
        if "consciousness" in vitals:
            by_hand.append(f"conscience {vitals['consciousness']} (ACVPU)")
        if "on_oxygen" in vitals:
            by_hand.append("sous oxygène" if vitals["on_oxygen"] else "air ambiant")
        if by_hand:
            lines.append("Relevé par le soignant : " + ", ".join(by_hand) + ".")
        score = self.state.news2
        if score is not None:
            lines.append(f"NEWS2 : {score.score}" + (" (partiel)" if not score.complete else "") + ".")
        for note in self.store.notes(session_id):
            label = {"remote_doctor_conclusion": "Conclusions du médecin", "orientation": "Orientation",
                     "prescription": "Prescriptions"}.get(note["kind"], "Note")
            lines.append(f"{label} : {note['text']}")
        return "\n".join(lines)

    # -- close ------------------------------------------------------------------------------------------------
    def close(self, *, summary: str, recipient_name: str | None = None) -> str:
        """Save the summary for the patient's own doctor and close the session: it is locked from then on (later
        remarks are addenda) and queued for upload in the same transaction. Returns the session id."""
        session_id = self._require_session()
        if self.state.step != "summary":
            raise WorkflowError("Terminez d'abord la téléconsultation.")
        if not (summary or "").strip():
            raise WorkflowError("Rédigez la synthèse pour le médecin traitant avant de clore.")
        try:
            self.store.set_summary(session_id, text=summary.strip(), recipient_name=(recipient_name or "").strip()
                                   or None)
            self.store.close_session(session_id, require_complete=True)
        except (ValueError, SessionStateError) as exc:  # the store's guards (consent, measurements)
            raise WorkflowError(str(exc)) from exc
        self.claims.release_session(session_id)
        self._changed(step="saved", saved_session_id=session_id, session_id=None, session_ready=False)
        self._on_saved(session_id)
        return session_id

    def add_addendum(self, session_id: str, text: str) -> str:
        """A later remark on a closed session (the session itself never changes)."""
        if self.state.staff is None or self.state.locked:
            raise WorkflowError("Identifiez-vous d'abord.")
        try:
            return self.store.add_addendum(session_id, staff_id=self.state.staff["id"], text=text)
        except (ValueError, SessionStateError) as exc:
            raise WorkflowError(str(exc)) from exc

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
                      device_state="idle", accepted={}, measuring_kind=None, session_ready=False, vitals={},
                      news2=None, call_started_at=None, call_ended_at=None, doctor_name=None, summary_draft="",
                      notice=None)

    # -- administration: staff accounts, audit log, retention (administrators only) ---------------------------
    def _require_admin(self) -> dict[str, Any]:
        staff = self.state.staff
        if staff is None or self.state.locked:
            raise WorkflowError("Identifiez-vous d'abord.")
        if not staff.get("is_admin"):
            raise WorkflowError("Réservé aux administrateurs de la tablette.")
        return staff

    def open_admin(self) -> None:
        """The administration screen, from the patient list only: never in the middle of someone's session."""
        self._require_admin()
        if self.state.step not in ("patient", "saved", "admin"):
            raise WorkflowError("Terminez ou abandonnez d'abord la séance en cours.")
        self._changed(step="admin", notice=None)

    def close_admin(self) -> None:
        if self.state.step == "admin":
            self._changed(step="patient")

    def staff_overview(self) -> list[dict[str, Any]]:
        """Every account with its state (active, locked out until, PIN set), never the PIN hash."""
        self._require_admin()
        now = self._clock()
        rows = []
        for member in self.store.list_staff():
            until = member.get("pin_locked_until")
            locked = bool(until) and dt.datetime.fromisoformat(until) > now
            rows.append({"id": member["id"], "display_name": member["display_name"], "role": member["role"],
                         "active": bool(member["active"]), "locked": locked, "has_pin": bool(member["pin_hash"]),
                         "is_admin": bool(member["is_admin"])})
        return rows

    def add_staff_member(self, *, display_name: str, role: str, pin: str, is_admin: bool = False) -> str:
        self._require_admin()
        try:
            return self.store.add_staff(display_name=display_name, role=role, pin=pin, is_admin=is_admin)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc

    def reset_staff_pin(self, staff_id: str, pin: str) -> None:
        """A new PIN for a colleague who forgot theirs or is locked out (the lock-out ends with it)."""
        admin = self._require_admin()
        try:
            self.store.reset_pin(admin["id"], staff_id, pin)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc

    def set_staff_active(self, staff_id: str, active: bool) -> None:
        """Deactivate someone who left (their past sessions keep their name), or bring them back. The last active
        administrator cannot be deactivated: nobody could manage the tablet any more."""
        admin = self._require_admin()
        if not active:
            admins = [m for m in self.store.list_staff(active_only=True) if m["is_admin"]]
            if [m["id"] for m in admins] == [staff_id]:
                raise WorkflowError("C'est le dernier administrateur actif : nommez-en un autre d'abord.")
            if staff_id == admin["id"]:
                raise WorkflowError("Vous ne pouvez pas désactiver votre propre compte.")
        try:
            self.store.set_staff_active(staff_id, active)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc

    def set_staff_admin(self, staff_id: str, is_admin: bool) -> None:
        """Grant or withdraw the right to manage the tablet (never from the last administrator, nor oneself)."""
        admin = self._require_admin()
        if not is_admin:
            if staff_id == admin["id"]:
                raise WorkflowError("Vous ne pouvez pas retirer vos propres droits d'administration.")
            admins = [m["id"] for m in self.store.list_staff(active_only=True) if m["is_admin"]]
            if admins == [staff_id]:
                raise WorkflowError("C'est le dernier administrateur actif : nommez-en un autre d'abord.")
        try:
            self.store.set_staff_admin(staff_id, is_admin)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc

    def audit_check(self):
        """Whether the audit log's hash chain is whole (sync.audit.ChainCheck)."""
        from sync import audit

        self._require_admin()
        return audit.verify(self.store)

    def export_audit(self, directory: str | Path) -> Path:
        """Write the audit log as CSV into `directory` (owner-only file) and return its path."""
        admin = self._require_admin()
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"journal-audit-{self._clock().astimezone():%Y%m%d-%H%M%S}.csv"
        try:
            self.store.export_audit_csv(admin["id"], path)
        except ValueError as exc:
            raise WorkflowError(str(exc)) from exc
        return path

    @property
    def retention_days(self) -> int:
        from sync import retention

        return retention.retention_days(self.store)

    def set_retention_days(self, days: int) -> None:
        """How long a session stays on the tablet once the server confirmed it (1 to 30 days)."""
        self._require_admin()
        if not isinstance(days, int) or not 1 <= days <= 30:
            raise WorkflowError("La durée de conservation doit être comprise entre 1 et 30 jours.")
        self.store.set_setting("retention_days", str(days))

    def sync_state(self, session_id: str | None = None) -> str | None:
        sid = session_id or self.state.saved_session_id
        if not sid:
            return None
        try:
            return self.store.session_sync_state(sid)
        except NotFoundError:  # confirmed by the server, then purged from the tablet (sync.retention)
            return "sent"
