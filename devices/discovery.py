"""Finding the health devices around the tablet, so an administrator can pair the tablet with its own (its kit).

A discovery scan listens for a few seconds to every advertisement of the services the drivers read, keeps each
device once, and names its kind through the registry's driver matching (vendor protocols by name AND service).
Each device found is then asked who it is: a short connection reads the Device Information service 0x180A
(Model Number 0x2A24, Serial Number 0x2A25, Manufacturer Name 0x2A29; Bluetooth SIG Assigned Numbers §3.4 and
§3.8), the same step a reading starts with (:func:`devices.drivers.base.read_identity`). Devices without it (many
vendor oximeters) are listed by name and address only.

Pairing bonds the tablet with the chosen device where the platform needs it (:meth:`Transport.pair`) and reads
its identity again over that link, so the kit records what the device itself says.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from devices.drivers.base import read_identity
from devices.reading import DeviceIdentity
from devices.registry import DRIVERS, driver_for
from devices.transport import Advertisement, Transport, TransportError

log = logging.getLogger(__name__)

IDENTIFY_TIMEOUT = 5.0


@dataclass(frozen=True)
class FoundDevice:
    """One device heard by a discovery scan: its kind, what it advertised, and who it says it is."""

    kind: str
    address: str
    name: str | None = None
    rssi: int | None = None          # dBm, as the tablet heard it
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None

    def with_identity(self, identity: DeviceIdentity) -> "FoundDevice":
        return FoundDevice(self.kind, self.address, identity.name or self.name, self.rssi, identity.manufacturer,
                           identity.model, identity.serial)


def kind_of(adv: Advertisement) -> str | None:
    """The device kind some driver claims this advertisement for, or None (a printer on a UART service)."""
    return next((kind for kind in DRIVERS if driver_for(kind, adv) is not None), None)


def _services() -> list[str]:
    return list(dict.fromkeys(d.service for drivers in DRIVERS.values() for d in drivers))


async def discover(transport_factory: Callable[[], Transport], *, timeout: float = 4.0,
                   identify: bool = True) -> list[FoundDevice]:
    """Every thermometer, oximeter and blood pressure monitor heard during `timeout` seconds, strongest signal
    first within each kind; with `identify`, each one's Device Information strings (left empty when it has none
    or does not answer)."""
    transport = transport_factory()
    heard = await transport.discover(service_uuids=_services(), timeout=timeout)
    found = []
    for adv in heard:
        kind = kind_of(adv)
        if kind is None:
            continue
        device = FoundDevice(kind, adv.address, adv.name, adv.rssi)
        if identify:
            device = await _identify(transport, adv, device)
        found.append(device)
    order = list(DRIVERS)
    return sorted(found, key=lambda d: (order.index(d.kind), -(d.rssi if d.rssi is not None else -999)))


async def _identify(transport: Transport, adv: Advertisement, device: FoundDevice) -> FoundDevice:
    try:
        await transport.connect(adv.address, timeout=IDENTIFY_TIMEOUT)
    except TransportError as exc:
        log.info("could not identify a %s: %s", device.kind, exc.code)
        return device
    try:
        return device.with_identity(await read_identity(transport, adv))
    finally:
        await transport.disconnect()


async def pair(transport_factory: Callable[[], Transport], device: FoundDevice) -> FoundDevice:
    """Bond with `device` (TransportError, e.g. ``device.pairing_failed``, when it cannot be done) and read its
    identity over the bonded link."""
    transport = transport_factory()
    await transport.pair(device.address)
    try:
        identity = await read_identity(transport, Advertisement(device.address, device.name))
    finally:
        await transport.disconnect()
    return device.with_identity(identity)
