"""The registry: one scan per reading, the device it found handed to the first driver that claims it."""
from __future__ import annotations

import pytest

from devices import uuids
from devices.drivers import BerryMedDriver, Pc60fwDriver, PlxOximeterDriver, ThermometerDriver
from devices.registry import DRIVERS, driver_for, read_device
from devices.simulated import SimulatedPlxOximeter, SimulatedThermometer, VirtualRadio
from devices.simulated.bleak_backend import simulated_transport
from devices.simulated.oximeters import SimulatedUartLookalike
from devices.transport import Advertisement, DeviceNotFound

pytestmark = pytest.mark.timeout(30)


class CountingTransports:
    """A transport factory over a virtual air that counts the transports it built and the scans they ran."""

    def __init__(self, radio: VirtualRadio) -> None:
        self.radio = radio
        self.built = 0
        self.scans: list[list[str] | None] = []

    def __call__(self):
        self.built += 1
        transport = simulated_transport(self.radio)
        scan = transport.scan

        async def counted_scan(**kwargs):
            self.scans.append(kwargs.get("service_uuids"))
            return await scan(**kwargs)

        transport.scan = counted_scan
        return transport


async def test_one_scan_per_reading_and_the_driver_connects_to_what_it_found():
    radio = VirtualRadio()
    thermometer = SimulatedThermometer(radio)
    await thermometer.start()
    factory, states = CountingTransports(radio), []
    reading = await read_device("thermometer", factory, scan_timeout=5, on_state=states.append)
    assert str(reading.measurement.observations[0].value) == "37.60"
    assert reading.device.address == thermometer.address and reading.device.serial == "SIM-0001"
    assert factory.scans == [[uuids.HEALTH_THERMOMETER]] and factory.built == 1
    assert states == ["scanning", "connecting", "measuring", "done"]


async def test_one_scan_for_every_oximeter_protocol_and_a_printer_is_never_picked():
    radio = VirtualRadio()
    printer = SimulatedUartLookalike(radio, name="MPT-II", service=uuids.NORDIC_UART_SERVICE)
    oximeter = SimulatedPlxOximeter(radio, speed=100)
    for device in (printer, oximeter):
        await device.start()
    factory = CountingTransports(radio)
    reading = await read_device("oximeter", factory, scan_timeout=5)
    assert reading.measurement.characteristic == "2A5E" and reading.device.address == oximeter.address
    assert len(factory.scans) == 1 and factory.built == 1
    assert set(factory.scans[0]) == {uuids.BERRYMED_SERVICE, uuids.NORDIC_UART_SERVICE, uuids.PULSE_OXIMETER}
    assert printer.subscriptions == []


async def test_nothing_of_that_kind_in_range():
    radio = VirtualRadio()
    thermometer = SimulatedThermometer(radio)
    await thermometer.start()
    states = []
    with pytest.raises(DeviceNotFound):
        await read_device("blood_pressure", CountingTransports(radio), scan_timeout=0.3, on_state=states.append)
    assert states == ["scanning"]


def test_vendor_protocols_come_before_the_standard_profile():
    assert DRIVERS["oximeter"] == [BerryMedDriver, Pc60fwDriver, PlxOximeterDriver]
    assert DRIVERS["thermometer"] == [ThermometerDriver]
    both = Advertisement("C0:DE:00:00:00:99", "BerryMed", (uuids.BERRYMED_SERVICE, uuids.PULSE_OXIMETER))
    assert driver_for("oximeter", both) is BerryMedDriver
