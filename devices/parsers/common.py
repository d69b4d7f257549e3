"""Shared result types and helpers for the GATT characteristic parsers.

Parsers are pure functions ``bytes -> ParsedMeasurement`` that check the length against the flags and raise
:class:`ParseError` for malformed input. Special 11073 values never become numbers: they are reported in
``invalid`` with their reason, and the field is absent from ``observations``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from devices.ieee11073 import Special, float_from_bytes, sfloat_from_bytes


class ParseError(ValueError):
    """The bytes are not a well-formed value of the characteristic (too short, flags announce missing fields)."""


@dataclass(frozen=True)
class ObservedValue:
    """One valid measured quantity: LOINC code, decimal value as encoded, UCUM unit."""

    field: str
    code: str
    value: Decimal
    unit: str


@dataclass(frozen=True)
class InvalidValue:
    """A field the device sent as a special or reserved value: shown as an error, never as a reading."""

    field: str
    reason: str  # "NaN" | "NRes" | "+INF" | "-INF" | "reserved"


@dataclass(frozen=True)
class DeviceTime:
    """A GATT Date Time (0x2A08 layout): device-local wall time, no zone; year/month/day may be unknown (0)."""

    year: int | None
    month: int | None
    day: int | None
    hours: int
    minutes: int
    seconds: int

    @property
    def complete(self) -> bool:
        return None not in (self.year, self.month, self.day)

    def to_datetime(self) -> dt.datetime | None:
        """Naive local datetime, or None when the date is partly unknown."""
        if not self.complete:
            return None
        return dt.datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)

    def isoformat(self) -> str | None:
        value = self.to_datetime()
        return value.isoformat() if value else None

    def describe(self) -> str:
        """Human text that keeps unknown parts visible, e.g. 'year-unknown 04-17 20:41:59'."""
        year = f"{self.year:04d}-" if self.year else "year-unknown "
        month = f"{self.month:02d}" if self.month else "month-unknown"
        day = f"{self.day:02d}" if self.day else "day-unknown"
        return f"{year}{month}-{day} {self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}"


@dataclass(frozen=True)
class ParsedMeasurement:
    """What a parser hands to drivers and the workflow."""

    characteristic: str
    observations: tuple[ObservedValue, ...]
    invalid: tuple[InvalidValue, ...] = ()
    timestamp: DeviceTime | None = None
    status: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def observation(self, field_name: str) -> ObservedValue | None:
        return next((o for o in self.observations if o.field == field_name), None)

    def to_json(self) -> dict[str, Any]:
        """The `python -m devices decode` contract: decimal values as strings, exactly as encoded."""
        return {
            "characteristic": self.characteristic,
            "observations": [{"field": o.field, "code": o.code, "value": str(o.value), "unit": o.unit}
                             for o in self.observations],
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "timestamp_text": self.timestamp.describe() if self.timestamp else None,
            "invalid": [{"field": i.field, "reason": i.reason} for i in self.invalid],
            "status": list(self.status),
            **{k: v for k, v in self.details.items()},
        }


def require_length(data: bytes, needed: int, what: str) -> None:
    if len(data) < needed:
        raise ParseError(f"{what}: needs {needed} bytes, got {len(data)}")


def read_date_time(data: bytes, offset: int) -> DeviceTime | None:
    """Date Time (GATT Specification Supplement, 0x2A08): year u16 LE (0 = unknown, else 1582..9999),
    month (0 = unknown), day (0 = unknown), hours, minutes, seconds. Returns None when a field holds a value
    the spec reserves, so a wrong clock never becomes a plausible-looking time."""
    year = int.from_bytes(data[offset:offset + 2], "little")
    month, day, hours, minutes, seconds = data[offset + 2:offset + 7]
    if (year != 0 and not 1582 <= year <= 9999) or month > 12 or day > 31 or hours > 23 or minutes > 59 \
            or seconds > 59:
        return None
    stamp = DeviceTime(year or None, month or None, day or None, hours, minutes, seconds)
    if stamp.complete:
        try:
            stamp.to_datetime()
        except ValueError:  # 31 February and the like
            return None
    return stamp


def take_number(value: Decimal | Special, field_name: str, code: str, unit: str,
                observations: list[ObservedValue], invalid: list[InvalidValue]) -> None:
    """Route a decoded 11073 number to observations or to invalid, never both."""
    if isinstance(value, Special):
        invalid.append(InvalidValue(field_name, value.value))
    else:
        observations.append(ObservedValue(field_name, code, value, unit))


def sfloat_at(data: bytes, offset: int) -> Decimal | Special:
    return sfloat_from_bytes(data, offset)


def float_at(data: bytes, offset: int) -> Decimal | Special:
    return float_from_bytes(data, offset)
