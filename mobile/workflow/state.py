"""What the session workflow holds between taps (WorkflowState), what it offers staff to accept (Proposal), and how
it refuses (WorkflowError: a code with parameters, worded by the app's catalog in mobile.messages).

Plain Python, no Kivy: screens subscribe to the state and stay thin.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Awaitable, Callable, Protocol

from devices.parsers.common import ParsedMeasurement
from devices.reading import DeviceReading
from sync.clinical.news2 import News2
from sync.errors import RelaisError

STEPS = ("signin", "site_setup", "patient", "session_start", "measure", "review", "vitals", "teleconsult",
         "summary", "saved", "admin", "devices", "history", "patient_edit")


class WorkflowError(RelaisError):
    """A step cannot proceed: `code` says why (e.g. ``auth.sign_in_first``), `params` fill the message."""

    @classmethod
    def refused_by_store(cls, exc: Exception) -> "WorkflowError":
        """The store refused an input: keep its code, field and parameters when it has them. A refusal without a
        code keeps the original exception as ``__cause__`` (raise it ``from exc``) for the screens to show."""
        return cls(getattr(exc, "code", None) or "data.refused", getattr(exc, "field", None),
                   **(getattr(exc, "params", None) or {}))


class DuplicateWarning(WorkflowError):
    """Probable duplicates of a new identity: staff choose one of `candidates` or create anyway."""

    def __init__(self, candidates: list[dict[str, Any]]) -> None:
        self.candidates = candidates
        super().__init__("patient.probable_duplicate", count=len(candidates))


class StoreLike(Protocol):
    def find_patients(self, query: str = "", limit: int | None = None) -> list[dict[str, Any]]: ...
    def add_patient(self, **traits: Any) -> str: ...
    def get_patient(self, patient_id: str) -> dict[str, Any]: ...
    def open_session(self, patient_id: str, *, reason: str | None = None, staff: str | None = None) -> str: ...
    def add_measurement(self, session_id: str, **values: Any) -> str: ...
    def session_sync_state(self, session_id: str) -> str: ...


# A device reader: coroutine function (on_state, on_live) -> DeviceReading.
DeviceReader = Callable[[Callable[[str], None], Callable[[ParsedMeasurement], None]], Awaitable[DeviceReading]]


def fr_number(value: Decimal) -> str:
    """French decimal comma, the precision the device sent kept ("37.60" → "37,60"): for the French record (the
    summary for the patient's doctor); the screens word values in mobile.screens.texts."""
    return str(value).replace(".", ",")


def format_temperature(value: Decimal, unit: str) -> str:
    """As the French record writes it: decimal comma and a non-breaking space before the unit ("37,60 °C")."""
    symbol = "°F" if unit == "[degF]" else "°C"
    return f"{fr_number(value)}\u00a0{symbol}"


@dataclass(frozen=True)
class ProposedValue:
    """One value to store, with its interpretation flag (H, HH, L, LL or None) decided by the clinical rules
    (sync.clinical.rules) when it was proposed: the store keeps it, the FHIR Observation carries it."""

    field: str
    code: str
    value: Decimal
    unit: str
    flag: str | None = None


@dataclass(frozen=True)
class Proposal:
    """A value offered to staff for acceptance; bound to the session it was measured for. `warnings` are codes."""

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
    values: tuple[ProposedValue, ...] = ()  # every value to store; empty means just (code, value, unit, flag)
    flag: str | None = None          # the single value's flag (sync.clinical.rules), when `values` is empty

    @property
    def stored_values(self) -> tuple[ProposedValue, ...]:
        return self.values or (ProposedValue("temperature", self.code, self.value, self.unit, self.flag),)

    def get(self, field_name: str) -> ProposedValue | None:
        return next((v for v in self.stored_values if v.field == field_name), None)



@dataclass
class WorkflowState:
    step: str = "signin"             # see STEPS
    staff: dict[str, Any] | None = None   # who is signed in (id, display_name, role)
    locked: bool = False             # the PIN screen covers the step, which is kept
    site: dict[str, Any] | None = None
    notice: str | None = None        # the code of a one-off message for the next screen (consent refused…)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    session_ready: bool = False      # consent given and room checklist done: measurements allowed
    vitals: dict[str, Any] = field(default_factory=dict)  # respiration_rate, consciousness, on_oxygen (manual)
    news2: News2 | None = None
    emergency_call: dict[str, Any] | None = None   # the 15 called at high risk: at (datetime), by (staff name)
    call_started_at: dt.datetime | None = None
    call_ended_at: dt.datetime | None = None
    doctor_name: str | None = None
    # what the remote doctor was asked (sync.fhir.exchange.REQUEST_KINDS): teleconsultation once the call started,
    # teleexpertise while the session waits for advice without a call; None before any request
    request_kind: str | None = None
    summary_draft: str = ""
    patient: dict[str, Any] | None = None
    session_id: str | None = None
    device_state: str = "idle"       # idle, scanning, connecting, measuring, done, error, cancelled
    phase_started: float | None = None   # when the device phase began (the context's monotonic clock, seconds)
    phase_limit: float | None = None     # how long that phase may wait (devices.limits), None when unbounded here
    # kind -> (session id, why its last attempt gave nothing: a device failure, or measure.cancelled)
    outcomes: dict[str, tuple[str, WorkflowError]] = field(default_factory=dict)
    live_value: tuple[ProposedValue, ...] | None = None   # what the device shows while measuring
    proposal: Proposal | None = None
    error: WorkflowError | None = None   # why the last measurement failed
    saved_session_id: str | None = None
    accepted: dict[str, Proposal] = field(default_factory=dict)  # kind -> value accepted for this session
    measuring_kind: str | None = None
    call_notes: dict[str, str] = field(default_factory=dict)  # typed during the call, not yet saved as notes
    history_patient: dict[str, Any] | None = None   # the resident whose history is shown (step "history")
    history_return: str | None = None                # the step the history was opened from, to go back to
    answers_received: int = 0        # counts the doctors' answers stored since start (the patient list refreshes)
    editing: dict[str, Any] | None = None            # the resident whose record is being corrected (patient_edit)
    edited: tuple[str, ...] | None = None            # the fields of the record just corrected, for the patient list
    listeners: list[Callable[["WorkflowState"], None]] = field(default_factory=list, repr=False)

    def failed_attempts(self) -> dict[str, WorkflowError]:
        """Kind -> why the last attempt of this session on that device gave nothing (failed or cancelled)."""
        return {kind: error for kind, (session_id, error) in self.outcomes.items() if session_id == self.session_id}
