"""Viatom / Wellue / Lepu PC-60FW oximeter frames, over the Nordic UART service (notify 6E400003-…).

Frame: AA 55 <token> <len> <len bytes: type, payload..., CRC>; `len` counts the bytes after itself, CRC
included; the CRC is CRC-8/MAXIM (Dallas 1-Wire: reflected polynomial 0x31, init 0) over every byte before it.
Token 0x0F (oximeter), type 0x01: real-time parameters, ~1 Hz: SpO2 u8 (offset 5), pulse rate u16 LE
(offsets 6-7), perfusion index in tenths of % (offset 8).
Type 0x02: pleth wave samples (~10 Hz), no values to record.
Sources: the Viatom/Lepu PC-60FW Bluetooth protocol as implemented by pmenke-de/viatom_pc60fw and Viatom's
LepuBle SDK (Pc60FwBleCmd).
"""
from __future__ import annotations

from decimal import Decimal

from devices.parsers.common import InvalidValue, ObservedValue, ParsedMeasurement, ParseError
from devices.parsers.framing import FrameStream, NotAFrame

LOINC_SPO2, LOINC_PULSE = "59408-5", "8867-4"
HEADER = b"\xAA\x55"
TOKEN_OXIMETER, TYPE_PARAMS, TYPE_WAVE = 0x0F, 0x01, 0x02
MAX_FRAME = 64


def crc8_maxim(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc


def build_frame(token: int, payload: bytes) -> bytes:
    """For simulated devices and tests: header, token, length, payload, CRC."""
    body = HEADER + bytes([token, len(payload) + 1]) + payload
    return body + bytes([crc8_maxim(body)])


def parse_pc60fw_frame(frame: bytes) -> ParsedMeasurement:
    frame = bytes(frame)
    if len(frame) < 6 or frame[:2] != HEADER:
        raise ParseError("pc60fw: a frame starts with AA 55 and is at least 6 bytes")
    length = frame[3]
    if len(frame) != 4 + length:
        raise ParseError(f"pc60fw: length byte says {4 + length} bytes, got {len(frame)}")
    if crc8_maxim(frame[:-1]) != frame[-1]:
        raise ParseError("pc60fw: bad CRC")
    token, kind = frame[2], frame[4]
    if token != TOKEN_OXIMETER or kind != TYPE_PARAMS:
        return ParsedMeasurement("pc60fw", (), details={"token": token, "type": kind, "values": False})
    if len(frame) < 11:
        raise ParseError("pc60fw: real-time parameter frame too short")
    spo2, pulse, pi_tenths = frame[5], int.from_bytes(frame[6:8], "little"), frame[8]
    observations: list[ObservedValue] = []
    invalid: list[InvalidValue] = []
    if 0 < spo2 <= 100:
        observations.append(ObservedValue("spo2", LOINC_SPO2, Decimal(spo2), "%"))
    else:
        invalid.append(InvalidValue("spo2", "NaN"))
    if 0 < pulse < 255:
        observations.append(ObservedValue("pulse_rate", LOINC_PULSE, Decimal(pulse), "/min"))
    else:
        invalid.append(InvalidValue("pulse_rate", "NaN"))
    if pi_tenths:
        observations.append(ObservedValue("pai", "", Decimal(pi_tenths).scaleb(-1), "%"))
    status = ("no_finger",) if not observations else ()
    return ParsedMeasurement("pc60fw", tuple(observations), tuple(invalid), None, status,
                             {"token": token, "type": kind, "values": True})


class Pc60fwStream(FrameStream):
    """``AA 55`` frames out of a notification stream; a frame with an impossible length or a bad CRC is counted
    in ``bad_frames`` and dropped, and the search resumes after its header."""

    resync_skip = len(HEADER)

    def _find_start(self, buffer: bytearray) -> int:
        return buffer.find(HEADER)

    def _partial_start(self, buffer: bytearray) -> int:
        return 1 if buffer.endswith(HEADER[:1]) else 0

    def _frame_length(self, buffer: bytearray) -> int | None:
        if len(buffer) < 4:
            return None
        total = 4 + buffer[3]
        if total > MAX_FRAME or total < 6:
            raise NotAFrame(len(HEADER))
        return total

    def _parse(self, frame: bytes) -> ParsedMeasurement:
        return parse_pc60fw_frame(frame)
