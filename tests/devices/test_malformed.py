"""Every simulated device has a "malformed" scenario, and every driver turns it into a clear MalformedData error
(a code naming the device kind, English for logs) instead of a value or a silent time-out: thermometer and blood pressure monitor
(a record shorter than its flags announce), PLX oximeter (every value 2 bytes short), BerryMed (bytes that never
form a packet), PC-60FW (every parameter frame failing its CRC)."""
from __future__ import annotations

import time

import pytest

from devices.drivers.blood_pressure import BloodPressureDriver
from devices.drivers.base import MalformedData
from devices.drivers.oximeters import BerryMedDriver, Pc60fwDriver, PlxOximeterDriver
from devices.drivers.thermometer import ThermometerDriver
from devices.registry import simulators
from devices.simulated import VirtualRadio
from devices.simulated.bleak_backend import simulated_transport

SPEED = 50.0

CASES = {
    "thermometer": (ThermometerDriver, "thermometer"),
    "blood_pressure": (BloodPressureDriver, "blood pressure monitor"),
    "oximeter": (PlxOximeterDriver, "oximeter"),
    "oximeter_berrymed": (BerryMedDriver, "oximeter"),
    "oximeter_pc60fw": (Pc60fwDriver, "oximeter"),
}


def test_every_simulated_device_can_send_malformed_data():
    assert set(simulators()) == set(CASES)
    assert all("malformed" in scenarios for _cls, scenarios in simulators().values())


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", sorted(CASES))
async def test_malformed_data_is_a_clear_error_never_a_value(kind):
    sim_class, _ = simulators()[kind]
    driver_class, device_word = CASES[kind]
    radio = VirtualRadio()
    sim = sim_class(radio, scenario="malformed", speed=SPEED)
    await sim.start()
    live = []
    kwargs = {"on_live": live.append}
    if kind.startswith("oximeter"):
        start = time.monotonic()
        kwargs["monotonic"] = lambda: (time.monotonic() - start) * SPEED
    driver = driver_class(simulated_transport(radio), **kwargs)
    read_kwargs = {"measure_timeout": 3} if kind.startswith("oximeter") else {}
    try:
        with pytest.raises(MalformedData) as caught:
            await driver.read(scan_timeout=5, **read_kwargs)
    finally:
        await sim.stop()
    message = str(caught.value)
    assert device_word in message and "unreadable" in message
    assert caught.value.code in ("device.malformed", "oximeter.unreadable")
    assert caught.value.params["kind"] == ("oximeter" if kind.startswith("oximeter") else kind)
    # nothing unreadable was ever shown as a live value (the cuff's well-formed inflation pressures are)
    assert all(m.characteristic == "2A36" and m.details.get("intermediate") for m in live)
    assert live if kind == "blood_pressure" else not live
