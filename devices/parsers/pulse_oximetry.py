"""Pulse Oximeter Service (0x1822) characteristics (Bluetooth PLXS v1.0.1 §3; GATT Specification Supplement).

PLX Spot-check Measurement 0x2A5E (indicate):
  Flags u8: bit0 Timestamp, bit1 Measurement Status, bit2 Device and Sensor Status, bit3 Pulse Amplitude Index,
            bit4 Device Clock is Not Set, bits 5-7 RFU
  SpO2 SFLOAT %, PR SFLOAT /min, [Timestamp 7], [Measurement Status u16], [Device and Sensor Status u24], [PAI SFLOAT %]
PLX Continuous Measurement 0x2A5F (notify):
  Flags u8: bit0 SpO2PR-Fast, bit1 SpO2PR-Slow, bit2 Measurement Status, bit3 Device and Sensor Status, bit4 PAI
  SpO2PR-Normal (SpO2, PR), [SpO2PR-Fast 4], [SpO2PR-Slow 4], [Measurement Status 2], [Device and Sensor Status 3],
  [PAI 2]
PLX Features 0x2A60 (read): Supported Features u16, [Measurement Status Support u16 if bit0],
  [Device and Sensor Status Support u24 if bit1].
"""
from __future__ import annotations

from devices.parsers.common import (InvalidValue, ObservedValue, ParsedMeasurement, ParseError, read_date_time,
                                    require_length, sfloat_at, take_number)

LOINC_SPO2, LOINC_PULSE = "59408-5", "8867-4"

MEASUREMENT_STATUS = {5: "measurement_ongoing", 6: "early_estimated", 7: "validated", 8: "fully_qualified",
                      9: "from_storage", 10: "demonstration", 11: "testing", 12: "calibration_ongoing",
                      13: "measurement_unavailable", 14: "questionable", 15: "invalid"}
DEVICE_SENSOR_STATUS = {0: "extended_display_update", 1: "equipment_malfunction",
                        2: "signal_processing_irregularity", 3: "inadequate_signal", 4: "poor_signal",
                        5: "low_perfusion", 6: "erratic_signal", 7: "nonpulsatile_signal", 8: "questionable_pulse",
                        9: "signal_analysis_ongoing", 10: "sensor_interference", 11: "sensor_unconnected",
                        12: "unknown_sensor", 13: "sensor_displaced", 14: "sensor_malfunctioning",
                        15: "sensor_disconnected"}
SUPPORTED_FEATURES = {0: "meas_status", 1: "dev_sensor_status", 2: "spot_check_storage", 3: "spot_check_timestamp",
                      4: "spo2pr_fast", 5: "spo2pr_slow", 6: "pai", 7: "multiple_bonds"}


def _bits(value: int, names: dict[int, str]) -> list[str]:
    return [name for bit, name in names.items() if value & (1 << bit)]


def _pair(data: bytes, offset: int, suffix: str, obs: list[ObservedValue], inv: list[InvalidValue]) -> None:
    take_number(sfloat_at(data, offset), f"spo2{suffix}", LOINC_SPO2, "%", obs, inv)
    take_number(sfloat_at(data, offset + 2), f"pulse_rate{suffix}", LOINC_PULSE, "/min", obs, inv)


def _status_fields(data: bytes, offset: int, has_meas: bool, has_dev: bool,
                   details: dict[str, object]) -> tuple[int, list[str]]:
    status: list[str] = []
    if has_meas:
        meas = _bits(int.from_bytes(data[offset:offset + 2], "little"), MEASUREMENT_STATUS)
        details["meas_status"] = meas
        status += meas
        offset += 2
    if has_dev:
        dev = _bits(int.from_bytes(data[offset:offset + 3], "little"), DEVICE_SENSOR_STATUS)
        details["dev_status"] = dev
        status += dev
        offset += 3
    return offset, status


def parse_plx_spot_check(data: bytes) -> ParsedMeasurement:
    data = bytes(data)
    require_length(data, 5, "2A5E")
    flags = data[0]
    needed = 5 + (7 if flags & 0x01 else 0) + (2 if flags & 0x02 else 0) + (3 if flags & 0x04 else 0) \
        + (2 if flags & 0x08 else 0)
    require_length(data, needed, f"2A5E with flags 0x{flags:02X}")
    obs: list[ObservedValue] = []
    inv: list[InvalidValue] = []
    details: dict[str, object] = {"device_clock_not_set": bool(flags & 0x10)}
    _pair(data, 1, "", obs, inv)
    offset, timestamp = 5, None
    if flags & 0x01:
        # With "Device Clock is Not Set" the time stamp is meaningless: treat the reading as time-stamp-less.
        timestamp = None if flags & 0x10 else read_date_time(data, offset)
        if timestamp is None and not flags & 0x10:
            inv.append(InvalidValue("timestamp", "reserved"))
        offset += 7
    offset, status = _status_fields(data, offset, bool(flags & 0x02), bool(flags & 0x04), details)
    if flags & 0x08:
        take_number(sfloat_at(data, offset), "pai", "", "%", obs, inv)
    return ParsedMeasurement("2A5E", tuple(obs), tuple(inv), timestamp, tuple(status), details)


def parse_plx_continuous(data: bytes) -> ParsedMeasurement:
    data = bytes(data)
    require_length(data, 5, "2A5F")
    flags = data[0]
    needed = 5 + (4 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0) + (2 if flags & 0x04 else 0) \
        + (3 if flags & 0x08 else 0) + (2 if flags & 0x10 else 0)
    require_length(data, needed, f"2A5F with flags 0x{flags:02X}")
    obs: list[ObservedValue] = []
    inv: list[InvalidValue] = []
    details: dict[str, object] = {}
    _pair(data, 1, "", obs, inv)
    offset = 5
    if flags & 0x01:
        _pair(data, offset, "_fast", obs, inv)
        offset += 4
    if flags & 0x02:
        _pair(data, offset, "_slow", obs, inv)
        offset += 4
    offset, status = _status_fields(data, offset, bool(flags & 0x04), bool(flags & 0x08), details)
    if flags & 0x10:
        take_number(sfloat_at(data, offset), "pai", "", "%", obs, inv)
    return ParsedMeasurement("2A5F", tuple(obs), tuple(inv), None, tuple(status), details)


def parse_plx_features(data: bytes) -> ParsedMeasurement:
    data = bytes(data)
    if len(data) < 2:
        raise ParseError(f"2A60: needs 2 bytes, got {len(data)}")
    supported = int.from_bytes(data[:2], "little")
    needed = 2 + (2 if supported & 0x01 else 0) + (3 if supported & 0x02 else 0)
    if len(data) < needed:
        raise ParseError(f"2A60 with features 0x{supported:04X}: needs {needed} bytes, got {len(data)}")
    details: dict[str, object] = {"supported": _bits(supported, SUPPORTED_FEATURES)}
    offset = 2
    if supported & 0x01:
        details["meas_status_support"] = _bits(int.from_bytes(data[offset:offset + 2], "little"), MEASUREMENT_STATUS)
        offset += 2
    if supported & 0x02:
        details["dev_status_support"] = _bits(int.from_bytes(data[offset:offset + 3], "little"),
                                              DEVICE_SENSOR_STATUS)
    return ParsedMeasurement("2A60", (), details=details)
