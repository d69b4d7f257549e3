"""Pure parsers, one per GATT characteristic, keyed by the 16-bit UUID as used by `python -m devices decode`."""
from __future__ import annotations

from typing import Callable

from devices.parsers.common import ParsedMeasurement, ParseError
from devices.parsers.berrymed import parse_berrymed_packet
from devices.parsers.blood_pressure import (parse_blood_pressure_feature, parse_blood_pressure_measurement,
                                            parse_intermediate_cuff_pressure)
from devices.parsers.device_info import parse_battery_level
from devices.parsers.pc60fw import parse_pc60fw_frame
from devices.parsers.pulse_oximetry import parse_plx_continuous, parse_plx_features, parse_plx_spot_check
from devices.parsers.temperature import parse_intermediate_temperature, parse_temperature_measurement

PARSERS: dict[str, Callable[[bytes], ParsedMeasurement]] = {
    "2A1C": parse_temperature_measurement,
    "2A1E": parse_intermediate_temperature,
    "2A19": parse_battery_level,
    "2A35": parse_blood_pressure_measurement,
    "2A36": parse_intermediate_cuff_pressure,
    "2A49": parse_blood_pressure_feature,
    "2A5E": parse_plx_spot_check,
    "2A5F": parse_plx_continuous,
    "2A60": parse_plx_features,
    "BERRYMED": parse_berrymed_packet,
    "PC60FW": parse_pc60fw_frame,
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
