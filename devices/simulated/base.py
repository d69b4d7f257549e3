"""Common parts of every simulated peripheral: a Bumble device on the virtual radio, advertising its name and
services, the Device Information (0x180A) and Battery (0x180F) services, and a record of what the collector
subscribed to (so tests can check CCCD 02 00 on indicate-only characteristics)."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from bumble.core import UUID, AdvertisingData
from bumble.gatt import Characteristic, CharacteristicValue, Service

from devices import uuids
from devices.simulated.radio import VirtualRadio

log = logging.getLogger(__name__)

ADVERTISING_INTERVAL_MS = 20  # bumble's 1 s default makes every scan slow; real devices use 20 ms-1 s
READ = Characteristic.Properties.READ
READABLE = Characteristic.Permissions.READABLE
WRITEABLE = Characteristic.Permissions.WRITEABLE


def bumble_uuid(value: str) -> UUID:
    short = uuids.short_uuid(value)
    return UUID.from_16_bits(int(short, 16)) if len(short) == 4 else UUID(value)


@dataclass
class DeviceInformation:
    manufacturer: str = "Relais Simulated Devices"
    model: str = "SIM-1"
    serial: str = "SIM-0001"
    firmware: str = "1.0.0"


class Recent(list):
    """A record of what a simulator saw or sent, for tests and developers, that keeps only the last `keep` entries:
    the simulated devices run in the app all day in demo and training, where a record of every notification would
    only grow."""

    def __init__(self, keep: int = 1000) -> None:
        super().__init__()
        self.keep = keep

    def append(self, item: Any) -> None:
        super().append(item)
        if len(self) > 2 * self.keep:  # trimmed in steps, so an append stays cheap
            del self[:-self.keep]


@dataclass
class Subscription:
    characteristic: str  # short UUID, e.g. "2A1C", or the 128-bit UUID upper case
    notify: bool
    indicate: bool


class SimulatedPeripheral:
    """Base class: subclasses add their services in `build_services()` and react in `on_subscribed()`."""

    advertised_services: Sequence[str] = ()

    def __init__(self, radio: VirtualRadio, *, name: str, address: str | None = None,
                 info: DeviceInformation | None = None, battery_percent: int | None = 87, speed: float = 1.0,
                 device_information: bool = True) -> None:
        """`battery_percent=None`: no Battery service; `device_information=False`: no DIS (many vendor devices)."""
        self.radio = radio
        self.name = name
        self.info = info or DeviceInformation()
        self.battery_percent = battery_percent
        self.speed = speed  # >1 plays real durations faster (tests use large factors)
        self.device = radio.new_device(name, address)
        self.subscriptions: list[Subscription] = Recent()
        self.sent: list[bytes] = Recent()
        self._tasks: set[asyncio.Task[Any]] = set()
        for service in self.build_services():
            self.device.add_service(service)
        if device_information:
            self.device.add_service(Service(bumble_uuid(uuids.DEVICE_INFORMATION), [
                Characteristic(bumble_uuid(uuids.MANUFACTURER_NAME), READ, READABLE, self.info.manufacturer.encode()),
                Characteristic(bumble_uuid(uuids.MODEL_NUMBER), READ, READABLE, self.info.model.encode()),
                Characteristic(bumble_uuid(uuids.SERIAL_NUMBER), READ, READABLE, self.info.serial.encode()),
                Characteristic(bumble_uuid(uuids.FIRMWARE_REVISION), READ, READABLE, self.info.firmware.encode()),
            ]))
        self.has_battery_service = battery_percent is not None
        if self.has_battery_service:
            self.device.add_service(Service(bumble_uuid(uuids.BATTERY), [
                Characteristic(bumble_uuid(uuids.BATTERY_LEVEL), READ, READABLE,
                               CharacteristicValue(read=lambda _conn: bytes([self.battery_percent or 0]))),
            ]))
        self.device.on("characteristic_subscription", self._on_subscription)

    # -- to override ------------------------------------------------------------------------------------------
    def build_services(self) -> list[Service]:
        return []

    def on_subscribed(self, connection: Any, characteristic: Characteristic, notify: bool, indicate: bool) -> None:
        """Called for every CCCD write; start a scenario here."""

    # -- shared machinery ---------------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return str(self.device.public_address).removesuffix("/P")

    def advertising_data(self) -> bytes:
        fields: list[tuple[int, bytes]] = [(AdvertisingData.FLAGS, bytes([0x06])),
                                           (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode())]
        short = [uuids.short_uuid(u) for u in self.advertised_services]
        sixteen = b"".join(int(s, 16).to_bytes(2, "little") for s in short if len(s) == 4)
        if sixteen:
            fields.append((AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, sixteen))
        long = [u for u in self.advertised_services if len(uuids.short_uuid(u)) != 4]
        if long:
            fields.append((AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                           b"".join(bytes(UUID(u).to_bytes(force_128=True)) for u in long)))
        return bytes(AdvertisingData(fields))

    async def start(self) -> None:
        await self.device.power_on()
        self.device.advertising_data = self.advertising_data()
        await self.device.start_advertising(auto_restart=True, advertising_interval_min=ADVERTISING_INTERVAL_MS,
                                            advertising_interval_max=ADVERTISING_INTERVAL_MS)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.device.power_off()

    async def sleep(self, seconds: float) -> None:
        """A real-world duration, scaled by the speed factor."""
        await asyncio.sleep(seconds / self.speed)

    def spawn(self, coro_factory: Callable[[], Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro_factory()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:  # a dropped link mid-scenario is normal for a simulator
            log.debug("%s: scenario ended early", self.name, exc_info=True)

    async def indicate(self, characteristic: Characteristic, payload: bytes) -> None:
        self.sent.append(payload)
        await self.device.indicate_subscribers(characteristic, payload)

    async def notify(self, characteristic: Characteristic, payload: bytes) -> None:
        self.sent.append(payload)
        await self.device.notify_subscribers(characteristic, payload)

    def _on_subscription(self, connection: Any, characteristic: Characteristic, notify_enabled: bool,
                         indicate_enabled: bool) -> None:
        short = uuids.short_uuid(str(characteristic.uuid.to_hex_str("-")))
        self.subscriptions.append(Subscription(short, notify_enabled, indicate_enabled))
        self.on_subscribed(connection, characteristic, notify_enabled, indicate_enabled)
