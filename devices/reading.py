"""What a device driver hands to the workflow: a parsed measurement with its provenance."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from devices.parsers.common import ParsedMeasurement


@dataclass(frozen=True)
class DeviceIdentity:
    """Who measured: the address seen on the air and the Device Information service (0x180A) strings."""

    address: str
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class DeviceReading:
    kind: str                       # "thermometer", "blood_pressure" or "oximeter": a key of registry.DRIVERS
    measurement: ParsedMeasurement  # parsed from `raw`
    raw: bytes                      # the characteristic value exactly as received, kept for audit
    device: DeviceIdentity
    received_at: dt.datetime        # tablet clock, UTC, when the final value arrived
    battery_percent: int | None = None
