"""How a value's interpretation travels: a flag of HL7 v3 ObservationInterpretation (H, HH, L, LL) in
Observation.interpretation, with its French text for the reader. The flag is not decided here: the clinical rules
(sync.clinical.rules) decided it when staff accepted the value, and the store kept it with the row
(`measurements.interpretation`), which is what the mapping reads.
"""
from __future__ import annotations

from typing import Any

from sync.fhir.terminology import OBSERVATION_INTERPRETATION

INTERPRETATION_DISPLAY = {"H": "High", "HH": "Critical high", "L": "Low", "LL": "Critical low"}
INTERPRETATION_FR = {"H": "élevée", "HH": "très élevée", "L": "basse", "LL": "très basse"}


def interpretation_concept(flag: str | None) -> list[dict[str, Any]] | None:
    """Observation.interpretation for a flag (None when the value is in range)."""
    if flag is None:
        return None
    return [{"coding": [{"system": OBSERVATION_INTERPRETATION, "code": flag, "display": INTERPRETATION_DISPLAY[flag]}],
             "text": INTERPRETATION_FR[flag]}]
