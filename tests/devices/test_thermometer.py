"""Integration: the thermometer driver through bleak's public API, on simulated GATT servers (Bumble)."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from devices.drivers import ThermometerDriver
from devices.drivers.thermometer import MalformedData
from devices.simulated import SimulatedThermometer, ThermometerScenario, VirtualRadio
from devices.simulated.bleak_backend import simulated_transport
from devices.transport import DeviceNotFound, Disconnected

pytestmark = pytest.mark.timeout(30)


async def start_thermometer(scenario="normal", **kwargs):
    radio = VirtualRadio()
    thermometer = SimulatedThermometer(radio, scenario=scenario, **kwargs)
    await thermometer.start()
    return radio, thermometer


async def test_reads_final_value_with_identity_battery_and_live_values():
    radio, thermometer = await start_thermometer()
    states, live = [], []
    driver = ThermometerDriver(simulated_transport(radio), on_state=states.append,
                               on_live=lambda m: live.append(str(m.observations[0].value)))
    reading = await driver.read(scan_timeout=5)
    assert str(reading.measurement.observations[0].value) == "37.60"
    assert reading.measurement.observations[0].unit == "Cel"
    assert reading.raw == thermometer.indications_sent[0]
    assert reading.device.serial == "SIM-0001" and reading.device.manufacturer == "Relais Simulated Devices"
    assert reading.device.address == thermometer.address
    assert reading.battery_percent == 87
    assert live == ["36.8", "37.3"]
    assert states == ["scanning", "connecting", "measuring", "done"]
    assert reading.received_at.tzinfo is not None


async def test_temperature_measurement_subscription_enables_indications_not_notifications():
    radio, thermometer = await start_thermometer()
    await ThermometerDriver(simulated_transport(radio)).read(scan_timeout=5)
    by_char = {s.characteristic: s for s in thermometer.subscriptions}
    assert (by_char["2A1C"].indicate, by_char["2A1C"].notify) == (True, False)   # CCCD 02 00
    assert (by_char["2A1E"].indicate, by_char["2A1E"].notify) == (False, True)   # CCCD 01 00


async def test_device_error_nan_is_reported_invalid_not_a_value():
    radio, _ = await start_thermometer("error")
    reading = await ThermometerDriver(simulated_transport(radio)).read(scan_timeout=5)
    assert reading.measurement.observations == ()
    assert [(i.field, i.reason) for i in reading.measurement.invalid] == [("temperature", "NaN")]


async def test_disconnect_mid_measurement_is_reported():
    radio, _ = await start_thermometer("disconnect")
    with pytest.raises(Disconnected):
        await ThermometerDriver(simulated_transport(radio)).read(scan_timeout=5)


async def test_malformed_packet_is_a_clear_error():
    radio, _ = await start_thermometer("malformed")
    with pytest.raises(MalformedData, match="unreadable measurement sent by the thermometer") as caught:
        await ThermometerDriver(simulated_transport(radio)).read(scan_timeout=5)
    assert caught.value.code == "device.malformed" and caught.value.params == {"kind": "thermometer"}


async def test_no_thermometer_in_range():
    radio = VirtualRadio()
    with pytest.raises(DeviceNotFound):
        await ThermometerDriver(simulated_transport(radio)).read(scan_timeout=0.3)


async def test_scan_filters_by_service_and_address():
    radio = VirtualRadio()
    first = SimulatedThermometer(radio, name="Thermo A", scenario=ThermometerScenario(temperature=Decimal("36.50")))
    second = SimulatedThermometer(radio, name="Thermo B", scenario=ThermometerScenario(temperature=Decimal("38.40")))
    await first.start()
    await second.start()
    reading = await ThermometerDriver(simulated_transport(radio)).read(address=second.address, scan_timeout=5)
    assert str(reading.measurement.observations[0].value) == "38.40"
    assert reading.device.name == "Thermo B"


async def test_two_readings_in_a_row_from_the_same_device():
    radio, _ = await start_thermometer()
    for _ in range(2):
        reading = await asyncio.wait_for(ThermometerDriver(simulated_transport(radio)).read(scan_timeout=5), 10)
        assert str(reading.measurement.observations[0].value) == "37.60"


async def test_a_simulator_keeps_only_its_latest_records_over_a_long_day():
    """Demo and training run the simulators all day: what they record stays bounded, the latest entries kept."""
    radio, thermometer = await start_thermometer()
    thermometer.sent.keep = thermometer.indications_sent.keep = 2
    finals = []
    for _ in range(3):
        reading = await ThermometerDriver(simulated_transport(radio)).read(scan_timeout=5)
        finals.append(reading.raw)
    assert len(thermometer.sent) <= 4 and thermometer.sent[-1] == finals[-1]
    assert list(thermometer.indications_sent)[-2:] == finals[-2:] and len(thermometer.indications_sent) <= 4
