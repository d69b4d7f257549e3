"""Viatom / Wellue / Lepu PC-60FW oximeter frames, over the Nordic UART service (notify 6E400003-…).

Frame: AA 55 <token> <len> <len bytes: type, payload..., CRC>; `len` counts the bytes after itself, CRC
included; the CRC is CRC-8/MAXIM (Dallas 1-Wire: reflected polynomial 0x31, init 0) over every byte before it.
Token 0x0F (oximeter), type 0x01: real-time parameters, ~1 Hz: SpO2 u8 (offset 5), pulse rate u16 LE
(offsets 6-7), perfusion index in tenths of % (offset 8).
Type 0x02: pleth wave samples (~10 Hz), no values to record.
Sources: the shared Bluetooth notes (§2), pmenke-de/viatom_pc60fw, viatom LepuBle Pc60FwBleCmd.
"""
from __future__ import annotations

from decimal import Decimal

from devices.parsers.common import InvalidValue, ObservedValue, ParsedMeasurement, ParseError

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


class Pc60fwStream:
    """Reassembles frames split across notifications; frames with a bad CRC are counted and dropped."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.bad_frames = 0

    def feed(self, chunk: bytes) -> list[ParsedMeasurement]:
        return [parsed for _raw, parsed in self.feed_with_raw(chunk)]

    def feed_with_raw(self, chunk: bytes) -> list[tuple[bytes, ParsedMeasurement]]:
        """Each valid frame with its exact bytes (kept with the reading for audit)."""
        self._buffer.extend(chunk)
        out = []
        while True:
            start = self._buffer.find(HEADER)
            if start < 0:
                del self._buffer[:-1 if self._buffer.endswith(b"\xAA") else len(self._buffer)]
                return out
            del self._buffer[:start]
            if len(self._buffer) < 4:
                return out
            total = 4 + self._buffer[3]
            if total > MAX_FRAME or total < 6:
                self.bad_frames += 1
                del self._buffer[:2]
                continue
            if len(self._buffer) < total:
                return out
            frame = bytes(self._buffer[:total])
            try:
                parsed = parse_pc60fw_frame(frame)
            except ParseError:
                self.bad_frames += 1
                del self._buffer[:2]  # resync after the bad header
                continue
            del self._buffer[:total]
            out.append((frame, parsed))
