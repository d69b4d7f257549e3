"""The one table of clinical rules for vital signs: for each measured value, is it plausible at all, should staff
confirm it by measuring again, and which interpretation flag and alert does it carry.

The flag is decided once, when the workflow proposes the value (mobile.workflow.readings, .vitals), and stored with
it (`measurements.interpretation`, schema v5): the tablet's warnings are the decision's codes, and the FHIR
`Observation.interpretation` and blood pressure components (sync.fhir.observations), the French report
(sync.fhir.report) and the doctors' pages (sync.server.doctors, from the FHIR it received) all carry that stored flag,
so they can never disagree. Values are compared in one unit per sign (°C, %, /min, mmHg); °F and kPa readings are converted first.

Sources of the thresholds (to be validated by the physician in charge of the service):
- NEWS2, Royal College of Physicians 2017: the 3-point bands (SpO2 ≤ 91 %, pulse ≤ 40 or ≥ 131 /min, systolic ≤ 90
  or ≥ 220 mmHg, respiration ≤ 8 or ≥ 25 /min, temperature ≤ 35.0 °C) and the lower bands used for "low";
- fever in long-term care residents, IDSA 2008 (High, Clin Infect Dis 48:149): a single temperature ≥ 37.8 °C, or a
  rise of more than 1.1 °C above the resident's usual temperature;
- gravity signs of community-acquired pneumonia (AFSSAPS 2010): temperature ≥ 40 °C, heart rate > 120 /min,
  systolic < 90 mmHg; CRB-65: diastolic ≤ 60 mmHg;
- grade 3 hypertension (ESC/ESH 2018): > 180 / 110 mmHg; long-term-care SpO2 monitoring protocols: < 92 %,
  urgent < 90 %;
- plausibility: device measuring ranges (ISO 80601-2-61 for oximeter accuracy, 70–100 %) and engineering guards
  against unit and transcription errors (°F typed or read as °C).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sync.errors import RelaisError
from sync.vocabulary import BP_DIASTOLIC, BP_MEAN, BP_SYSTOLIC, kpa_to_mmhg

TEMPERATURE, SPO2, SPO2_ARTERIAL, PULSE, RESPIRATION = "8310-5", "59408-5", "2708-6", "8867-4", "9279-1"
FLAGS = ("LL", "L", "H", "HH")  # HL7 v3 ObservationInterpretation: critical low, low, high, critical high


class Implausible(RelaisError, ValueError):
    """The value cannot be a real measurement of this patient: never proposed, never stored; measure again."""


@dataclass(frozen=True)
class Threshold:
    """`value OP bound` gives `flag` and the alert staff see (a code, worded by the app's catalog)."""

    flag: str
    op: str
    bound: Decimal
    alert: str

    def matches(self, value: Decimal) -> bool:
        return compare(value, self.op, self.bound)


def compare(value: Decimal, op: str, bound: Decimal) -> bool:
    return {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound}[op]


@dataclass(frozen=True)
class VitalRule:
    """Everything decided about one vital sign, in its comparison unit. Thresholds are tried in order: the first
    that matches gives the flag (so the most severe comes first)."""

    label: str                   # the sign, as named in the catalog's codes ("temperature", "spo2"…)
    unit: str                    # the comparison unit (UCUM)
    plausible: tuple[Decimal, Decimal]
    confirm: tuple[tuple[str, Decimal], ...] = ()   # (op, bound): any match asks to measure again …
    confirm_code: str = "vital.confirm.extreme"     # … saying this
    thresholds: tuple[Threshold, ...] = ()


D = Decimal
RULES: dict[str, VitalRule] = {
    TEMPERATURE: VitalRule("temperature", "Cel", (D(30), D(43)), (("<", D("35.0")), (">=", D(40))), thresholds=(
        Threshold("HH", ">=", D("40.0"), "alert.temperature.very_high"),
        Threshold("H", ">=", D("38.0"), "alert.temperature.fever"),
        Threshold("H", ">=", D("37.8"), "alert.temperature.low_grade_fever"),
        Threshold("LL", "<=", D("35.0"), "alert.temperature.hypothermia"))),
    SPO2: VitalRule("spo2", "%", (D(50), D(100)), (("<", D(70)),), "vital.confirm.spo2_accuracy", (
        Threshold("LL", "<", D(90), "alert.spo2.very_low"),
        Threshold("L", "<", D(92), "alert.spo2.low"))),
    PULSE: VitalRule("pulse", "/min", (D(20), D(250)), (("<", D(40)), (">", D(150))), thresholds=(
        Threshold("HH", ">=", D(131), "alert.pulse.very_high"),
        Threshold("H", ">", D(120), "alert.pulse.tachycardia"),
        Threshold("LL", "<=", D(40), "alert.pulse.bradycardia"),
        Threshold("L", "<=", D(50), "alert.pulse.low"))),
    BP_SYSTOLIC: VitalRule("systolic", "mm[Hg]", (D(50), D(280)), (("<", D(90)), (">=", D(180))),
                           "vital.confirm.blood_pressure", (
        Threshold("HH", ">=", D(220), "alert.systolic.very_high"),
        Threshold("H", ">", D(180), "alert.blood_pressure.severe_hypertension"),
        Threshold("LL", "<=", D(90), "alert.systolic.hypotension"),
        Threshold("L", "<=", D(100), "alert.systolic.low"))),
    BP_DIASTOLIC: VitalRule("diastolic", "mm[Hg]", (D(20), D(180)), ((">=", D(110)),), "vital.confirm.blood_pressure", (
        Threshold("H", ">", D(110), "alert.blood_pressure.severe_hypertension"),
        Threshold("L", "<=", D(60), "alert.diastolic.low"))),
    BP_MEAN: VitalRule("mean_pressure", "mm[Hg]", (D(20), D(280))),
    RESPIRATION: VitalRule("respiration_rate", "/min", (D(4), D(60)), (("<", D(9)), (">=", D(25))), thresholds=(
        Threshold("HH", ">=", D(25), "alert.respiration.very_high"),
        Threshold("H", ">=", D(21), "alert.respiration.high"),
        Threshold("LL", "<=", D(8), "alert.respiration.very_low"),
        Threshold("L", "<=", D(11), "alert.respiration.low"))),
}
RULES[SPO2_ARTERIAL] = RULES[SPO2]
del D

# Relative to the resident's usual value (when one is known, sync.store.history.usual_values). A rise above the
# usual temperature is fever in a long-term care resident by the IDSA 2008 definition (also the revised McGeer
# surveillance criteria, Stone et al., Infect Control Hosp Epidemiol 2012;33:965, Table 1: "single temperature
# > 1.1 °C from baseline"), so it carries the flag H when the thresholds gave none. A drop from the usual SpO2 is
# flagged L likewise: the value is low for this resident, even if above the table's bounds.
TEMPERATURE_RISE = Decimal("1.1")   # IDSA 2008
SPO2_DROP = Decimal(3)              # an app design choice, not taken from a source
PULSE_PRESSURE_MIN = Decimal(20)    # systolic − diastolic below this: confirm the reading


@dataclass(frozen=True)
class Decision:
    """What the rules say of one accepted value: its flag (None within the usual range), the alerts to show and the
    reasons to confirm it by measuring again (codes)."""

    flag: str | None = None
    alerts: tuple[str, ...] = ()
    confirm: tuple[str, ...] = ()


def comparable(code: str, value: Decimal, unit: str) -> Decimal:
    """The value in the unit its rule compares: °F → °C, kPa → mmHg (rounded to the mmHg, as charted)."""
    if unit == "[degF]":
        return (value - 32) * 5 / 9
    if unit == "kPa":
        return kpa_to_mmhg(value)
    return value


def check_plausible(code: str, value: Decimal, unit: str) -> Decimal:
    """The comparable value, or Implausible. A temperature of 86–110 "°C" is a Fahrenheit reading in disguise."""
    rule = RULES.get(code)
    if rule is None:
        return value
    if code == TEMPERATURE and unit == "Cel" and Decimal(86) <= value <= Decimal(110):
        raise Implausible("vital.implausible.fahrenheit", "value")
    comparable_value = comparable(code, value, unit)
    low, high = rule.plausible
    if not low <= comparable_value <= high:
        raise Implausible(f"vital.implausible.{rule.label}", "value")
    return comparable_value


def flag_of(code: str, value: Decimal, unit: str) -> str | None:
    """The flag of a stored value, without the plausibility guard (a value already stored was accepted once):
    what the schema migration and the demo data give rows. None within the usual range or without a rule."""
    rule = RULES.get(code)
    if rule is None:
        return None
    comparable_value = comparable(code, value, unit)
    return next((t.flag for t in rule.thresholds if t.matches(comparable_value)), None)


def baseline_alerts(code: str, comparable_value: Decimal, usual: Decimal) -> tuple[tuple[str, str], ...]:
    """(flag, alert) of the value against the resident's usual value, both in the rule's comparison unit."""
    if code == TEMPERATURE and comparable_value >= usual + TEMPERATURE_RISE:
        return (("H", "alert.temperature.rise_from_baseline"),)
    if code in (SPO2, SPO2_ARTERIAL) and usual - comparable_value >= SPO2_DROP:
        return (("L", "alert.spo2.drop_from_baseline"),)
    return ()


def normal_range(code: str) -> tuple[Decimal | None, Decimal | None]:
    """The bounds of the values the table gives no flag (for a chart's shaded band): the tightest low and high
    thresholds of the sign's rule, in its comparison unit; (None, None) without thresholds."""
    rule = RULES.get(code)
    lows = [t.bound for t in rule.thresholds if t.op in ("<", "<=")] if rule else []
    highs = [t.bound for t in rule.thresholds if t.op in (">", ">=")] if rule else []
    return (max(lows) if lows else None, min(highs) if highs else None)


def decide(code: str, value: Decimal, unit: str, *, baseline: Decimal | None = None) -> Decision:
    """The flag, alerts and reasons to confirm for one value (Implausible when it cannot be real). A code without
    a rule (coded answers, mean pressure) gets no flag. `baseline`: the resident's usual value in the rule's
    comparison unit (°C, %, /min, mmHg: `RULES[code].unit`), None when none is known. The table's flag wins; a
    value only abnormal for this resident gets the baseline rule's flag."""
    rule = RULES.get(code)
    if rule is None:
        return Decision()
    comparable_value = check_plausible(code, value, unit)
    threshold = next((t for t in rule.thresholds if t.matches(comparable_value)), None)
    alerts = [threshold.alert] if threshold else []
    flag = threshold.flag if threshold else None
    for baseline_flag, alert in (baseline_alerts(code, comparable_value, baseline) if baseline is not None else ()):
        alerts.append(alert)
        flag = flag or baseline_flag
    confirm = (rule.confirm_code,) if any(compare(comparable_value, op, bound) for op, bound in rule.confirm) else ()
    return Decision(flag, tuple(alerts), confirm)


def decide_blood_pressure(systolic: Decimal, diastolic: Decimal, unit: str = "mm[Hg]") -> dict[str, Decision]:
    """One cuff reading: each value's own decision, and the checks that need both (systolic above diastolic, a
    pulse pressure wide enough). Keyed by LOINC code."""
    sbp = check_plausible(BP_SYSTOLIC, systolic, unit)
    dbp = check_plausible(BP_DIASTOLIC, diastolic, unit)
    if sbp <= dbp:
        raise Implausible("vital.implausible.blood_pressure", "value")
    decisions = {BP_SYSTOLIC: decide(BP_SYSTOLIC, systolic, unit), BP_DIASTOLIC: decide(BP_DIASTOLIC, diastolic, unit)}
    if sbp - dbp < PULSE_PRESSURE_MIN and not decisions[BP_SYSTOLIC].confirm:
        first = decisions[BP_SYSTOLIC]
        decisions[BP_SYSTOLIC] = Decision(first.flag, first.alerts, ("vital.confirm.blood_pressure",))
    return decisions
