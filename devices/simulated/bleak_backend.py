"""A bleak backend over Bumble: simulated peripherals on a virtual air, reached through bleak's public API.

bleak lets a caller choose its scanner and client backends (``BleakScanner(backend=…)``,
``BleakClient(backend=…)``). The classes here implement bleak's backend base classes (``BaseBleakScanner``,
``BaseBleakClient``) over a Bumble central attached to a :class:`devices.simulated.VirtualRadio` (or a
``RemoteRadio``), so demo mode, the command line's ``--simulated`` and the tests go through
:class:`devices.bleak_transport.BleakTransport` exactly as real hardware does. Only this module and the
production transport import bleak; the production transport never imports this one.

Use :func:`simulated_transport` where a transport is built for simulated devices.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble.core import AdvertisingData
from bumble.device import Device, Peer

from devices.bleak_transport import BleakTransport

log = logging.getLogger(__name__)

__all__ = ["BumbleClient", "BumbleScanner", "bumble_backends", "simulated_transport"]


class Radio(Protocol):
    """What the backend needs from a virtual air: the tablet's central, and one LE connection at a time."""

    connect_lock: asyncio.Lock

    async def central(self) -> Device: ...


def simulated_transport(radio: Radio, **kwargs: Any) -> BleakTransport:
    """A bleak transport whose scanner and client run over this virtual air (``kwargs`` go to BleakTransport)."""
    scanner, client = bumble_backends(radio)
    return BleakTransport(scanner_backend=scanner, client_backend=client, **kwargs)


def bumble_backends(radio: Radio) -> tuple[type[BaseBleakScanner], type[BaseBleakClient]]:
    """Scanner and client backend classes bound to one virtual air (bleak instantiates backends itself)."""
    return (type("BoundBumbleScanner", (BumbleScanner,), {"radio": radio}),
            type("BoundBumbleClient", (BumbleClient,), {"radio": radio}))


def bleak_uuid(bumble_uuid: Any) -> str:
    """Bumble UUID -> bleak's 128-bit lower-case string."""
    raw = bytes(reversed(bumble_uuid.to_bytes(force_128=True))).hex()
    return f"{raw[0:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


# Characteristic Properties bits (Core Specification Vol 3 Part G §3.3.1.1), named as bleak names them.
_PROPERTY_NAMES = [(0x01, "broadcast"), (0x02, "read"), (0x04, "write-without-response"), (0x08, "write"),
                   (0x10, "notify"), (0x20, "indicate"), (0x40, "authenticated-signed-writes"),
                   (0x80, "extended-properties")]

_SERVICE_LISTS = (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                  AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                  AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                  AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS)


def _advertised_services(data: AdvertisingData) -> list[str]:
    services: list[str] = []
    for ad_type in _SERVICE_LISTS:
        for value in data.get_all(ad_type):
            services.extend(bleak_uuid(u) for u in (value if isinstance(value, list) else [value]))
    return services


class BumbleScanner(BaseBleakScanner):
    """Reports what the virtual air's central hears as bleak advertisements."""

    radio: Radio  # set by bumble_backends

    def __init__(self, detection_callback: Any, service_uuids: list[str] | None, scanning_mode: str = "active",
                 **_kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        self._central: Device | None = None

    def _on_advertisement(self, advertisement: Any) -> None:
        data = advertisement.data
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
        service_uuids = _advertised_services(data)
        manufacturer = {company: bytes(payload)
                        for company, payload in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA)}
        if not self.is_allowed_uuid(service_uuids):
            return
        address = str(advertisement.address).removesuffix("/P")
        rssi = getattr(self.radio, "rssi", {}).get(address, advertisement.rssi)  # Bumble hears everything at -50
        adv = AdvertisementData(local_name=name, manufacturer_data=manufacturer, service_data={},
                                service_uuids=service_uuids, tx_power=None, rssi=rssi,
                                platform_data=(advertisement,))
        device = self.create_or_update_device(address, address, name, advertisement, adv)
        self.call_detection_callbacks(device, adv)

    async def start(self) -> None:
        self.seen_devices = {}
        self._central = await self.radio.central()
        self._central.on("advertisement", self._on_advertisement)
        await self._central.start_scanning(filter_duplicates=False)

    async def stop(self) -> None:
        if self._central is not None:
            self._central.remove_listener("advertisement", self._on_advertisement)
            await self._central.stop_scanning()


