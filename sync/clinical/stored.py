"""NEWS2 over a session's stored readings (rows of `measurements`: LOINC code, value as decimal text, UCUM unit), the
way the report computes it: the last reading of each kind feeds its parameter (°F and kPa compared as the rules
compare them), the manual answers (ACVPU, air or oxygen, a prescribed SpO2 target of 88–92 %) theirs. Shared by the
report (sync.delivery.content) and the resident's history (sync.store.history), so both give one session one score.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from sync.clinical.news2 import News2, news2
from sync.clinical.rules import comparable
from sync.vocabulary import decimal_from_text

# which NEWS2 parameter a stored reading feeds (sync.clinical.news2 keyword)
NEWS2_INPUTS = {"8310-5": "temperature_c", "59408-5": "spo2", "2708-6": "spo2", "8480-6": "systolic",
                "8867-4": "pulse", "9279-1": "respiration_rate"}


def news2_inputs(measurements: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The keyword arguments of `news2` the readings give (the last of each kind wins)."""
    values: dict[str, Any] = {}
    for m in measurements:
        keyword = NEWS2_INPUTS.get(m["code"])
        if keyword == "respiration_rate":
            values[keyword] = int(decimal_from_text(m["value"]))
        elif keyword:
            values[keyword] = comparable(m["code"], decimal_from_text(m["value"]), m["unit"])
        elif m["code"] == "67775-7":
            values["consciousness"] = m["value"]
        elif m["code"] == "supplemental-oxygen":
            values["on_oxygen"] = m["value"] == "yes"
        elif m["code"] == "spo2-target-88-92" and m["value"] == "yes":
            values["spo2_scale"] = 2
    return values


def news2_of_readings(measurements: Sequence[Mapping[str, Any]]) -> News2 | None:
    """NEWS2 over the stored readings, None when no reading feeds it."""
    values = news2_inputs(measurements)
    if not set(values) - {"spo2_scale"}:
        return None
    return news2(**values)
