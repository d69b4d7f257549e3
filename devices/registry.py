"""Which driver reads which device, and which simulators exist: one place, ordered first-match.

Vendor protocols come before the standard profile for the same kind, and are matched on the advertised
name AND service (their UART services are shared with printers and treadmills)."""
from __future__ import annotations

from typing import Any, Callable

from devices.drivers.blood_pressure import BloodPressureDriver
from devices.drivers.oximeters import OXIMETER_DRIVERS
from devices.drivers.thermometer import ThermometerDriver
from devices.reading import DeviceReading
from devices.transport import Advertisement, Transport

DRIVERS: dict[str, list[type]] = {
    "thermometer": [ThermometerDriver],
    "blood_pressure": [BloodPressureDriver],
    "oximeter": list(OXIMETER_DRIVERS),
}


def simulators() -> dict[str, tuple[type, dict[str, Any]]]:
    """Kind → (simulator class, its scenarios). Imported lazily: bumble is only needed when simulating."""
    from devices.simulated import (BERRYMED_SCENARIOS, BP_SCENARIOS, PC60FW_SCENARIOS, PLX_SCENARIOS,
                                   THERMOMETER_SCENARIOS, SimulatedBerryMed, SimulatedBloodPressureMonitor,
                                   SimulatedPc60fw, SimulatedPlxOximeter, SimulatedThermometer)

    return {"thermometer": (SimulatedThermometer, THERMOMETER_SCENARIOS),
            "blood_pressure": (SimulatedBloodPressureMonitor, BP_SCENARIOS),
            "oximeter": (SimulatedPlxOximeter, PLX_SCENARIOS),
            "oximeter_berrymed": (SimulatedBerryMed, BERRYMED_SCENARIOS),
            "oximeter_pc60fw": (SimulatedPc60fw, PC60FW_SCENARIOS)}


def driver_for(kind: str, adv: Advertisement) -> type | None:
    return next((d for d in DRIVERS[kind] if d.matches(adv)), None)


async def read_device(kind: str, transport_factory: Callable[[], Transport], *, address: str | None = None,
                      scan_timeout: float = 15.0, on_state: Callable[[str], None] | None = None,
                      on_live: Callable[[Any], None] | None = None) -> DeviceReading:
    """Find the first device of a kind that some driver recognises, then read it with that driver."""
    scanner = transport_factory()
    adv = await scanner.scan(
        match=lambda a: (address is None or a.address == address) and driver_for(kind, a) is not None,
        timeout=scan_timeout)
    driver_class = driver_for(kind, adv)
    driver = driver_class(transport_factory(), on_state=on_state, on_live=on_live)
    return await driver.read(address=adv.address, scan_timeout=scan_timeout)
