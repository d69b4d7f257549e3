"""Simulated pulse oximeters: the standard Pulse Oximeter Service (0x1822) and two common non-standard streams.

* :class:`SimulatedPlxOximeter` — PLXS v1.0.1: PLX Continuous Measurement 0x2A5F notified ~1 Hz, PLX Spot-check
  Measurement 0x2A5E *indicated* (indicate-only, so a collector that writes CCCD 01 00 gets nothing) when the
  device has finished, PLX Features 0x2A60 readable.
* :class:`SimulatedBerryMed` — BerryMed BM1000 family: 5-byte "BCI" packets at 100 Hz over the Microchip/ISSC
  Transparent UART service, several packets per notification and split across notification boundaries.
* :class:`SimulatedPc60fw` — Viatom/Wellue PC-60FW: ``AA 55`` frames over the Nordic UART service, parameter
  frames ~1 Hz and pleth wave frames ~10 Hz, cut into 20-byte notifications that ignore frame boundaries.
* :class:`SimulatedUartLookalike` — a printer or treadmill advertising the same UART service: oximeter drivers
  must not pick it (these UART service UUIDs are not specific to oximeters).

Byte layouts follow the parsers they feed: devices/parsers/pulse_oximetry.py, berrymed.py, pc60fw.py. Vendor
devices usually offer no Device Information service, so the vendor simulators withdraw it.
"""
from __future__ import annotations

import asyncio
import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from bumble.gatt import Characteristic, CharacteristicValue, Service

from devices import uuids
from devices.ieee11073 import Special, encode_sfloat
from devices.parsers.pc60fw import TOKEN_OXIMETER, TYPE_PARAMS, TYPE_WAVE, build_frame
from devices.simulated.base import READ, READABLE, DeviceInformation, Recent, SimulatedPeripheral, bumble_uuid
from devices.simulated.radio import VirtualRadio

NOTIFY = Characteristic.Properties.NOTIFY
INDICATE = Characteristic.Properties.INDICATE
WRITE = Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE
NO_ACCESS = Characteristic.Permissions(0)
WRITABLE = Characteristic.Permissions.WRITEABLE

# PLXS v1.0.1 Measurement Status bits (u16) and Device and Sensor Status bits (u24) (GATT Specification Supplement,
# PLX Spot-check Measurement 0x2A5E and PLX Continuous Measurement 0x2A5F).
ONGOING, EARLY_ESTIMATE, VALIDATED, FULLY_QUALIFIED = 1 << 5, 1 << 6, 1 << 7, 1 << 8
FROM_STORAGE, UNAVAILABLE, QUESTIONABLE, INVALID = 1 << 9, 1 << 13, 1 << 14, 1 << 15
POOR_SIGNAL, LOW_PERFUSION, SENSOR_UNCONNECTED, SENSOR_DISCONNECTED = 1 << 4, 1 << 5, 1 << 11, 1 << 15


