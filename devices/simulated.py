"""Simulated Bluetooth health devices: real GATT servers on Bumble virtual controllers, in this process.

A :class:`VirtualRadio` is a Bumble ``LocalLink`` (a virtual air) on which simulated peripherals advertise and
the tablet's central scans and connects. The tablet side is reached through bleak's public API with the
Bumble backend of :mod:`devices.bleak_transport`, so tests and demo mode run the same code as real hardware.
Simulated devices are a product feature (demo mode, training, development), not a test hack.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from bumble.controller import Controller
from bumble.core import AdvertisingData, UUID
from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from devices import uuids
from devices.ieee11073 import Special, encode_float

log = logging.getLogger(__name__)

ADVERTISING_INTERVAL_MS = 20  # bumble's 1 s default makes every scan slow; real devices use 20 ms-1 s


def _uuid16(value: str) -> UUID:
    return UUID.from_16_bits(int(uuids.short_uuid(value), 16))


class VirtualRadio:
    """The shared virtual air: every simulated peripheral and the tablet's central attach a controller to it."""

    def __init__(self) -> None:
        self.link = LocalLink()
        self._next = 0x10
        self._central: Device | None = None
        self.connect_lock = asyncio.Lock()  # bumble, like real stacks, allows one pending LE connection at a time

    async def central(self) -> Device:
        """The tablet's own controller on this air, created and powered on once, shared by scanner and clients."""
        if self._central is None:
            device = self.new_device("Relais tablet", "C0:7A:B1:E7:00:01")
            await device.power_on()
            self._central = device
        return self._central

    def new_device(self, name: str, address: str | None = None) -> Device:
        if address is None:
            # Random static address: the two most significant bits set (Core spec Vol 6 Part B §1.3.2.1).
            address = f"C0:DE:00:00:00:{self._next:02X}"
            self._next += 1
        controller = Controller(name, link=self.link, public_address=address)
        return Device(name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller)))


@dataclass
class DeviceInformation:
    manufacturer: str = "Relais Simulated Devices"
    model: str = "SIM-THERMO-1"
    serial: str = "SIM-0001"
    firmware: str = "1.0.0"


@dataclass
class ThermometerScenario:
    """What the simulated thermometer does once a collector subscribes to 0x2A1C.

    ``temperature`` is the final value (a decimal string keeps its precision) or a Special (e.g. NaN for a
    probe error); ``intermediate`` values are notified on 0x2A1E before it; ``measure_seconds`` is the
    simulated measurement time; ``disconnect_before_result`` drops the link instead of indicating.
    """

    name: str = "normal"
    temperature: Decimal | str | Special = Decimal("37.60")
    fahrenheit: bool = False
    temperature_type: int | None = 4  # finger (HTS 0x2A1D codes)
    intermediate: tuple[str, ...] = ("36.8", "37.3")
    measure_seconds: float = 0.05
    disconnect_before_result: bool = False
    malformed: bool = False  # send a value cut short: flags announce a time stamp that is not there
    battery_percent: int = 87


THERMOMETER_SCENARIOS = {
    "normal": ThermometerScenario(),
    "fever": ThermometerScenario(name="fever", temperature=Decimal("39.20"), intermediate=("38.1", "38.9")),
    "error": ThermometerScenario(name="error", temperature=Special.NAN, intermediate=()),
    "disconnect": ThermometerScenario(name="disconnect", disconnect_before_result=True),
    "malformed": ThermometerScenario(name="malformed", malformed=True, intermediate=()),
}


@dataclass
class Subscription:
    characteristic: str  # short UUID, e.g. "2A1C"
    notify: bool
    indicate: bool


