"""A simulated Health Thermometer (0x1809): indicate-only 0x2A1C, notify 0x2A1E, read 0x2A1D.

0x2A1C is indicate-only as the HTS spec requires, so a collector that enables notifications instead
(CCCD 01 00) receives nothing, the same failure a real thermometer shows.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bumble.gatt import Characteristic, Service

from devices import uuids
from devices.ieee11073 import Special, encode_float
from devices.simulated.base import READ, READABLE, DeviceInformation, Recent, SimulatedPeripheral, bumble_uuid
from devices.simulated.radio import VirtualRadio


@dataclass
class ThermometerScenario:
    """What the thermometer does once a collector subscribes to 0x2A1C.

    ``temperature`` is the final value (a decimal string keeps its precision) or a Special (e.g. NaN for a
    probe error); ``intermediate`` values are notified on 0x2A1E before it; ``measure_seconds`` is the
    real measurement time (scaled by the device's speed factor); ``disconnect_before_result`` drops the link
    instead of indicating; ``malformed`` sends a value whose flags announce a time stamp that is not there.
    """

    name: str = "normal"
    temperature: Decimal | str | Special = Decimal("37.60")
    fahrenheit: bool = False
    temperature_type: int | None = 4  # finger (HTS 0x2A1D codes)
    intermediate: tuple[str, ...] = ("36.8", "37.3")
    measure_seconds: float = 0.05
    disconnect_before_result: bool = False
    malformed: bool = False
    battery_percent: int = 87


THERMOMETER_SCENARIOS = {
    "normal": ThermometerScenario(),
    "fever": ThermometerScenario(name="fever", temperature=Decimal("39.20"), intermediate=("38.1", "38.9")),
    "error": ThermometerScenario(name="error", temperature=Special.NAN, intermediate=()),
    "out_of_range": ThermometerScenario(name="out_of_range", temperature=Special.POS_INF, intermediate=("42.9",)),
    "implausible": ThermometerScenario(name="implausible", temperature=Decimal("98.6"), intermediate=()),
    "low_battery": ThermometerScenario(name="low_battery", battery_percent=5),
    "slow": ThermometerScenario(name="slow", measure_seconds=8.0,
                                intermediate=("35.9", "36.4", "36.9", "37.2", "37.4", "37.5")),
    "disconnect": ThermometerScenario(name="disconnect", disconnect_before_result=True),
    "malformed": ThermometerScenario(name="malformed", malformed=True, intermediate=()),
}


class SimulatedThermometer(SimulatedPeripheral):
    advertised_services = (uuids.HEALTH_THERMOMETER,)

    def __init__(self, radio: VirtualRadio, *, name: str = "Relais Thermo", address: str | None = None,
                 scenario: ThermometerScenario | str = "normal", info: DeviceInformation | None = None,
                 speed: float = 1.0) -> None:
        self.scenario = THERMOMETER_SCENARIOS[scenario] if isinstance(scenario, str) else scenario
        super().__init__(radio, name=name, address=address, speed=speed,
                         info=info or DeviceInformation(model="SIM-THERMO-1"),
                         battery_percent=self.scenario.battery_percent)

    @property
    def indications_sent(self) -> list[bytes]:
        """The final 0x2A1C values sent, in order."""
        return self._finals

    def build_services(self) -> list[Service]:
        self._finals: list[bytes] = Recent()
        self._measure = Characteristic(bumble_uuid(uuids.TEMPERATURE_MEASUREMENT),
                                       Characteristic.Properties.INDICATE, Characteristic.Permissions(0), b"")
        self._intermediate = Characteristic(bumble_uuid(uuids.INTERMEDIATE_TEMPERATURE),
                                            Characteristic.Properties.NOTIFY, Characteristic.Permissions(0), b"")
        site = bytes([self.scenario.temperature_type or 2])
        return [Service(bumble_uuid(uuids.HEALTH_THERMOMETER), [
            self._measure, self._intermediate,
            Characteristic(bumble_uuid(uuids.TEMPERATURE_TYPE), READ, READABLE, site)])]

    def measurement_bytes(self, value: Decimal | str | Special) -> bytes:
        """0x2A1C bytes in the layout of HTS v1.0 §3.1 (see devices/parsers/temperature.py)."""
        s = self.scenario
        flags = (0x01 if s.fahrenheit else 0) | (0x04 if s.temperature_type else 0)
        body = encode_float(value if isinstance(value, Special) else Decimal(str(value)))
        if s.temperature_type:
            body += bytes([s.temperature_type])
        return bytes([flags]) + body

    def on_subscribed(self, connection: Any, characteristic: Characteristic, notify: bool, indicate: bool) -> None:
        if characteristic is self._measure and indicate and not self.busy:
            self.battery_percent = self.scenario.battery_percent
            self.spawn(lambda: self._run_measurement(connection))

    async def _run_measurement(self, connection: Any) -> None:
        s = self.scenario
        steps = len(s.intermediate) + 1
        for value in s.intermediate:
            await self.sleep(s.measure_seconds / steps)
            await self.notify(self._intermediate, self.measurement_bytes(value))
        await self.sleep(s.measure_seconds / steps)
        if s.disconnect_before_result:
            await connection.disconnect()
            return
        payload = self.measurement_bytes(s.temperature)
        if s.malformed:
            payload = bytes([payload[0] | 0x02]) + payload[1:5]
        self._finals.append(payload)
        await self.indicate(self._measure, payload)
