"""The narrow interface drivers see: connect, subscribe, read, write, disconnect (and scanning to find devices).

Radio details — bleak, retries, timeouts, operation serialisation, platform quirks — live below it, in
:mod:`devices.bleak_transport`. Drivers and tests above it never touch bleak.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from devices.errors import DeviceError


class TransportError(DeviceError):
    """A Bluetooth operation failed: a code and parameters (devices.errors), worded by whoever shows it."""


class DeviceNotFound(TransportError):
    default_code = "device.not_found"


class ConnectionFailed(TransportError):
    default_code = "device.connection_failed"


class Disconnected(TransportError):
    """The link dropped (device switched off, out of range, battery) while something was expected."""

    default_code = "device.link_lost"


class OperationTimeout(TransportError):
    default_code = "device.no_answer"


class PairingFailed(TransportError):
    """The operating system could not bond with the device (refused, PIN dialog dismissed, out of range)."""

    default_code = "device.pairing_failed"


@dataclass(frozen=True)
class Advertisement:
    """What a scan saw of one device."""

    address: str
    name: str | None
    service_uuids: tuple[str, ...] = ()
    rssi: int | None = None
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)


NotificationHandler = Callable[[bytes], None]


class Transport(Protocol):
    async def scan(self, *, service_uuids: list[str] | None = None,
                   match: Callable[[Advertisement], bool] | None = None,
                   timeout: float = 10.0) -> Advertisement:
        """First advertisement matching the services and the predicate; DeviceNotFound after `timeout`."""

    async def discover(self, *, service_uuids: list[str] | None = None,
                       timeout: float = 4.0) -> list[Advertisement]:
        """Every device advertising one of the services during `timeout` seconds, each once (its latest
        advertisement), in the order first heard. An empty list when nothing answered."""

    async def connect(self, address: str, *, timeout: float = 10.0) -> None: ...

    async def pair(self, address: str) -> None:
        """Bond with the device at `address` where the platform needs it (connecting first when not connected
        to it); the link stays open for the caller. PairingFailed when the platform refuses."""

    async def disconnect(self) -> None: ...

    async def subscribe(self, char_uuid: str, handler: NotificationHandler) -> None:
        """Enable notifications or indications, whichever the characteristic offers (indications when
        it is indicate-only, CCCD 02 00), and deliver each value's bytes to `handler` on the event loop."""

    async def read(self, char_uuid: str) -> bytes: ...

    async def write(self, char_uuid: str, data: bytes, *, response: bool = True) -> None: ...

    def has_characteristic(self, char_uuid: str) -> bool: ...

    def on_disconnect(self, callback: Callable[[], None]) -> None: ...