class SimulatedThermometer:
    """A Health Thermometer (0x1809) with Device Information (0x180A) and Battery (0x180F) services.

    0x2A1C is indicate-only as the HTS spec requires, so a collector that enables notifications instead
    (CCCD 01 00) receives nothing — the same failure a real thermometer shows.
    """

    def __init__(self, radio: VirtualRadio, *, name: str = "Relais Thermo", address: str | None = None,
                 scenario: ThermometerScenario | str = "normal", info: DeviceInformation | None = None) -> None:
        self.scenario = THERMOMETER_SCENARIOS[scenario] if isinstance(scenario, str) else scenario
        self.info = info or DeviceInformation()
        self.name = name
        self.device = radio.new_device(name, address)
        self.subscriptions: list[Subscription] = []
        self.indications_sent: list[bytes] = []
        self._task: asyncio.Task[None] | None = None
        self._measure = Characteristic(_uuid16(uuids.TEMPERATURE_MEASUREMENT), Characteristic.Properties.INDICATE,
                                       Characteristic.Permissions(0), b"")
        self._intermediate = Characteristic(_uuid16(uuids.INTERMEDIATE_TEMPERATURE),
                                            Characteristic.Properties.NOTIFY, Characteristic.Permissions(0), b"")
        readable = Characteristic.Properties.READ
        perm = Characteristic.Permissions.READABLE
        type_value = bytes([self.scenario.temperature_type or 2])
        self.device.add_service(Service(_uuid16(uuids.HEALTH_THERMOMETER), [
            self._measure,
            self._intermediate,
            Characteristic(_uuid16(uuids.TEMPERATURE_TYPE), readable, perm, type_value),
        ]))
        self.device.add_service(Service(_uuid16(uuids.DEVICE_INFORMATION), [
            Characteristic(_uuid16(uuids.MANUFACTURER_NAME), readable, perm, self.info.manufacturer.encode()),
            Characteristic(_uuid16(uuids.MODEL_NUMBER), readable, perm, self.info.model.encode()),
            Characteristic(_uuid16(uuids.SERIAL_NUMBER), readable, perm, self.info.serial.encode()),
            Characteristic(_uuid16(uuids.FIRMWARE_REVISION), readable, perm, self.info.firmware.encode()),
        ]))
        self.device.add_service(Service(_uuid16(uuids.BATTERY), [
            Characteristic(_uuid16(uuids.BATTERY_LEVEL), readable, perm,
                           CharacteristicValue(read=lambda _conn: bytes([self.scenario.battery_percent]))),
        ]))
        self.device.on("characteristic_subscription", self._on_subscription)

    @property
    def address(self) -> str:
        return str(self.device.public_address).removesuffix("/P")

    async def start(self) -> None:
        await self.device.power_on()
        self.device.advertising_data = bytes(AdvertisingData([
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
            (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, (0x1809).to_bytes(2, "little")),
        ]))
        await self._advertise()

    async def _advertise(self) -> None:
        await self.device.start_advertising(auto_restart=True, advertising_interval_min=ADVERTISING_INTERVAL_MS,
                                            advertising_interval_max=ADVERTISING_INTERVAL_MS)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.device.power_off()

    def measurement_bytes(self, value: Decimal | str | Special, *, with_timestamp: bool = False) -> bytes:
        """0x2A1C bytes for a value, in the layout of HTS v1.0 §3.1 (see devices/parsers/temperature.py)."""
        flags = (0x01 if self.scenario.fahrenheit else 0) | (0x04 if self.scenario.temperature_type else 0)
        body = encode_float(value if isinstance(value, Special) else Decimal(str(value)))
        if self.scenario.temperature_type:
            body += bytes([self.scenario.temperature_type])
        return bytes([flags]) + body

    def _on_subscription(self, connection, characteristic, notify_enabled: bool, indicate_enabled: bool) -> None:
        short = characteristic.uuid.to_hex_str()
        self.subscriptions.append(Subscription(short, notify_enabled, indicate_enabled))
        log.debug("simulated thermometer: subscription %s notify=%s indicate=%s", short, notify_enabled,
                  indicate_enabled)
        if characteristic is self._measure and indicate_enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run_measurement(connection))

    async def _run_measurement(self, connection) -> None:
        """Play the scenario: live values, then the final indication (or a dropped link)."""
        try:
            s = self.scenario
            steps = max(len(s.intermediate), 1)
            for value in s.intermediate:
                await asyncio.sleep(s.measure_seconds / steps)
                await self.device.notify_subscribers(self._intermediate, self.measurement_bytes(value))
            await asyncio.sleep(s.measure_seconds / steps)
            if s.disconnect_before_result:
                await connection.disconnect()
                return
            payload = self.measurement_bytes(s.temperature)
            if s.malformed:
                payload = bytes([payload[0] | 0x02]) + payload[1:5]
            self.indications_sent.append(payload)
            await self.device.indicate_subscribers(self._measure, payload)
        except asyncio.CancelledError:
            raise
        except Exception:  # a dropped link mid-scenario is normal for a simulator
            log.debug("simulated thermometer: scenario ended early", exc_info=True)
        finally:
            self._task = None