class _DeviceClock:
    """Schedules events at device-time offsets from a start, scaled by the speed factor, without drift (a loop
    of short sleeps would drift at 100 packets per second)."""

    def __init__(self, speed: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()
        self._speed = speed

    async def until(self, device_seconds: float) -> None:
        await asyncio.sleep(max(0.0, self._start + device_seconds / self._speed - self._loop.time()))


class _Link:
    """Tracks one collector's connection so a stream stops when that collector goes away."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.alive = True
        connection.on("disconnection", self._gone)

    def _gone(self, *_args: Any) -> None:
        self.alive = False


# ---------------------------------------------------------------------------------------------------------------
# Standard Pulse Oximeter Service 0x1822
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlxSample:
    """One SpO2/PR pair as the device would encode it: a decimal string or a Special (NaN, NRes, ±INF)."""

    spo2: str | Special
    pulse_rate: str | Special
    meas_status: int = FULLY_QUALIFIED
    dev_status: int = 0


def _samples(spo2: Sequence[str | Special], pulse: Sequence[str | Special], meas_status: int = FULLY_QUALIFIED,
             dev_status: int = 0) -> tuple[PlxSample, ...]:
    return tuple(PlxSample(s, p, meas_status, dev_status) for s, p in zip(spo2, pulse, strict=True))


_SETTLING = _samples(("93", "96"), ("80", "75"), ONGOING | EARLY_ESTIMATE)
_STEADY = _samples(("97",) * 8, ("72", "71", "72", "73", "72", "72", "71", "72"), ONGOING | FULLY_QUALIFIED)
_FINAL = PlxSample("97", "72", VALIDATED | FULLY_QUALIFIED)


@dataclass
class PlxScenario:
    """What the PLX oximeter does once a collector enables notifications on 0x2A5F.

    ``samples`` are notified on 0x2A5F every ``interval_seconds`` (device time); after the last one the device
    holds it (finger still in) or, with ``cycle``, plays them again. ``spot_check`` is indicated on 0x2A5E after
    ``spot_check_after`` samples (None: the device never concludes). ``offer_spot_check`` False makes a
    continuous-only device (no 0x2A5E at all). ``stored`` is a spot-check from an earlier session, indicated as
    soon as the collector subscribes (PLXS "data from measurement storage"). ``disconnect_after`` drops the link
    after that many samples.
    """

    name: str = "normal"
    samples: tuple[PlxSample, ...] = _SETTLING + _STEADY
    cycle: bool = False
    spot_check: PlxSample | None = _FINAL
    spot_check_after: int = 7
    offer_spot_check: bool = True
    stored: PlxSample | None = None
    disconnect_after: int | None = None
    interval_seconds: float = 1.0
    battery_percent: int = 87
    max_seconds: float = 600.0  # bound on a stream nobody stops
    malformed: bool = False  # every value cut 2 bytes short of what its flags announce (a firmware bug)


PLX_SCENARIOS: dict[str, PlxScenario] = {
    "normal": PlxScenario(),
    "continuous_only": PlxScenario(name="continuous_only", spot_check=None, offer_spot_check=False),
    "error": PlxScenario(name="error", samples=_samples((Special.NAN,) * 3, (Special.NAN,) * 3, ONGOING),
                         spot_check=PlxSample(Special.NAN, Special.NAN, INVALID), spot_check_after=3),
    # Pulse above the measurable range (e.g. > 250 /min): SpO2 is reported, PR only as +INF.
    "out_of_range": PlxScenario(name="out_of_range",
                                samples=_samples(("96", "97", "97"), (Special.POS_INF,) * 3, ONGOING),
                                spot_check=PlxSample("97", Special.POS_INF, VALIDATED), spot_check_after=3),
    "low_battery": PlxScenario(name="low_battery", battery_percent=5),
    "low_perfusion": PlxScenario(
        name="low_perfusion",
        samples=_samples(("95",) * 8, ("88", "87", "88", "89", "88", "88", "87", "88"), ONGOING | QUESTIONABLE,
                         LOW_PERFUSION),
        spot_check=PlxSample("95", "88", QUESTIONABLE, LOW_PERFUSION)),
    "no_finger": PlxScenario(name="no_finger", spot_check=None,
                             samples=(PlxSample(Special.NAN, Special.NAN, UNAVAILABLE, SENSOR_UNCONNECTED),)),
    "sensor_disconnected": PlxScenario(
        name="sensor_disconnected", spot_check=None,
        samples=(PlxSample(Special.NAN, Special.NAN, UNAVAILABLE, SENSOR_DISCONNECTED),)),
    "disconnect": PlxScenario(name="disconnect", spot_check=None, disconnect_after=3),
    "unstable": PlxScenario(name="unstable", spot_check=None, cycle=True,
                            samples=_samples(("92", "96", "93", "97", "91", "95"), ("70", "84", "76", "91", "72", "88"),
                                             ONGOING | FULLY_QUALIFIED)),
    # A bonded oximeter first replays a stored spot-check from another session (values unlike today's).
    "stored_record": PlxScenario(name="stored_record", stored=PlxSample("88", "110", FROM_STORAGE | VALIDATED)),
    "malformed": PlxScenario(name="malformed", malformed=True, spot_check_after=3),
}


def plx_continuous_bytes(sample: PlxSample) -> bytes:
    """0x2A5F (PLXS v1.0.1 §3, PLX Continuous Measurement): flags 0x0C (Measurement Status
    and Device and Sensor Status present), SpO2PR-Normal as two SFLOATs, Measurement Status u16, Device and
    Sensor Status u24."""
    return (bytes([0x0C]) + encode_sfloat(sample.spo2) + encode_sfloat(sample.pulse_rate)
            + sample.meas_status.to_bytes(2, "little") + sample.dev_status.to_bytes(3, "little"))


def plx_spot_check_bytes(sample: PlxSample, timestamp: tuple[int, ...] | None = None) -> bytes:
    """0x2A5E (PLXS v1.0.1 §3, PLX Spot-check Measurement): flags bit0 Timestamp (when
    given), bit1 Measurement Status, bit2 Device and Sensor Status; SpO2 and PR SFLOATs, [Date Time 7 bytes],
    Measurement Status u16, Device and Sensor Status u24."""
    flags = 0x06 | (0x01 if timestamp else 0)
    body = encode_sfloat(sample.spo2) + encode_sfloat(sample.pulse_rate)
    if timestamp:
        year, month, day, hours, minutes, seconds = timestamp
        body += year.to_bytes(2, "little") + bytes([month, day, hours, minutes, seconds])
    return bytes([flags]) + body + sample.meas_status.to_bytes(2, "little") + sample.dev_status.to_bytes(3, "little")


# PLX Features 0x2A60 (PLXS v1.0.1 §3): Measurement Status and Device and Sensor Status supported (bits 0-1),
# followed by which bits of each the device can set.
PLX_FEATURES = ((0x0003).to_bytes(2, "little")
                + (ONGOING | EARLY_ESTIMATE | VALIDATED | FULLY_QUALIFIED | FROM_STORAGE | UNAVAILABLE
                   | QUESTIONABLE | INVALID).to_bytes(2, "little")
                + (POOR_SIGNAL | LOW_PERFUSION | SENSOR_UNCONNECTED | SENSOR_DISCONNECTED).to_bytes(3, "little"))


class SimulatedPlxOximeter(SimulatedPeripheral):
    advertised_services = (uuids.PULSE_OXIMETER,)

    def __init__(self, radio: VirtualRadio, *, name: str = "Relais Oxy", address: str | None = None,
                 scenario: PlxScenario | str = "normal", info: DeviceInformation | None = None,
                 speed: float = 1.0) -> None:
        self.scenario = PLX_SCENARIOS[scenario] if isinstance(scenario, str) else scenario
        self.continuous_sent: list[bytes] = Recent()
        self.spot_checks_sent: list[bytes] = Recent()
        self.feature_reads = 0
        super().__init__(radio, name=name, address=address, speed=speed,
                         info=info or DeviceInformation(model="SIM-OXY-1"),
                         battery_percent=self.scenario.battery_percent)

    def build_services(self) -> list[Service]:
        self._continuous = Characteristic(bumble_uuid(uuids.PLX_CONTINUOUS), NOTIFY, NO_ACCESS, b"")
        self._spot_check = Characteristic(bumble_uuid(uuids.PLX_SPOT_CHECK), INDICATE, NO_ACCESS, b"")
        features = Characteristic(bumble_uuid(uuids.PLX_FEATURES), READ, READABLE,
                                  CharacteristicValue(read=self._read_features))
        chars = ([self._spot_check] if self.scenario.offer_spot_check else []) + [self._continuous, features]
        return [Service(bumble_uuid(uuids.PULSE_OXIMETER), chars)]

    def _read_features(self, _connection: Any) -> bytes:
        self.feature_reads += 1
        return PLX_FEATURES

    def on_subscribed(self, connection: Any, characteristic: Characteristic, notify: bool, indicate: bool) -> None:
        s = self.scenario
        if characteristic is self._spot_check and indicate and s.stored is not None:
            stored = plx_spot_check_bytes(s.stored, timestamp=(2024, 3, 1, 8, 15, 0))
            self.spawn(lambda: self._indicate_spot_check(stored))
        if characteristic is self._continuous and notify:
            self.battery_percent = s.battery_percent
            link = _Link(connection)
            self.spawn(lambda: self._run(link))

    def _sample_sequence(self) -> Iterator[PlxSample]:
        s = self.scenario
        if s.cycle:
            return itertools.cycle(s.samples)
        return itertools.chain(s.samples, itertools.repeat(s.samples[-1]))

    async def _run(self, link: _Link) -> None:
        s = self.scenario
        clock = _DeviceClock(self.speed)
        for index, sample in enumerate(self._sample_sequence()):
            if not link.alive or index * s.interval_seconds > s.max_seconds:
                return
            if s.disconnect_after is not None and index == s.disconnect_after:
                await link.connection.disconnect()
                return
            await clock.until((index + 1) * s.interval_seconds)
            if not link.alive:
                return
            payload = plx_continuous_bytes(sample)
            if s.malformed:
                payload = payload[:-2]
            self.continuous_sent.append(payload)
            await self.notify(self._continuous, payload)
            if s.offer_spot_check and s.spot_check is not None and index + 1 == s.spot_check_after:
                spot = plx_spot_check_bytes(s.spot_check)
                self.spawn(lambda: self._indicate_spot_check(spot[:-2] if s.malformed else spot))

    async def _indicate_spot_check(self, payload: bytes) -> None:
        self.spot_checks_sent.append(payload)
        await self.indicate(self._spot_check, payload)


# ---------------------------------------------------------------------------------------------------------------
# Vendor UART devices: shared advertising and GATT shape
# ---------------------------------------------------------------------------------------------------------------

class _VendorUartPeripheral(SimulatedPeripheral):
    """A device with one vendor UART service (notify + write characteristics) and no Device Information.

    Advertising: on air the 128-bit service UUID (18 bytes) and a name do not both fit the 31-byte legacy
    payload, so real modules put one in the scan response and an active scan merges both. Bumble's virtual
    controller neither models scan responses nor enforces the limit, so both go in one payload here: the
    scanner sees the same merged result.
    """

    uart_service: str = ""
    uart_notify: str = ""
    uart_write: str = ""

    def __init__(self, radio: VirtualRadio, *, name: str, address: str | None, speed: float,
                 battery_percent: int | None) -> None:
        super().__init__(radio, name=name, address=address, speed=speed, battery_percent=battery_percent,
                         device_information=False)  # vendor UART oximeters rarely offer DIS
        self.written: list[bytes] = Recent()

    def build_services(self) -> list[Service]:
        self._notify_char = Characteristic(bumble_uuid(self.uart_notify), NOTIFY, NO_ACCESS, b"")
        write_char = Characteristic(bumble_uuid(self.uart_write), WRITE, WRITABLE,
                                    CharacteristicValue(write=lambda _conn, value: self.written.append(bytes(value))))
        return [Service(bumble_uuid(self.uart_service), [self._notify_char, write_char])]

    async def _stream(self, link: _Link, chunks: Iterator[bytes], tick_seconds: float, chunk_sizes: Sequence[int],
                      disconnect_after: float | None, max_seconds: float) -> None:
        """Every tick append the next bytes the device produced, and notify whole chunks of the sizes given,
        whatever the packet boundaries; the rest waits for the next tick (as a UART-to-BLE bridge does)."""
        clock = _DeviceClock(self.speed)
        buffer = bytearray()
        sizes = itertools.cycle(chunk_sizes)
        size = next(sizes)
        for tick, produced in enumerate(chunks, start=1):
            now = tick * tick_seconds
            if not link.alive or now > max_seconds:
                return
            if disconnect_after is not None and now > disconnect_after:
                await link.connection.disconnect()
                return
            await clock.until(now)
            buffer += produced
            while len(buffer) >= size and link.alive:
                chunk, buffer[:size] = bytes(buffer[:size]), b""
                await self.notify(self._notify_char, chunk)
                size = next(sizes)


# ---------------------------------------------------------------------------------------------------------------
# BerryMed BCI over Transparent UART
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class BerryMedScenario:
    """What the BerryMed oximeter streams once notifications are enabled.

    ``spo2``/``pulse`` are per-second values (the last one holds); the first ``searching_seconds`` carry the
    "pulse searching" flag with the no-reading markers. ``finger`` False streams the no-finger flag, ``probe``
    False the probe-unplugged flag, both with markers SpO2 127 and PR 255. BCI packets carry no battery level:
    ``battery_percent`` adds a standard Battery service (an assumption: some BLE modules expose one).
    """

    name: str = "normal"
    spo2: tuple[int, ...] = (95, 96, 97, 98)
    pulse: tuple[int, ...] = (74, 71, 69, 68)
    searching_seconds: float = 0.5
    finger: bool = True
    probe: bool = True
    disconnect_after: float | None = None
    battery_percent: int | None = None
    packets_per_notification_tick: int = 4
    chunk_sizes: tuple[int, ...] = (20, 17, 20, 13)  # notification sizes; not multiples of 5, so packets split
    max_seconds: float = 600.0
    garbage: bool = False  # bytes that never form a BCI packet (no sync bit): another protocol, or a broken module


BERRYMED_SCENARIOS: dict[str, BerryMedScenario] = {
    "normal": BerryMedScenario(),
    "no_finger": BerryMedScenario(name="no_finger", finger=False),
    "probe_unplugged": BerryMedScenario(name="probe_unplugged", probe=False),
    "disconnect": BerryMedScenario(name="disconnect", disconnect_after=1.5),
    "low_battery": BerryMedScenario(name="low_battery", battery_percent=6),
    "malformed": BerryMedScenario(name="malformed", garbage=True),
}

BCI_RATE_HZ = 100


def bci_packet(*, spo2: int | None, pulse: int | None, pleth: int = 50, signal: int = 8, beep: bool = False,
               no_finger: bool = False, probe_unplugged: bool = False, searching: bool = False) -> bytes:
    """One BCI packet (layout in devices/parsers/berrymed.py; Adafruit BerryMed driver, bgould packet.go).
    None values are sent as the no-reading markers SpO2 127, PR 255."""
    pr = 255 if pulse is None else pulse
    b0 = 0x80 | (signal & 0x0F) | (0x10 if no_finger or probe_unplugged else 0) | (0x20 if probe_unplugged else 0) \
        | (0x40 if beep else 0)
    b2 = (min(pleth // 7, 15)) | (0x10 if no_finger else 0) | (0x20 if searching else 0) | ((pr >> 7) << 6)
    return bytes([b0, pleth & 0x7F, b2, pr & 0x7F, 127 if spo2 is None else spo2])


class SimulatedBerryMed(_VendorUartPeripheral):
    advertised_services = (uuids.BERRYMED_SERVICE,)
    uart_service, uart_notify, uart_write = uuids.BERRYMED_SERVICE, uuids.BERRYMED_NOTIFY, uuids.BERRYMED_WRITE

    def __init__(self, radio: VirtualRadio, *, name: str = "BerryMed", address: str | None = None,
                 scenario: BerryMedScenario | str = "normal", speed: float = 1.0) -> None:
        self.scenario = BERRYMED_SCENARIOS[scenario] if isinstance(scenario, str) else scenario
        super().__init__(radio, name=name, address=address, speed=speed,
                         battery_percent=self.scenario.battery_percent)

    def packets(self) -> Iterator[bytes]:
        """The endless 100 Hz packet stream of the scenario."""
        s = self.scenario
        for n in itertools.count():
            t = n / BCI_RATE_HZ
            second = min(int(t), len(s.spo2) - 1)
            spo2, pulse = s.spo2[second], s.pulse[second] + (1 if n // 150 % 3 == 0 else 0)  # ±1 /min jitter
            phase = (t * pulse / 60) % 1.0
            pleth = int(50 + 45 * math.sin(2 * math.pi * phase))
            if s.garbage:
                yield bytes([0x12, 0x34, (n * 7) & 0x7F, 0x56, n & 0x7F])
            elif not s.finger or not s.probe:
                yield bci_packet(spo2=None, pulse=None, pleth=0, signal=0, no_finger=not s.finger,
                                 probe_unplugged=not s.probe)
            elif t < s.searching_seconds:
                yield bci_packet(spo2=None, pulse=None, pleth=pleth, signal=2, searching=True)
            else:
                beep = int(t * pulse / 60) != int((t - 1 / BCI_RATE_HZ) * pulse / 60)
                yield bci_packet(spo2=spo2, pulse=pulse, pleth=pleth, beep=beep)

    def on_subscribed(self, connection: Any, characteristic: Characteristic, notify: bool, indicate: bool) -> None:
        if characteristic is self._notify_char and notify:
            s = self.scenario
            per_tick = s.packets_per_notification_tick
            packets = self.packets()
            ticks = (b"".join(itertools.islice(packets, per_tick)) for _ in itertools.count())
            link = _Link(connection)
            self.spawn(lambda: self._stream(link, ticks, per_tick / BCI_RATE_HZ, s.chunk_sizes, s.disconnect_after,
                                            s.max_seconds))


# ---------------------------------------------------------------------------------------------------------------
# Viatom PC-60FW over Nordic UART
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Pc60fwScenario:
    """What the PC-60FW streams once notifications are enabled: a pleth wave frame every 0.1 s and a parameter
    frame every second. ``spo2``/``pulse`` are per-second values (the last holds; 0 = no value, as the device
    sends without a finger). Every ``corrupt_every``-th parameter frame (0: none) carries ``corrupt_values``
    and a wrong CRC, as line noise would; the collector must drop it."""

    name: str = "normal"
    spo2: tuple[int, ...] = (0, 96, 97, 97)
    pulse: tuple[int, ...] = (0, 80, 76, 75)
    pi_tenths: int = 42
    corrupt_every: int = 0
    corrupt_values: tuple[int, int] = (82, 131)
    disconnect_after: float | None = None
    chunk_sizes: tuple[int, ...] = (20,)
    max_seconds: float = 600.0


PC60FW_SCENARIOS: dict[str, Pc60fwScenario] = {
    "normal": Pc60fwScenario(),
    "bad_crc": Pc60fwScenario(name="bad_crc", corrupt_every=3),
    "malformed": Pc60fwScenario(name="malformed", corrupt_every=1),  # every parameter frame fails its CRC
    "no_finger": Pc60fwScenario(name="no_finger", spo2=(0,), pulse=(0,), pi_tenths=0),
    "disconnect": Pc60fwScenario(name="disconnect", disconnect_after=2.5),
}


def pc60fw_params_frame(spo2: int, pulse: int, pi_tenths: int) -> bytes:
    """Token 0x0F type 0x01: SpO2 u8, PR u16 LE, PI in tenths of %, then two status bytes (left 0 here)."""
    return build_frame(TOKEN_OXIMETER, bytes([TYPE_PARAMS, spo2]) + pulse.to_bytes(2, "little")
                       + bytes([pi_tenths, 0, 0]))


def pc60fw_wave_frame(samples: Sequence[int]) -> bytes:
    return build_frame(TOKEN_OXIMETER, bytes([TYPE_WAVE, *samples]))


class SimulatedPc60fw(_VendorUartPeripheral):
    advertised_services = (uuids.NORDIC_UART_SERVICE,)
    uart_service, uart_notify, uart_write = uuids.NORDIC_UART_SERVICE, uuids.NORDIC_UART_TX, uuids.NORDIC_UART_RX

    def __init__(self, radio: VirtualRadio, *, name: str = "PC-60F_SN0001", address: str | None = None,
                 scenario: Pc60fwScenario | str = "normal", speed: float = 1.0) -> None:
        self.scenario = PC60FW_SCENARIOS[scenario] if isinstance(scenario, str) else scenario
        self.frames_sent: list[bytes] = Recent()
        self.bad_frames_sent: list[bytes] = Recent()
        super().__init__(radio, name=name, address=address, speed=speed, battery_percent=None)

    def frames(self) -> Iterator[bytes]:
        """Per 0.1 s tick: a wave frame, plus a parameter frame on each whole second."""
        s = self.scenario
        params_sent = 0
        for tick in itertools.count():
            t = tick / 10
            finger = bool(s.spo2[min(int(t), len(s.spo2) - 1)])
            wave = [int(64 + 50 * math.sin(2 * math.pi * (t + i / 50) * 1.2)) if finger else 0 for i in range(5)]
            out = pc60fw_wave_frame(wave)
            if tick % 10 == 9:
                second = min(int(t), len(s.spo2) - 1)
                params_sent += 1
                frame = pc60fw_params_frame(s.spo2[second], s.pulse[second], s.pi_tenths if finger else 0)
                if s.corrupt_every and params_sent % s.corrupt_every == 0:
                    frame = pc60fw_params_frame(*s.corrupt_values, s.pi_tenths)
                    frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
                    self.bad_frames_sent.append(frame)
                else:
                    self.frames_sent.append(frame)
                out += frame
            yield out

    def on_subscribed(self, connection: Any, characteristic: Characteristic, notify: bool, indicate: bool) -> None:
        if characteristic is self._notify_char and notify:
            s = self.scenario
            link = _Link(connection)
            self.spawn(lambda: self._stream(link, self.frames(), 0.1, s.chunk_sizes, s.disconnect_after,
                                            s.max_seconds))


# ---------------------------------------------------------------------------------------------------------------
# Look-alikes
# ---------------------------------------------------------------------------------------------------------------

class SimulatedUartLookalike(_VendorUartPeripheral):
    """A non-medical device (label printer, treadmill, speaker) on the same vendor UART service as an oximeter.
    It sends nothing; drivers must never select it."""

    def __init__(self, radio: VirtualRadio, *, name: str = "MPT-II", service: str = uuids.BERRYMED_SERVICE,
                 address: str | None = None) -> None:
        nordic = service == uuids.NORDIC_UART_SERVICE
        self.advertised_services = (service,)
        self.uart_service = service
        self.uart_notify = uuids.NORDIC_UART_TX if nordic else uuids.BERRYMED_NOTIFY
        self.uart_write = uuids.NORDIC_UART_RX if nordic else uuids.BERRYMED_WRITE
        super().__init__(radio, name=name, address=address, speed=1.0, battery_percent=None)


__all__ = ["BERRYMED_SCENARIOS", "BerryMedScenario", "PC60FW_SCENARIOS", "PLX_SCENARIOS", "Pc60fwScenario",
           "PlxSample", "PlxScenario", "SimulatedBerryMed", "SimulatedPc60fw", "SimulatedPlxOximeter",
           "SimulatedUartLookalike", "bci_packet", "pc60fw_params_frame", "pc60fw_wave_frame",
           "plx_continuous_bytes", "plx_spot_check_bytes"]
