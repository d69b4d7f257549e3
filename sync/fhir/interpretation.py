"""Whether a vital sign is out of range, and how that travels: a flag of HL7 v3 ObservationInterpretation (H, HH,
L, LL) in Observation.interpretation, with its French text for the reader. The thresholds live here together, in
one table, so that a reviewer finds every clinical bound in one place.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sync.fhir.terminology import OBSERVATION_INTERPRETATION
from sync.vocabulary import kpa_to_mmhg

# Interpretation flags (v3 ObservationInterpretation), in °C, %, /min and mmHg, from the clinical sources named on
# each line. Checked in this order: the first match wins. Bounds are inclusive unless the comparison says otherwise.
#  temperature: ≥ 40.0 PAC gravity sign → HH; ≥ 37.8 single-reading fever in LTCF residents (IDSA) → H;
#               ≤ 35.0 hypothermia (NEWS2 3 points, PAC gravity) → LL
#  SpO2:        < 90 urgent alert → LL; < 92 alert (NEWS2 ≤ 91 = 3 points, LTC protocol) → L
#  heart rate:  ≥ 131 (NEWS2 3) → HH; > 120 (PAC gravity sign) → H; ≤ 40 (NEWS2 3) → LL; ≤ 50 (NEWS2) → L
#  systolic:    ≥ 220 (NEWS2 3) → HH; > 180 (grade 3 hypertension) → H; ≤ 90 (NEWS2 3, PAC) → LL; ≤ 100 → L
#  diastolic:   > 110 (grade 3) → H; ≤ 60 (CRB-65) → L
#  mean arterial pressure: no threshold → never flagged
_GE, _GT, _LE, _LT = ">=", ">", "<=", "<"
INTERPRETATION_RULES: dict[str, tuple[tuple[str, str, Decimal], ...]] = {
    "8310-5": (("HH", _GE, Decimal("40.0")), ("H", _GE, Decimal("37.8")), ("LL", _LE, Decimal("35.0"))),
    "59408-5": (("LL", _LT, Decimal(90)), ("L", _LT, Decimal(92))),
    "2708-6": (("LL", _LT, Decimal(90)), ("L", _LT, Decimal(92))),
    "8867-4": (("HH", _GE, Decimal(131)), ("H", _GT, Decimal(120)), ("LL", _LE, Decimal(40)), ("L", _LE, Decimal(50))),
    "8480-6": (("HH", _GE, Decimal(220)), ("H", _GT, Decimal(180)), ("LL", _LE, Decimal(90)), ("L", _LE, Decimal(100))),
    "8462-4": (("H", _GT, Decimal(110)), ("L", _LE, Decimal(60))),
    # respiratory rate: NEWS2 bands, ≥ 25 or ≤ 8 → 3 points
    "9279-1": (("HH", _GE, Decimal(25)), ("H", _GE, Decimal(21)), ("LL", _LE, Decimal(8)), ("L", _LE, Decimal(11))),
}
INTERPRETATION_DISPLAY = {"H": "High", "HH": "Critical high", "L": "Low", "LL": "Critical low"}
INTERPRETATION_FR = {"H": "élevée", "HH": "très élevée", "L": "basse", "LL": "très basse"}


def _comparable(code: str, value: Decimal, unit: str) -> Decimal:
    """The value in the unit the thresholds use: °C, %, /min, mmHg."""
    if unit == "[degF]":
        return (value - 32) * 5 / 9
    if unit == "kPa":
        return kpa_to_mmhg(value)
    return value


def interpretation_flag(code: str, value: Decimal, unit: str) -> str | None:
    """H, HH, L or LL when the value is out of the normal range (INTERPRETATION_RULES), else None."""
    comparable = _comparable(code, value, unit)
    for flag, op, bound in INTERPRETATION_RULES.get(code, ()):
        if ((op == _GE and comparable >= bound) or (op == _GT and comparable > bound)
                or (op == _LE and comparable <= bound) or (op == _LT and comparable < bound)):
            return flag
    return None


def interpretation_concept(flag: str | None) -> list[dict[str, Any]] | None:
    """Observation.interpretation for a flag (None when the value is in range)."""
    if flag is None:
        return None
    return [{"coding": [{"system": OBSERVATION_INTERPRETATION, "code": flag, "display": INTERPRETATION_DISPLAY[flag]}],
             "text": INTERPRETATION_FR[flag]}]
