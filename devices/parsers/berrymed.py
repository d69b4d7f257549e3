"""BerryMed "BCI" oximeter protocol (BM1000 family), over the Microchip/ISSC Transparent UART service.

Packets are 5 bytes at ~100 Hz; only byte 0 has bit 7 set (the sync bit), so a stream can be re-aligned after
lost or split notifications. Layout (BCI protocol as implemented by Adafruit's BerryMed driver and
bgould/berrymed-pulseox-reader packet.go):
  b0: bits0-3 signal strength, bit4 no signal, bit5 probe unplugged, bit6 pulse beep, bit7 sync (1)
  b1: pleth 0-100 (bit7 0)
  b2: bits0-3 bar graph, bit4 no finger, bit5 pulse searching, bit6 pulse rate bit 7
  b3: pulse rate bits 0-6 (with b2 bit6: 255 = no reading)
  b4: SpO2 % (127 = no reading)
"""
from __future__ import annotations

from decimal import Decimal

from devices.parsers.common import InvalidValue, ObservedValue, ParsedMeasurement, ParseError
from devices.parsers.framing import FrameStream, NotAFrame

LOINC_SPO2, LOINC_PULSE = "59408-5", "8867-4"
PACKET_LENGTH = 5


def parse_berrymed_packet(data: bytes) -> ParsedMeasurement:
    data = bytes(data)
    if len(data) != PACKET_LENGTH:
        raise ParseError(f"berrymed: a packet is 5 bytes, got {len(data)}")
    if not data[0] & 0x80 or any(b & 0x80 for b in data[1:]):
        raise ParseError("berrymed: sync bit must be set in byte 0 only")
    b0, b1, b2, b3, b4 = data
    pulse = b3 | ((b2 & 0x40) << 1)
    status = [name for flag, name in ((b0 & 0x10, "no_signal"), (b0 & 0x20, "probe_unplugged"),
                                       (b2 & 0x10, "no_finger"), (b2 & 0x20, "pulse_searching")) if flag]
    observations: list[ObservedValue] = []
    invalid: list[InvalidValue] = []
    # Without a finger or a probe, whatever the value bytes say is not a reading.
    unusable = bool({"no_finger", "probe_unplugged", "no_signal"} & set(status))
    if b4 == 127 or b4 > 100 or unusable:
        invalid.append(InvalidValue("spo2", "NaN"))
    else:
        observations.append(ObservedValue("spo2", LOINC_SPO2, Decimal(b4), "%"))
    if pulse == 255 or pulse == 0 or unusable:
        invalid.append(InvalidValue("pulse_rate", "NaN"))
    else:
        observations.append(ObservedValue("pulse_rate", LOINC_PULSE, Decimal(pulse), "/min"))
    details = {"signal_strength": b0 & 0x0F, "pulse_beep": bool(b0 & 0x40), "pleth": b1, "bargraph": b2 & 0x0F}
    return ParsedMeasurement("berrymed", tuple(observations), tuple(invalid), None, tuple(status), details)


class BerryMedStream(FrameStream):
    """BCI packets out of a notification stream: a packet starts at a byte with bit 7 set; a packet cut short by
    the next sync byte is dropped up to that byte. Junk bytes are what a BerryMed stream cannot read."""

    def _find_start(self, buffer: bytearray) -> int:
        return next((i for i, b in enumerate(buffer) if b & 0x80), -1)

    def _frame_length(self, buffer: bytearray) -> int | None:
        if len(buffer) < PACKET_LENGTH:
            return None
        next_sync = next((i for i in range(1, PACKET_LENGTH) if buffer[i] & 0x80), None)
        if next_sync is not None:  # a packet cut short: resync on the next sync byte
            raise NotAFrame(next_sync)
        return PACKET_LENGTH

    def _parse(self, frame: bytes) -> ParsedMeasurement:
        return parse_berrymed_packet(frame)

    @property
    def unreadable(self) -> int:
        return self.dropped_bytes
