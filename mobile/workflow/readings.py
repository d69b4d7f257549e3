"""From a device reading to a value staff may accept: device errors and implausible values refused (as codes, never
proposed), each value decided by the clinical rules (sync.clinical.rules: its interpretation flag, its alerts, the
reasons to measure again), warnings as codes (values to confirm, clinical alerts, device status bits, a low battery),
the time stamp to trust, and the value typed by hand when no device works.

`usual` (LOINC code → the resident's usual value in the rules' comparison unit, sync.store.history.usual_values)
lets the rules compare with the resident's own baseline where the clinical table says so (a temperature rise, a
SpO2 drop): the flag and alerts decided here are the ones stored with the value."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Mapping

from devices.parsers.common import ParsedMeasurement
from devices.reading import DeviceReading
from mobile.workflow.state import ProposedValue, WorkflowError
from sync.clinical.rules import Decision, Implausible, decide, decide_blood_pressure
from sync.vocabulary import BP_DIASTOLIC, BP_SYSTOLIC

LOINC_BODY_TEMPERATURE = "8310-5"
LOW_BATTERY_PERCENT = 15
DEVICE_CLOCK_TOLERANCE = dt.timedelta(minutes=10)

# A field the device sent as a special value (GATT Specification Supplement, SFLOAT/FLOAT special values).
INVALID_REASON_CODES = {
    "NaN": "measure.invalid.nan",
    "NRes": "measure.invalid.nres",
    "+INF": "measure.invalid.above_range",
    "-INF": "measure.invalid.below_range",
    "reserved": "measure.invalid.reserved",
}
# Device status bits (devices/parsers) staff must hear about: each is a warning code.
STATUS_WARNINGS = ("body_movement", "cuff_too_loose", "irregular_pulse", "improper_position", "questionable",
                   "early_estimated", "low_perfusion", "poor_signal", "erratic_signal")
NEEDED = {"blood_pressure": ("systolic", "diastolic"), "oximeter": ("spo2", "pulse_rate")}
STORED = {"blood_pressure": ("systolic", "diastolic", "mean_arterial_pressure", "pulse_rate"),
          "oximeter": ("spo2", "pulse_rate")}


def implausible(exc: Implausible) -> WorkflowError:
    return WorkflowError(exc.code, exc.field, **exc.params)


def warnings_of(decisions) -> tuple[str, ...]:
    """What the review screen shows of the decisions: reasons to confirm first, then the alerts (each once)."""
    confirm = [c for d in decisions for c in d.confirm]
    alerts = [a for d in decisions for a in d.alerts]
    return tuple(dict.fromkeys(confirm + alerts))


Usual = Mapping[str, Decimal]   # LOINC code → the resident's usual value (the rules' comparison unit)


def decide_value(code: str, value: Decimal, unit: str, usual: Usual | None = None) -> Decision:
    """The clinical rules' decision for one value, against the resident's usual value when known; WorkflowError
    (the rules' code) when it cannot be real."""
    try:
        return decide(code, value, unit, baseline=(usual or {}).get(code))
    except Implausible as exc:
        raise implausible(exc) from None


def check_temperature(value: Decimal, unit: str, usual: Usual | None = None) -> Decision:
    """A temperature decided by the clinical rules: refused when implausible, else its flag and warnings."""
    return decide_value(LOINC_BODY_TEMPERATURE, value, unit, usual)


# What staff may type by hand, per field: LOINC code, UCUM unit, decimals allowed, the unit they may type after it.
MANUAL_FIELDS = {
    "temperature": (LOINC_BODY_TEMPERATURE, "Cel", 2, "°C"),
    "spo2": ("59408-5", "%", 0, "%"),
    "pulse_rate": ("8867-4", "/min", 0, "/min"),
    "systolic": (BP_SYSTOLIC, "mm[Hg]", 0, "mmHg"),
    "diastolic": (BP_DIASTOLIC, "mm[Hg]", 0, "mmHg"),
}
# The fields of each device kind typed by hand, in the order of the form; the pulse rate may be left empty.
MANUAL_KIND_FIELDS = {"thermometer": ("temperature",), "oximeter": ("spo2", "pulse_rate"),
                      "blood_pressure": ("systolic", "diastolic", "pulse_rate")}
MANUAL_OPTIONAL = frozenset({"pulse_rate"})
# Why a typed value is refused, per field: not a number of the expected shape.
MANUAL_FORMAT_CODES = {"temperature": "measure.manual.format", "spo2": "measure.manual.spo2",
                       "pulse_rate": "measure.manual.pulse_rate", "systolic": "measure.manual.systolic",
                       "diastolic": "measure.manual.diastolic"}


def parse_manual(field: str, text: str) -> Decimal:
    """A value typed by hand: "37,6" or "37.6" (decimal comma accepted), the unit may follow; anything else is
    refused with the field's own code (MANUAL_FORMAT_CODES), a temperature with more than two decimals with
    ``measure.manual.precision``."""
    _code, _unit, decimals, symbol = MANUAL_FIELDS[field]
    cleaned = text.strip().replace(",", ".").removesuffix(symbol).strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise WorkflowError(MANUAL_FORMAT_CODES[field], field) from None
    if not value.is_finite() or value.as_tuple().exponent < -decimals:
        raise WorkflowError("measure.manual.precision" if field == "temperature" else MANUAL_FORMAT_CODES[field],
                            field)
    return value


def parse_manual_temperature(text: str) -> Decimal:
    """Staff type "37,6" or "37.6"; anything else is refused."""
    return parse_manual("temperature", text)


def manual_values(kind: str, typed: dict[str, str], usual: Usual | None = None
                  ) -> tuple[tuple[ProposedValue, ...], tuple[str, ...]]:
    """The values typed for one device kind, each parsed and decided by the clinical rules like a device's
    (a cuff's pair decided together); an empty optional field (the pulse rate) is left out."""
    values = []
    for field in MANUAL_KIND_FIELDS[kind]:
        text = (typed.get(field) or "").strip()
        if not text and field in MANUAL_OPTIONAL:
            continue
        code, unit, _decimals, _symbol = MANUAL_FIELDS[field]
        values.append(ProposedValue(field, code, parse_manual(field, text), unit))
    return decided_values(kind, tuple(values), usual)


def invalid_value(kind: str, reason: str | None) -> WorkflowError:
    """A needed field came as a special value (or not at all): a device error, never a reading."""
    return WorkflowError(INVALID_REASON_CODES.get(reason or "NaN", "measure.invalid"), kind=kind)


def battery_warning(reading: DeviceReading) -> tuple[str, ...]:
    """The device's battery level (Battery Service 0x2A19) when it is low: the next measurement may fail."""
    level = reading.battery_percent
    return ("device.battery_low",) if level is not None and level <= LOW_BATTERY_PERCENT else ()


def temperature_values(measurement: ParsedMeasurement, kind: str = "thermometer", usual: Usual | None = None):
    """The temperature observation and the rules' decision on it; WorkflowError when invalid or implausible."""
    invalid = next((i for i in measurement.invalid if i.field == "temperature"), None)
    obs = measurement.observation("temperature")
    if invalid is not None or obs is None:
        raise invalid_value(kind, invalid.reason if invalid else None)
    return obs, check_temperature(obs.value, obs.unit, usual)


def decided_values(kind: str, values: tuple[ProposedValue, ...], usual: Usual | None = None
                   ) -> tuple[tuple[ProposedValue, ...], tuple[str, ...]]:
    """Every value with its flag, the warnings in order (a cuff reading is decided as a whole)."""
    found = {v.field: v for v in values}
    decisions: dict[str, Decision] = {}
    try:
        if kind == "blood_pressure":
            sys_, dia = found["systolic"], found["diastolic"]
            pair = decide_blood_pressure(sys_.value, dia.value, sys_.unit)
            decisions["systolic"], decisions["diastolic"] = pair[BP_SYSTOLIC], pair[BP_DIASTOLIC]
        for v in values:
            if v.field not in decisions:
                decisions[v.field] = decide(v.code, v.value, v.unit, baseline=(usual or {}).get(v.code))
    except Implausible as exc:
        raise implausible(exc) from None
    return tuple(ProposedValue(v.field, v.code, v.value, v.unit, decisions[v.field].flag) for v in values), \
        warnings_of(decisions.values())


def vital_values(kind: str, measurement: ParsedMeasurement, usual: Usual | None = None
                 ) -> tuple[tuple[ProposedValue, ...], tuple[str, ...]]:
    """Blood pressure or oximetry: every needed value valid and plausible; the warnings, status bits included."""
    m = measurement
    if m.details.get("device_error"):
        raise WorkflowError("measure.cuff_error" if kind == "blood_pressure" else "measure.device_reported_error",
                            kind=kind)
    bad = [i for i in m.invalid if i.field in NEEDED[kind]]
    if bad or any(m.observation(f) is None for f in NEEDED[kind]):
        raise invalid_value(kind, bad[0].reason if bad else None)
    values, warnings = decided_values(kind, tuple(ProposedValue(o.field, o.code, o.value, o.unit)
                                                  for f in STORED[kind] if (o := m.observation(f)) is not None),
                                        usual)
    return values, warnings + tuple(f"device.status.{s}" for s in m.status if s in STATUS_WARNINGS)


LIVE_FIELDS = (("temperature",), ("cuff_pressure",), ("spo2", "pulse_rate"))


def live_values(measurement: ParsedMeasurement) -> tuple[ProposedValue, ...]:
    """What a live packet shows while measuring, as numbers and units (the screens word them): a temperature, a cuff
    pressure, or SpO2 and pulse; empty when the packet carries none of them."""
    for fields in LIVE_FIELDS:
        found = [o for f in fields if (o := measurement.observation(f)) is not None]
        if found and found[0].field == fields[0]:
            return tuple(ProposedValue(o.field, o.code, o.value, o.unit) for o in found)
    return ()


def measured_at(reading: DeviceReading) -> dt.datetime:
    """The device's own time stamp when it is complete and agrees with the tablet within 10 minutes
    (device clocks reset on battery change); otherwise the time the tablet received the value."""
    stamp = reading.measurement.timestamp
    local = stamp.to_datetime() if stamp else None
    if local is not None:
        aware = local.astimezone()  # device-local wall time: interpret in the tablet's zone
        if abs(aware - reading.received_at) <= DEVICE_CLOCK_TOLERANCE:
            return aware
    return reading.received_at
