"""Pure parsers, one per GATT characteristic, keyed by the 16-bit UUID as used by `python -m devices decode`."""
from __future__ import annotations

from typing import Callable

from devices.parsers.common import ParsedMeasurement, ParseError
from devices.parsers.temperature import parse_intermediate_temperature, parse_temperature_measurement

PARSERS: dict[str, Callable[[bytes], ParsedMeasurement]] = {
    "2A1C": parse_temperature_measurement,
    "2A1E": parse_intermediate_temperature,
}


def parse(characteristic: str, data: bytes) -> ParsedMeasurement:
    """Parse bytes of a characteristic named by its 16-bit UUID ("2A1C") or a registered format name."""
    key = characteristic.upper().removeprefix("0X")
    try:
        parser = PARSERS[key]
    except KeyError:
        raise KeyError(f"unknown characteristic or format: {characteristic}") from None
    return parser(data)


__all__ = ["PARSERS", "ParseError", "ParsedMeasurement", "parse"]
