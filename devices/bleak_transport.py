"""The bleak implementation of :class:`devices.transport.Transport` — the only module that imports bleak.

Also holds a bleak *backend* over Bumble (:func:`bumble_backends`), so simulated devices on a
:class:`devices.simulated.VirtualRadio` are reached through bleak's public ``BleakScanner``/``BleakClient`` API,
exactly the code path used with real hardware.

What lives here, below the drivers: connect retries with exponential backoff, per-operation timeouts, strictly
serialised GATT operations (one at a time, as Android and most stacks require), and the p4android work-around
for indicate-only characteristics (its ``start_notify`` always writes CCCD 01 00, which indicate-only
characteristics such as 0x2A1C ignore; see shared notes on Android, §5).
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Callable

from bleak import BleakClient, BleakScanner
from bleak.backends import BleakBackend
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError

from devices import uuids
from devices.transport import (Advertisement, ConnectionFailed, DeviceNotFound, Disconnected, NotificationHandler,
                               OperationTimeout, TransportError)

if TYPE_CHECKING:
    from devices.simulated import VirtualRadio

log = logging.getLogger(__name__)

CCCD_INDICATE = b"\x02\x00"


def _normalise(uuid: str) -> str:
    u = uuid.lower()
    return uuids.sig_uuid(int(u, 16)) if len(u) == 4 else u


class BleakTransport:
    """One connection to one peripheral through bleak. Create one per device being read."""

    def __init__(self, *, scanner_backend: type[BaseBleakScanner] | None = None,
                 client_backend: type[BaseBleakClient] | None = None, connect_attempts: int = 3,
                 backoff_seconds: float = 0.5, op_timeout: float = 10.0) -> None:
        self._scanner_backend = scanner_backend
        self._client_backend = client_backend
        self._connect_attempts = connect_attempts
        self._backoff = backoff_seconds
        self._op_timeout = op_timeout
        self._client: BleakClient | None = None
        self._seen: dict[str, BLEDevice] = {}
        self._gatt_lock = asyncio.Lock()
        self._disconnect_callbacks: list[Callable[[], None]] = []
        self._closing = False

    @classmethod
    def simulated(cls, radio: "VirtualRadio", **kwargs: Any) -> "BleakTransport":
        scanner, client = bumble_backends(radio)
        return cls(scanner_backend=scanner, client_backend=client, **kwargs)

    @property
    def backend_name(self) -> str:
        return self._client_backend.__name__ if self._client_backend else "platform"

    async def scan(self, *, service_uuids: list[str] | None = None,
                   match: Callable[[Advertisement], bool] | None = None, timeout: float = 10.0) -> Advertisement:
        wanted = [_normalise(u) for u in service_uuids] if service_uuids else None

        def accept(device: BLEDevice, adv: AdvertisementData) -> bool:
            if wanted and not set(wanted) & {u.lower() for u in adv.service_uuids}:
                return False
            return match is None or match(_advertisement(device, adv))

        kwargs: dict[str, Any] = {"backend": self._scanner_backend} if self._scanner_backend else {}
        try:
            async with BleakScanner(service_uuids=wanted, **kwargs) as scanner:
                found = None
                async with asyncio.timeout(timeout):
                    async for device, adv in scanner.advertisement_data():
                        if accept(device, adv):
                            found = (device, adv)
                            break
        except TimeoutError:
            raise DeviceNotFound("aucun appareil trouvé / no device found") from None
        except OSError as exc:  # no adapter, no BlueZ/D-Bus, radio switched off
            raise TransportError(f"adaptateur Bluetooth indisponible / Bluetooth adapter unavailable ({exc})") \
                from exc
        except BleakError as exc:
            raise TransportError(f"scan failed: {exc}") from exc
        device, adv = found
        self._seen[device.address] = device
        return _advertisement(device, adv)

    async def connect(self, address: str, *, timeout: float = 10.0) -> None:
        target: BLEDevice | str = self._seen.get(address, address)
        kwargs: dict[str, Any] = {"backend": self._client_backend} if self._client_backend else {}
        last: Exception | None = None
        for attempt in range(1, self._connect_attempts + 1):
            client = BleakClient(target, disconnected_callback=self._on_bleak_disconnect, timeout=timeout, **kwargs)
            try:
                # bleak applies `timeout` itself; ours is a backstop a little later, so the backend can cancel
                # its pending connection cleanly first.
                async with asyncio.timeout(timeout + 2.0):
                    await client.connect()
                self._client = client
                self._closing = False
                return
            except (TimeoutError, BleakError, OSError) as exc:
                last = exc
                log.info("connect attempt %d/%d failed: %s", attempt, self._connect_attempts, type(exc).__name__)
                try:
                    await client.disconnect()
                except Exception:  # noqa: BLE001 - cleaning up a half-open link
                    pass
                if attempt < self._connect_attempts:
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        raise ConnectionFailed(f"could not connect after {self._connect_attempts} attempts: {last}") from last

    async def disconnect(self) -> None:
        client, self._client = self._client, None
        self._closing = True
        if client is not None:
            try:
                await client.disconnect()
            except (BleakError, OSError) as exc:
                log.info("disconnect: %s", exc)

    def on_disconnect(self, callback: Callable[[], None]) -> None:
        self._disconnect_callbacks.append(callback)

    def _on_bleak_disconnect(self, _client: BleakClient) -> None:
        if self._closing:
            return
        self._client = None
        for callback in list(self._disconnect_callbacks):
            callback()

    def _require(self) -> BleakClient:
        if self._client is None or not self._client.is_connected:
            raise Disconnected("l'appareil n'est pas connecté / device not connected")
        return self._client

    def _characteristic(self, char_uuid: str) -> BleakGATTCharacteristic:
        char = self._require().services.get_characteristic(_normalise(char_uuid))
        if char is None:
            raise TransportError(f"characteristic {uuids.short_uuid(char_uuid)} not offered by the device")
        return char

    def has_characteristic(self, char_uuid: str) -> bool:
        client = self._require()
        return client.services.get_characteristic(_normalise(char_uuid)) is not None

    async def _op(self, coro_factory: Callable[[], Any], what: str) -> Any:
        """Run one GATT operation: serialised, bounded in time, errors translated."""
        async with self._gatt_lock:
            try:
                async with asyncio.timeout(self._op_timeout):
                    return await coro_factory()
            except TimeoutError:
                raise OperationTimeout(f"{what}: no answer in {self._op_timeout:.0f} s") from None
            except BleakError as exc:
                if self._client is None or not self._client.is_connected:
                    raise Disconnected(f"{what}: device disconnected") from exc
                raise TransportError(f"{what}: {exc}") from exc

    async def read(self, char_uuid: str) -> bytes:
        client, char = self._require(), self._characteristic(char_uuid)
        return bytes(await self._op(lambda: client.read_gatt_char(char), f"read {uuids.short_uuid(char_uuid)}"))

    async def write(self, char_uuid: str, data: bytes, *, response: bool = True) -> None:
        client, char = self._require(), self._characteristic(char_uuid)
        await self._op(lambda: client.write_gatt_char(char, data, response=response),
                       f"write {uuids.short_uuid(char_uuid)}")

    async def subscribe(self, char_uuid: str, handler: NotificationHandler) -> None:
        client, char = self._require(), self._characteristic(char_uuid)
        props = set(char.properties)
        if not props & {"notify", "indicate"}:
            raise TransportError(f"{uuids.short_uuid(char_uuid)} can neither notify nor indicate")

        def deliver(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            handler(bytes(data))

        await self._op(lambda: client.start_notify(char, deliver), f"subscribe {uuids.short_uuid(char_uuid)}")
        if "indicate" in props and "notify" not in props and _needs_indication_workaround(client):
            cccd = char.get_descriptor(uuids.CCCD)
            if cccd is not None:
                await self._op(lambda: client.write_gatt_descriptor(cccd.handle, CCCD_INDICATE),
                               "enable indications")


def _needs_indication_workaround(client: BleakClient) -> bool:
    """p4android's start_notify writes ENABLE_NOTIFICATION_VALUE even for indicate-only characteristics."""
    return client.backend_id == BleakBackend.P4ANDROID


