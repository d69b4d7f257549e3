"""The "stable reading" rule for streaming oximeters: when may a value from a live stream be proposed as the reading?

Streaming oximeters (PLX Continuous 0x2A5F, BerryMed BCI, PC-60FW) send values continuously while the
finger is in, including while the signal settles; none of them says "this one is the result". The rule:
propose a value only when SpO2 and pulse rate have stayed within a tolerance (SpO2 ±1 %, PR ±3 /min: the
pulse-rate accuracy ISO 80601-2-61 asks of pulse oximeters) for N seconds (default 5 s) with a finger present and
no invalid or questionable flag. Any unusable sample restarts the window.

Pure: no Bluetooth, no asyncio; time comes from an injectable monotonic clock (seconds), so tests drive it by
hand and simulated devices played faster than real time use a scaled clock.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from devices.parsers.common import ParsedMeasurement

# Why a sample is not usable, from the status names the parsers report (devices/parsers/pulse_oximetry.py for
# PLXS v1.0.1 Measurement Status / Device and Sensor Status bits; berrymed.py and pc60fw.py for vendor flags).
SENSOR_PROBLEM = frozenset({"probe_unplugged", "sensor_disconnected", "sensor_malfunctioning",
                            "equipment_malfunction", "unknown_sensor"})
NO_FINGER = frozenset({"no_finger", "sensor_unconnected", "sensor_displaced"})
NOT_PATIENT_DATA = frozenset({"demonstration", "testing", "from_storage"})
INVALID = frozenset({"invalid", "measurement_unavailable"})
POOR_SIGNAL = frozenset({"questionable", "low_perfusion", "no_signal", "pulse_searching", "inadequate_signal",
                         "poor_signal", "erratic_signal", "nonpulsatile_signal", "questionable_pulse",
                         "signal_processing_irregularity", "sensor_interference"})
SETTLING = frozenset({"early_estimated", "calibration_ongoing"})

#: Reasons, most specific first; ``oximeter.<reason>`` is the code reported when no value could be proposed.
REASONS = ("sensor_problem", "no_finger", "not_patient_data", "invalid", "poor_signal", "settling")
_BY_REASON = dict(zip(REASONS, (SENSOR_PROBLEM, NO_FINGER, NOT_PATIENT_DATA, INVALID, POOR_SIGNAL, SETTLING)))

#: Why nothing was proposed when the measurement time is over: the reasons above, no data at all, or values that
#: never settled.
TIMEOUT_REASONS = ("no_data", *REASONS, "unstable")


def unusable_reason(measurement: ParsedMeasurement) -> str | None:
    """Why this sample cannot count towards a stable reading, or None when it can."""
    status = set(measurement.status)
    for reason in REASONS[:2]:  # no finger / no sensor explains missing values better than "invalid"
        if status & _BY_REASON[reason]:
            return reason
    if measurement.observation("spo2") is None or measurement.observation("pulse_rate") is None:
        return "invalid"
    for reason in REASONS[2:]:
        if status & _BY_REASON[reason]:
            return reason
    return None


@dataclass(frozen=True)
class StableReading:
    """The value proposed: the last sample of a window in which every sample was within tolerance of it."""

    measurement: ParsedMeasurement
    raw: bytes
    spo2: Decimal
    pulse_rate: Decimal
    window_seconds: float
    samples: int


@dataclass(frozen=True)
class _Sample:
    at: float
    spo2: Decimal
    pulse_rate: Decimal
    measurement: ParsedMeasurement
    raw: bytes


class StableReadingRule:
    """Feed every parsed sample with :meth:`add`; it returns a :class:`StableReading` once the rule is met.

    Met when every usable sample of the last ``seconds`` — from the newest sample at least that old up to now — lies
    within ±tolerance of the newest one. The newest sample is proposed (not a median) so that SpO2, pulse rate and
    the raw bytes all come from one real packet. An unusable sample, or a silence longer than ``max_gap`` seconds
    (values before and after a silence say nothing about the time in between), restarts the window.
    """

    def __init__(self, *, seconds: float = 5.0, spo2_tolerance: Decimal | int = 1,
                 pulse_tolerance: Decimal | int = 3, max_gap: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.spo2_tolerance = Decimal(spo2_tolerance)
        self.pulse_tolerance = Decimal(pulse_tolerance)
        self.max_gap = max_gap
        self._clock = clock
        self._history: deque[_Sample] = deque()
        self.samples_seen = 0
        self.last_reason: str | None = None  # why the latest sample was unusable, None if it was usable

    @property
    def reason(self) -> str:
        """Why nothing has been proposed (yet): one of TIMEOUT_REASONS."""
        if not self.samples_seen:
            return "no_data"
        return self.last_reason or "unstable"

    def reset(self) -> None:
        self._history.clear()

    def add(self, measurement: ParsedMeasurement, raw: bytes = b"") -> StableReading | None:
        now = self._clock()
        self.samples_seen += 1
        self.last_reason = unusable_reason(measurement)
        if self.last_reason is not None:
            self.reset()
            return None
        spo2 = measurement.observation("spo2").value
        pulse = measurement.observation("pulse_rate").value
        if self._history and now - self._history[-1].at > self.max_gap:
            self.reset()
        history = self._history
        history.append(_Sample(now, spo2, pulse, measurement, bytes(raw)))
        # Keep the newest sample old enough to open the window, and everything after it.
        while len(history) > 1 and history[1].at <= now - self.seconds:
            history.popleft()
        span = now - history[0].at
        if span < self.seconds:
            return None
        if any(abs(s.spo2 - spo2) > self.spo2_tolerance or abs(s.pulse_rate - pulse) > self.pulse_tolerance
               for s in history):
            return None
        return StableReading(measurement, bytes(raw), spo2, pulse, span, len(history))
