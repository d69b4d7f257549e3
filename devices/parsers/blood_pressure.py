"""Blood Pressure Service (0x1810) characteristics (Bluetooth BLS v1.1.1 §3; GATT Specification Supplement).

Blood Pressure Measurement 0x2A35 (indicate) and Intermediate Cuff Pressure 0x2A36 (notify) share a layout:
  Flags u8: bit0 unit (0 mmHg, 1 kPa), bit1 Time Stamp, bit2 Pulse Rate, bit3 User ID, bit4 Measurement Status,
            bits 5-7 RFU (ignored)
  Systolic, Diastolic, Mean Arterial Pressure: 3 x SFLOAT (for 0x2A36: current cuff pressure, then two NaN)
  Time Stamp (bit1): Date Time, 7 bytes
  Pulse Rate (bit2): SFLOAT, beats per minute
  User ID (bit3): u8, 0xFF = unknown user
  Measurement Status (bit4): u16: bit0 body movement, bit1 cuff too loose, bit2 irregular pulse,
            bits3-4 pulse rate range (0 within, 1 above upper limit, 2 below lower limit, 3 reserved),
            bit5 improper measurement position, bits 6-15 RFU
Blood Pressure Feature 0x2A49 (read): u16 of supported features.
"""
from __future__ import annotations

from devices.parsers.common import (InvalidValue, ObservedValue, ParsedMeasurement, ParseError, read_date_time,
                                    require_length, sfloat_at, take_number)

LOINC_SYSTOLIC, LOINC_DIASTOLIC, LOINC_MAP, LOINC_PULSE = "8480-6", "8462-4", "8478-0", "8867-4"

_STATUS_BITS = {0: "body_movement", 1: "cuff_too_loose", 2: "irregular_pulse", 5: "improper_position"}
_PULSE_RANGE = {0: "in_range", 1: "above_upper", 2: "below_lower", 3: "reserved"}
_FEATURE_BITS = {0: "body_movement_detection", 1: "cuff_fit_detection", 2: "irregular_pulse_detection",
                 3: "pulse_rate_range_detection", 4: "measurement_position_detection", 5: "multiple_bonds"}


def _parse(data: bytes, characteristic: str, intermediate: bool) -> ParsedMeasurement:
    data = bytes(data)
    require_length(data, 7, characteristic)
    flags = data[0]
    needed = 7 + (7 if flags & 0x02 else 0) + (2 if flags & 0x04 else 0) + (1 if flags & 0x08 else 0) \
        + (2 if flags & 0x10 else 0)
    require_length(data, needed, f"{characteristic} with flags 0x{flags:02X}")
    unit = "kPa" if flags & 0x01 else "mm[Hg]"
    observations: list[ObservedValue] = []
    invalid: list[InvalidValue] = []
    details: dict[str, object] = {"intermediate": intermediate}
    if intermediate:
        # 0x2A36 carries the cuff pressure in the systolic field; diastolic and MAP are NaN by design.
        take_number(sfloat_at(data, 1), "cuff_pressure", "", unit, observations, invalid)
    else:
        for offset, name, code in ((1, "systolic", LOINC_SYSTOLIC), (3, "diastolic", LOINC_DIASTOLIC),
                                   (5, "mean_arterial_pressure", LOINC_MAP)):
            take_number(sfloat_at(data, offset), name, code, unit, observations, invalid)
        if not observations:
            # An all-special record is how monitors report a failed measurement (cuff error, low battery):
            # it must read as an error in plain words, never as "2047/2047".
            details["device_error"] = True
            details["message"] = ("Le tensiomètre signale une erreur de mesure (brassard mal placé, mouvement ou "
                                  "pile faible) : aucune valeur valide, reprenez la mesure.")
    offset = 7
    timestamp = None
    if flags & 0x02:
        timestamp = read_date_time(data, offset)
        if timestamp is None:
            invalid.append(InvalidValue("timestamp", "reserved"))
        offset += 7
    if flags & 0x04:
        take_number(sfloat_at(data, offset), "pulse_rate", LOINC_PULSE, "/min", observations, invalid)
        offset += 2
    if flags & 0x08:
        details["user_id"] = None if data[offset] == 0xFF else data[offset]
        offset += 1
    status: list[str] = []
    if flags & 0x10:
        bits = int.from_bytes(data[offset:offset + 2], "little")
        status = sorted(name for bit, name in _STATUS_BITS.items() if bits & (1 << bit))
        details["pulse_range"] = _PULSE_RANGE[(bits >> 3) & 0x03]
    return ParsedMeasurement(characteristic, tuple(observations), tuple(invalid), timestamp, tuple(status), details)


def parse_blood_pressure_measurement(data: bytes) -> ParsedMeasurement:
    """0x2A35: a final blood pressure result (possibly a stored one, sent in a burst after connecting)."""
    return _parse(data, "2A35", intermediate=False)


def parse_intermediate_cuff_pressure(data: bytes) -> ParsedMeasurement:
    """0x2A36: the cuff pressure while inflating/deflating, for display only."""
    return _parse(data, "2A36", intermediate=True)


def parse_blood_pressure_feature(data: bytes) -> ParsedMeasurement:
    """0x2A49: what the monitor can detect."""
    data = bytes(data)
    if len(data) < 2:
        raise ParseError(f"2A49: needs 2 bytes, got {len(data)}")
    bits = int.from_bytes(data[:2], "little")
    supported = [name for bit, name in _FEATURE_BITS.items() if bits & (1 << bit)]
    return ParsedMeasurement("2A49", (), details={"supported": supported})