def _advertisement(device: BLEDevice, adv: AdvertisementData) -> Advertisement:
    return Advertisement(address=device.address, name=adv.local_name or device.name,
                         service_uuids=tuple(u.lower() for u in adv.service_uuids), rssi=adv.rssi,
                         manufacturer_data=dict(adv.manufacturer_data))


# --------------------------------------------------------------------------------------------------------------
# A bleak backend over Bumble: simulated peripherals on a VirtualRadio, reached through BleakScanner/BleakClient.
# --------------------------------------------------------------------------------------------------------------

def _bleak_uuid(bumble_uuid: Any) -> str:
    """Bumble UUID -> bleak's 128-bit lower-case string."""
    raw = bytes(reversed(bumble_uuid.to_bytes(force_128=True))).hex()
    return f"{raw[0:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


_PROPERTY_NAMES = [(0x01, "broadcast"), (0x02, "read"), (0x04, "write-without-response"), (0x08, "write"),
                   (0x10, "notify"), (0x20, "indicate"), (0x40, "authenticated-signed-writes"),
                   (0x80, "extended-properties")]


def bumble_backends(radio: "VirtualRadio") -> tuple[type[BaseBleakScanner], type[BaseBleakClient]]:
    """Scanner and client backend classes bound to one virtual radio (bleak instantiates backends itself)."""
    from bumble.core import AdvertisingData
    from bumble.device import Peer

    class BumbleScanner(BaseBleakScanner):
        def __init__(self, detection_callback: Any, service_uuids: list[str] | None, scanning_mode: str = "active",
                     **_kwargs: Any) -> None:
            super().__init__(detection_callback, service_uuids)
            self._central = None

        def _on_advertisement(self, advertisement: Any) -> None:
            data = advertisement.data
            name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
            service_uuids: list[str] = []
            for ad_type in (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                            AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                            AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                            AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS):
                for value in data.get_all(ad_type):
                    service_uuids.extend(_bleak_uuid(u) for u in (value if isinstance(value, list) else [value]))
            manufacturer: dict[int, bytes] = {}
            for value in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA):
                company, payload = value
                manufacturer[company] = bytes(payload)
            if not self.is_allowed_uuid(service_uuids):
                return
            address = str(advertisement.address).removesuffix("/P")
            adv = AdvertisementData(local_name=name, manufacturer_data=manufacturer, service_data={},
                                    service_uuids=service_uuids, tx_power=None, rssi=advertisement.rssi,
                                    platform_data=(advertisement,))
            device = self.create_or_update_device(address, address, name, advertisement, adv)
            self.call_detection_callbacks(device, adv)

        async def start(self) -> None:
            self.seen_devices = {}
            self._central = await radio.central()
            self._central.on("advertisement", self._on_advertisement)
            await self._central.start_scanning(filter_duplicates=False)

        async def stop(self) -> None:
            if self._central is not None:
                self._central.remove_listener("advertisement", self._on_advertisement)
                await self._central.stop_scanning()

    class BumbleClient(BaseBleakClient):
        def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
            super().__init__(address_or_ble_device, disconnected_callback=kwargs.get("disconnected_callback"),
                             timeout=kwargs.get("timeout", 10.0))
            self._connection = None
            self._peer = None
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
            central = await radio.central()
            async with radio.connect_lock:
                try:
                    connection = await central.connect(self.address, timeout=self._timeout)
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
            self._connection = connection
            connection.on("disconnection", self._on_disconnection)
            peer = Peer(connection)
            self._peer = peer
            try:
                await peer.discover_services()
                collection = BleakGATTServiceCollection()
                for service in peer.services:
                    await service.discover_characteristics()
                    bleak_service = BleakGATTService(service, service.handle, _bleak_uuid(service.uuid))
                    collection.add_service(bleak_service)
                    for char in service.characteristics:
                        await char.discover_descriptors()
                        props = [n for bit, n in _PROPERTY_NAMES if char.properties & bit]
                        bleak_char = BleakGATTCharacteristic(char, char.handle, _bleak_uuid(char.uuid), props,
                                                             lambda: self.mtu_size - 3, bleak_service)
                        collection.add_characteristic(bleak_char)
                        for desc in char.descriptors:
                            collection.add_descriptor(
                                BleakGATTDescriptor(desc, desc.handle, _bleak_uuid(desc.type), bleak_char))
                self.services = collection
            except Exception as exc:
                await self.disconnect()
                raise BleakError(f"service discovery failed: {exc}") from exc

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
            raise NotImplementedError("simulated devices need no pairing")

        async def unpair(self) -> None:
            raise NotImplementedError("simulated devices need no pairing")

        def _peer_or_fail(self) -> Any:
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

    return BumbleScanner, BumbleClient
