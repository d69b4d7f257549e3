"""Device Information Service (0x180A) strings and Battery Level (0x2A19).

DIS characteristics (Manufacturer Name 0x2A29, Model Number 0x2A24, Serial Number 0x2A25, Firmware Revision
0x2A26) are UTF-8 strings (GATT Specification Supplement §3.x "utf8s"); devices often pad them with NULs or
spaces. Battery Level 0x2A19 is a u8 percentage, 0-100; other values are reserved (Battery Service v1.0 §3.1).
"""
from __future__ import annotations

from devices.parsers.common import InvalidValue, ParsedMeasurement, ParseError


def parse_utf8_string(data: bytes) -> str:
    """A DIS string as staff should see it: NUL/space padding removed, bad bytes replaced, not raised."""
    return bytes(data).split(b"\x00", 1)[0].decode("utf-8", "replace").strip()


def parse_battery_level(data: bytes) -> ParsedMeasurement:
    data = bytes(data)
    if len(data) < 1:
        raise ParseError("2A19: needs 1 byte, got 0")
    level = data[0]
    if level > 100:
        return ParsedMeasurement("2A19", (), (InvalidValue("battery_level", "reserved"),),
                                 details={"battery_percent": None})
    return ParsedMeasurement("2A19", (), details={"battery_percent": level, "battery_low": level <= 15})
