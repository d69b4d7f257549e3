"""Health Thermometer Service (0x1809) characteristics.

Temperature Measurement 0x2A1C (indicate) and Intermediate Temperature 0x2A1E (notify) share one layout
(Bluetooth HTS v1.0 §3.1; GATT Specification Supplement "Temperature Measurement"):
  Flags u8: bit0 unit (0 °C, 1 °F), bit1 Time Stamp present, bit2 Temperature Type present, bits 3-7 RFU (ignored)
  Temperature Measurement Value: IEEE-11073 32-bit FLOAT
  Time Stamp (if bit1): Date Time, 7 bytes
  Temperature Type (if bit2): u8, 1 armpit .. 9 tympanum (HTS §3.2, 0x2A1D)
"""
from __future__ import annotations

from devices.parsers.common import (InvalidValue, ObservedValue, ParsedMeasurement, float_at, read_date_time,
                                    require_length, take_number)

LOINC_BODY_TEMPERATURE = "8310-5"

TEMPERATURE_TYPES = {1: "armpit", 2: "body", 3: "ear", 4: "finger", 5: "gastro_intestinal_tract", 6: "mouth",
                     7: "rectum", 8: "toe", 9: "tympanum"}

_FLAG_FAHRENHEIT, _FLAG_TIMESTAMP, _FLAG_TYPE = 0x01, 0x02, 0x04


def _parse(data: bytes, characteristic: str, intermediate: bool) -> ParsedMeasurement:
    data = bytes(data)
    require_length(data, 5, characteristic)
    flags = data[0]
    needed = 5 + (7 if flags & _FLAG_TIMESTAMP else 0) + (1 if flags & _FLAG_TYPE else 0)
    require_length(data, needed, f"{characteristic} with flags 0x{flags:02X}")
    unit = "[degF]" if flags & _FLAG_FAHRENHEIT else "Cel"
    observations: list[ObservedValue] = []
    invalid: list[InvalidValue] = []
    take_number(float_at(data, 1), "temperature", LOINC_BODY_TEMPERATURE, unit, observations, invalid)
    offset = 5
    timestamp = None
    if flags & _FLAG_TIMESTAMP:
        timestamp = read_date_time(data, offset)
        if timestamp is None:
            invalid.append(InvalidValue("timestamp", "reserved"))
        offset += 7
    details: dict[str, object] = {"unit_flag": "fahrenheit" if flags & _FLAG_FAHRENHEIT else "celsius",
                                  "intermediate": intermediate}
    if flags & _FLAG_TYPE:
        code = data[offset]
        details["temperature_type"] = TEMPERATURE_TYPES.get(code)
        if code not in TEMPERATURE_TYPES:
            invalid.append(InvalidValue("temperature_type", "reserved"))
    return ParsedMeasurement(characteristic, tuple(observations), tuple(invalid), timestamp, (), details)


def parse_temperature_measurement(data: bytes) -> ParsedMeasurement:
    """0x2A1C: a final reading, delivered by indication."""
    return _parse(data, "2A1C", intermediate=False)


def parse_intermediate_temperature(data: bytes) -> ParsedMeasurement:
    """0x2A1E: a live value while measuring; for display only, never stored as a result."""
    return _parse(data, "2A1E", intermediate=True)
