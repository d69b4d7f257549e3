"""The bleak implementation of :class:`devices.transport.Transport`, for real Bluetooth hardware.

What lives here, below the drivers: connect retries with exponential backoff, per-operation timeouts, strictly
serialised GATT operations (one at a time, as Android and most stacks require), and the p4android work-around
for indicate-only characteristics: bleak's python-for-android backend enables notifications in ``start_notify``
(Client Characteristic Configuration 01 00), which an indicate-only characteristic such as Temperature
Measurement 0x2A1C ignores, so indications (02 00) are written to the descriptor (Core Specification Vol 3
Part G §3.3.3.3).

The platform's bleak backend is used unless other backend classes are passed in: the simulators pass theirs
(:mod:`devices.simulated.bleak_backend`), so simulated devices are read through this same code. This module
never imports the simulators.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Callable

from bleak import BleakClient, BleakScanner
from bleak.backends import BleakBackend
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from devices import uuids
from devices.transport import (Advertisement, ConnectionFailed, DeviceNotFound, Disconnected, NotificationHandler,
                               OperationTimeout, PairingFailed, TransportError)

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
            raise DeviceNotFound() from None
        except OSError as exc:  # no adapter, no BlueZ/D-Bus, radio switched off
            log.info("Bluetooth adapter unavailable: %s", exc)
            raise TransportError("device.adapter_unavailable") from exc
        except BleakError as exc:
            log.info("scan failed: %s", exc)
            raise TransportError("device.scan_failed") from exc
        device, adv = found
        self._seen[device.address] = device
        return _advertisement(device, adv)

    async def discover(self, *, service_uuids: list[str] | None = None, timeout: float = 4.0) -> list[Advertisement]:
        wanted = [_normalise(u) for u in service_uuids] if service_uuids else None
        heard: dict[str, tuple[BLEDevice, AdvertisementData]] = {}
        kwargs: dict[str, Any] = {"backend": self._scanner_backend} if self._scanner_backend else {}
        try:
            async with BleakScanner(service_uuids=wanted, **kwargs) as scanner:
                try:
                    async with asyncio.timeout(timeout):
                        async for device, adv in scanner.advertisement_data():
                            if not wanted or set(wanted) & {u.lower() for u in adv.service_uuids}:
                                heard[device.address] = (device, adv)
                except TimeoutError:
                    pass
        except OSError as exc:
            log.info("Bluetooth adapter unavailable: %s", exc)
            raise TransportError("device.adapter_unavailable") from exc
        except BleakError as exc:
            log.info("scan failed: %s", exc)
            raise TransportError("device.scan_failed") from exc
        self._seen.update({address: device for address, (device, _adv) in heard.items()})
        return [_advertisement(device, adv) for device, adv in heard.values()]

    async def pair(self, address: str) -> None:
        """Bond through bleak's ``BleakClient.pair()`` (BlueZ, WinRT, Android). CoreBluetooth (macOS, iOS) has no
        pairing call: it bonds by itself the first time a characteristic needing encryption is read, so bleak's
        NotImplementedError there is not a failure."""
        client = self._client
        if client is None or not client.is_connected or client.address != address:
            await self.connect(address)
            client = self._require()
        try:
            async with asyncio.timeout(self._op_timeout * 3):  # the user may have to confirm a dialog
                await client.pair()
        except NotImplementedError:
            log.info("this platform pairs implicitly, on the first encrypted read")
        except (TimeoutError, BleakError, OSError) as exc:
            log.info("pairing failed: %s", type(exc).__name__)
            raise PairingFailed() from exc

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
            except asyncio.CancelledError:  # staff cancelled: no half-open link left behind
                with contextlib.suppress(Exception):
                    await client.disconnect()
                raise
            except (TimeoutError, BleakError, OSError) as exc:
                last = exc
                log.info("connect attempt %d/%d failed: %s", attempt, self._connect_attempts, type(exc).__name__)
                try:
                    await client.disconnect()
                except Exception:  # noqa: BLE001 - cleaning up a half-open link
                    pass
                if attempt < self._connect_attempts:
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        raise ConnectionFailed(attempts=self._connect_attempts) from last

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
            raise Disconnected("device.not_connected")
        return self._client

    def _characteristic(self, char_uuid: str) -> BleakGATTCharacteristic:
        char = self._require().services.get_characteristic(_normalise(char_uuid))
        if char is None:
            raise TransportError("device.characteristic_missing", characteristic=uuids.short_uuid(char_uuid))
        return char

    def has_characteristic(self, char_uuid: str) -> bool:
        client = self._require()
        return client.services.get_characteristic(_normalise(char_uuid)) is not None

    async def _op(self, coro_factory: Callable[[], Any], operation: str, char_uuid: str) -> Any:
        """Run one GATT operation (`operation`: read, write, subscribe) on a characteristic: serialised, bounded in
        time, errors translated into codes."""
        what = {"operation": operation, "characteristic": uuids.short_uuid(char_uuid)}
        async with self._gatt_lock:
            try:
                async with asyncio.timeout(self._op_timeout):
                    return await coro_factory()
            except TimeoutError:
                raise OperationTimeout(seconds=f"{self._op_timeout:.0f}", **what) from None
            except BleakError as exc:
                if self._client is None or not self._client.is_connected:
                    raise Disconnected(**what) from exc
                log.info("%s %s failed: %s", operation, what["characteristic"], exc)
                raise TransportError("device.operation_failed", **what) from exc

    async def read(self, char_uuid: str) -> bytes:
        client, char = self._require(), self._characteristic(char_uuid)
        return bytes(await self._op(lambda: client.read_gatt_char(char), "read", char_uuid))

    async def write(self, char_uuid: str, data: bytes, *, response: bool = True) -> None:
        client, char = self._require(), self._characteristic(char_uuid)
        await self._op(lambda: client.write_gatt_char(char, data, response=response),
                       "write", char_uuid)

    async def subscribe(self, char_uuid: str, handler: NotificationHandler) -> None:
        client, char = self._require(), self._characteristic(char_uuid)
        props = set(char.properties)
        if not props & {"notify", "indicate"}:
            raise TransportError("device.cannot_subscribe", characteristic=uuids.short_uuid(char_uuid))

        def deliver(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            handler(bytes(data))

        await self._op(lambda: client.start_notify(char, deliver), "subscribe", char_uuid)
        if "indicate" in props and "notify" not in props and _needs_indication_workaround(client):
            cccd = char.get_descriptor(uuids.CCCD)
            if cccd is not None:
                await self._op(lambda: client.write_gatt_descriptor(cccd.handle, CCCD_INDICATE),
                               "enable indications", char_uuid)


def _needs_indication_workaround(client: BleakClient) -> bool:
    """p4android's start_notify writes ENABLE_NOTIFICATION_VALUE even for indicate-only characteristics."""
    return client.backend_id == BleakBackend.P4ANDROID


def _advertisement(device: BLEDevice, adv: AdvertisementData) -> Advertisement:
    return Advertisement(address=device.address, name=adv.local_name or device.name,
                         service_uuids=tuple(u.lower() for u in adv.service_uuids), rssi=adv.rssi,
                         manufacturer_data=dict(adv.manufacturer_data))