class BumbleClient(BaseBleakClient):
    """One GATT client link on the virtual air, with Bumble's errors translated to BleakError."""

    radio: Radio  # set by bumble_backends

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=kwargs.get("disconnected_callback"),
                         timeout=kwargs.get("timeout", 10.0))
        self._connection = None
        self._peer: Peer | None = None
        self._local_disconnect = False

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        connection = await self._open_link()
        self._connection = connection
        connection.on("disconnection", self._on_disconnection)
        self._peer = Peer(connection)
        try:
            self.services = await self._discover(self._peer)
        except Exception as exc:
            await self.disconnect()
            raise BleakError(f"service discovery failed: {exc}") from exc

    async def _open_link(self) -> Any:
        central = await self.radio.central()
        async with self.radio.connect_lock:
            try:
                return await central.connect(self.address, timeout=self._timeout)
            except BaseException as exc:  # bumble raises its own types: translate to bleak's
                # A pending LE connection must be cancelled, or the controller refuses the next attempt
                # (COMMAND_DISALLOWED) — the same on real controllers.
                try:
                    await central.cancel_connection(self.address)
                except Exception:  # noqa: BLE001 - nothing was pending
                    pass
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise BleakError(f"bumble connect failed: {exc}") from exc

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        await peer.discover_services()
        collection = BleakGATTServiceCollection()
        for service in peer.services:
            await service.discover_characteristics()
            bleak_service = BleakGATTService(service, service.handle, bleak_uuid(service.uuid))
            collection.add_service(bleak_service)
            for char in service.characteristics:
                await char.discover_descriptors()
                props = [n for bit, n in _PROPERTY_NAMES if char.properties & bit]
                bleak_char = BleakGATTCharacteristic(char, char.handle, bleak_uuid(char.uuid), props,
                                                     lambda: self.mtu_size - 3, bleak_service)
                collection.add_characteristic(bleak_char)
                for desc in char.descriptors:
                    collection.add_descriptor(BleakGATTDescriptor(desc, desc.handle, bleak_uuid(desc.type),
                                                                  bleak_char))
        return collection

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        if not self._local_disconnect and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        self._local_disconnect = True
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.disconnect()
            except Exception as exc:  # already gone
                log.debug("bumble disconnect: %s", exc)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Simulated devices need no bonding: accepted, and counted on the radio (tests check it happened)."""
        self._peer_or_fail()
        paired = getattr(self.radio, "paired", None)
        if paired is not None:
            paired.append(self.address)

    async def unpair(self) -> None:
        raise NotImplementedError("simulated devices need no pairing")

    def _peer_or_fail(self) -> Peer:
        if self._peer is None or self._connection is None:
            raise BleakError("Not connected")
        return self._peer

    async def _gatt(self, coro: Any) -> Any:
        """Bumble raises its own ATT/protocol errors; real backends raise BleakError: translate."""
        try:
            return await coro
        except BleakError:
            raise
        except Exception as exc:  # noqa: BLE001 - anything from the stack is a failed GATT operation
            raise BleakError(f"GATT operation failed: {exc}") from exc

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        return bytearray(await self._gatt(self._peer_or_fail().read_value(characteristic.obj)))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, **kwargs: Any) -> bytearray:
        return bytearray(await self._gatt(self._peer_or_fail().read_value(descriptor.obj)))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        await self._gatt(self._peer_or_fail().write_value(characteristic.obj, bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        await self._gatt(self._peer_or_fail().write_value(descriptor.obj, bytes(data), with_response=True))

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback,
                           **kwargs: Any) -> None:
        # bleak's contract: prefer notifications when both are offered; indicate-only gets CCCD 02 00.
        await self._gatt(self._peer_or_fail().subscribe(
            characteristic.obj, lambda value: callback(bytearray(value)), prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        await self._gatt(self._peer_or_fail().unsubscribe(characteristic.obj))
