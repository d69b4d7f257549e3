"""The sequence every driver follows, written once: connect → identify → measure → always disconnect.

A driver is handed the device a scan found (or finds one itself when used alone), connects, reads who the
device is from the Device Information service 0x180A (Manufacturer Name 0x2A29, Model Number 0x2A24, Serial
Number 0x2A25, Firmware Revision 0x2A26) and its Battery Level 0x2A19 where offered, then lets the subclass
subscribe and wait for its value. The link is closed whatever happens once it is open. A link that drops before
the value is reported as :class:`Disconnected`, bytes that do not parse as :class:`MalformedData`; neither is
ever turned into a reading.

Subclasses say only what is specific to their profile: the service they match (:meth:`Driver.matches`), what
to read and subscribe to (:meth:`Driver._start`) and how the value is chosen (:meth:`Driver._result`). Failures
are codes with the device kind as parameter (:mod:`devices.errors`); the app words them.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Callable

from devices import uuids
from devices.limits import MEASURE_SECONDS, SCAN_SECONDS
from devices.parsers import ParseError, ParsedMeasurement
from devices.parsers.device_info import parse_battery_level, parse_utf8_string
from devices.reading import DeviceIdentity, DeviceReading
from devices.transport import (Advertisement, DeviceNotFound, Disconnected, OperationTimeout, Transport,
                               TransportError)

log = logging.getLogger(__name__)


class MalformedData(TransportError):
    """The device sent bytes that do not parse; the parser's reason is kept as the cause (for logs), no value is
    made up."""

    default_code = "device.malformed"


_DIS_FIELDS = (("manufacturer", uuids.MANUFACTURER_NAME), ("model", uuids.MODEL_NUMBER),
               ("serial", uuids.SERIAL_NUMBER), ("firmware", uuids.FIRMWARE_REVISION))


async def read_identity(transport: Transport, adv: Advertisement) -> DeviceIdentity:
    """Address and name from the advertisement, plus Device Information (0x180A) strings where offered.
    A string that cannot be read is left out, never guessed."""
    fields = {}
    for key, char in _DIS_FIELDS:
        if transport.has_characteristic(char):
            try:
                fields[key] = parse_utf8_string(await transport.read(char))
            except TransportError as exc:
                log.info("device information %s unreadable: %s", key, type(exc).__name__)
    return DeviceIdentity(address=adv.address, name=adv.name, **fields)


async def read_battery(transport: Transport) -> int | None:
    """Battery Level (0x2A19) in percent, or None when absent, unreadable or reserved."""
    if not transport.has_characteristic(uuids.BATTERY_LEVEL):
        return None
    try:
        return parse_battery_level(await transport.read(uuids.BATTERY_LEVEL)).details["battery_percent"]
    except (TransportError, ParseError):
        return None


LINK_DROPPED = object()  # what `next_or_drop` returns when the link went down first


async def next_or_drop(queue: asyncio.Queue, dropped: asyncio.Event, timeout: float) -> object:
    """The next queued value; LINK_DROPPED when the link went down first; None after `timeout` seconds."""
    if not queue.empty():
        return queue.get_nowait()
    get = asyncio.ensure_future(queue.get())
    lost = asyncio.ensure_future(dropped.wait())
    try:
        done, _ = await asyncio.wait({get, lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (get, lost):
            if not task.done():
                task.cancel()
    if get in done:
        return get.result()
    return LINK_DROPPED if lost in done else None


def seconds_param(timeout: float) -> str:
    """A phase limit as a message shows it: "60", "1.5"."""
    return f"{timeout:g}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


Result = tuple[ParsedMeasurement, bytes, dt.datetime]  # the value, its bytes as received, when they arrived


class Driver:
    """One reading from one device of one profile. Create one per reading, over a fresh transport.

    States reported through ``on_state``: "scanning" (only when the driver scans itself), "connecting",
    "measuring", "done". Values shown while the device measures go to ``on_live``."""

    kind: str = ""
    service: str = ""
    measure_timeout: float = MEASURE_SECONDS["oximeter"]

    def __init__(self, transport: Transport, *, on_state: Callable[[str], None] | None = None,
                 on_live: Callable[[ParsedMeasurement], None] | None = None,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        """``clock`` stamps the reading (UTC, aware)."""
        self.transport = transport
        self._on_state = on_state or (lambda _s: None)
        self._on_live = on_live or (lambda _m: None)
        self._clock = clock

    @classmethod
    def matches(cls, adv: Advertisement) -> bool:
        """Whether this driver reads the advertised device (standard profiles: the service is advertised)."""
        return cls.service in adv.service_uuids

    async def read(self, device: Advertisement | None = None, *, address: str | None = None,
                   scan_timeout: float = SCAN_SECONDS, measure_timeout: float | None = None) -> DeviceReading:
        """Read `device` (as a scan saw it), or else find one this driver matches (the one at `address` when
        given); take one value; disconnect.

        Raises DeviceNotFound, ConnectionFailed, Disconnected, MalformedData, or OperationTimeout when no value
        came within `measure_timeout` seconds (the class default when None). Cancelled at any point (staff
        cancel the measurement), it stops scanning or closes the link before the cancellation goes on."""
        self._reset()
        if device is None:
            device = await self._find(address, scan_timeout)
        self._on_state("connecting")
        dropped = asyncio.Event()
        try:
            await self.transport.connect(device.address)
            self.transport.on_disconnect(dropped.set)
            identity = await read_identity(self.transport, device)
            battery = await read_battery(self.transport)
            await self._start()
            self._on_state("measuring")
            try:
                measurement, raw, received_at = await self._result(
                    dropped, self.measure_timeout if measure_timeout is None else measure_timeout)
            except ParseError as exc:
                raise self._malformed(exc) from exc
            self._on_state("done")
            return DeviceReading(self.kind, measurement, raw, identity, received_at, battery)
        finally:
            await self.transport.disconnect()

    async def _find(self, address: str | None, scan_timeout: float) -> Advertisement:
        """Scan filtered by the service, the driver's own match, and `address` when given."""
        self._on_state("scanning")
        try:
            return await self.transport.scan(
                service_uuids=[self.service], timeout=scan_timeout,
                match=lambda a: self.matches(a) and (address is None or a.address == address))
        except DeviceNotFound as exc:
            raise DeviceNotFound(kind=self.kind, seconds=seconds_param(scan_timeout)) from exc

    # -- what each profile says ------------------------------------------------------------------------------
    def _reset(self) -> None:
        """Forget what a previous reading left on this driver (before anything else)."""

    async def _start(self) -> None:
        """Connected and identified: read what the profile needs and subscribe."""
        raise NotImplementedError

    async def _result(self, dropped: asyncio.Event, timeout: float) -> Result:
        """Wait for the value; a ParseError raised here is reported as MalformedData."""
        raise NotImplementedError

    # -- errors, as codes naming the device kind --------------------------------------------------------------
    def _malformed(self, exc: ParseError) -> MalformedData:
        log.info("%s sent unreadable bytes: %s", self.kind, exc)
        return MalformedData(kind=self.kind)

    def _link_lost(self) -> Disconnected:
        return Disconnected(kind=self.kind)

    def _no_measurement(self, timeout: float) -> OperationTimeout:
        return OperationTimeout("device.no_measurement", kind=self.kind, seconds=seconds_param(timeout))
