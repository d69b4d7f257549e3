"""What every driver does the same way: read who the device is and its battery, and name a malformed value."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from devices import uuids
from devices.parsers import ParseError
from devices.parsers.device_info import parse_battery_level, parse_utf8_string
from devices.reading import DeviceIdentity
from devices.transport import Advertisement, Transport, TransportError

log = logging.getLogger(__name__)


class MalformedData(TransportError):
    """The device sent bytes that do not parse; the reason is kept, no value is made up."""


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


async def find_and_connect(transport: Transport, *, service: str, match: Callable[[Advertisement], bool],
                           address: str | None, scan_timeout: float,
                           on_state: Callable[[str], None]) -> tuple[Advertisement, asyncio.Event]:
    """Scan filtered by service (and the driver's own match, and `address` when given), connect, and return the
    advertisement with an event set if the link drops. The caller disconnects (try/finally)."""
    on_state("scanning")
    adv = await transport.scan(service_uuids=[service], timeout=scan_timeout,
                               match=lambda a: match(a) and (address is None or a.address == address))
    on_state("connecting")
    await transport.connect(adv.address)
    dropped = asyncio.Event()
    transport.on_disconnect(dropped.set)
    return adv, dropped


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
