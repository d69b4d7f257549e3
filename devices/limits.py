"""How long each phase of a reading may wait, in one place: the drivers stop there, and the app shows the same
figures while it waits ("Searching for the oximeter… 4 s / 15 s") and when it gives up ("after 60 s").

A phase that runs out ends with a device error code and its ``seconds`` parameter, never with a silent wait: a
finger never placed in the oximeter, a thermometer never used, a cuff never started.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

SCAN_SECONDS = 15.0      # finding the device by its advertisement (connecting is bounded by the transport)
MEASURE_SECONDS: Mapping[str, float] = MappingProxyType({
    "oximeter": 60.0,        # finger placed, signal settled (5 s stable) with time to warm a cold hand
    "blood_pressure": 120.0,  # a cuff inflates and deflates in ~40 s; a start on the monitor itself takes longer
    "thermometer": 90.0,     # switched on, taken at the ear or forehead, the value sent
})


@dataclass(frozen=True)
class WaitLimits:
    """The limits a reading uses; tests pass shorter ones."""

    scan: float = SCAN_SECONDS
    measure: Mapping[str, float] = field(default_factory=lambda: dict(MEASURE_SECONDS))

    def for_phase(self, kind: str, phase: str) -> float | None:
        """The limit of a phase ("scanning", "measuring") for a device kind; None for the others (connecting is
        bounded by the transport's attempts)."""
        if phase == "scanning":
            return self.scan
        if phase == "measuring":
            return self.measure_seconds(kind)
        return None

    def measure_seconds(self, kind: str) -> float:
        return float(self.measure.get(kind, MEASURE_SECONDS.get(kind, 60.0)))


DEFAULT_LIMITS = WaitLimits()
