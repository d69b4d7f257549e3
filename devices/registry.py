"""Which driver reads which device, and which simulators exist: one place, ordered first-match.

Vendor protocols come before the standard profile for the same kind, and are matched on the advertised
name AND service (their UART services are shared with printers and treadmills). One reading is one scan: the
device the scan found is handed to its driver, over the same transport, and the driver connects to it.

The tablet reads only its own devices (its kit, paired by an administrator): in a corridor where the neighbour's
thermometer answers too, the neighbour's is never read, and when only devices outside the kit answer the reading
fails as ``device.not_in_kit`` rather than landing on this patient.
"""
from __future__ import annotations

from typing import Any, Callable, Collection

from devices.drivers.base import Driver, seconds_param
from devices.drivers.blood_pressure import BloodPressureDriver
from devices.drivers.oximeters import OXIMETER_DRIVERS
from devices.drivers.thermometer import ThermometerDriver
from devices.errors import DeviceError
from devices.limits import DEFAULT_LIMITS, WaitLimits
from devices.reading import DeviceReading
from devices.transport import Advertisement, DeviceNotFound, Transport

DRIVERS: dict[str, list[type[Driver]]] = {
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


def driver_for(kind: str, adv: Advertisement) -> type[Driver] | None:
    """The first driver of this kind that claims the advertisement (vendor drivers need name AND service)."""
    return next((d for d in DRIVERS[kind] if d.matches(adv)), None)


async def read_device(kind: str, transport_factory: Callable[[], Transport], *, kit: Collection[str] | None = None,
                      address: str | None = None, scan_timeout: float | None = None,
                      on_state: Callable[[str], None] | None = None, on_live: Callable[[Any], None] | None = None,
                      limits: WaitLimits = DEFAULT_LIMITS) -> DeviceReading:
    """Find the first device of a kind that some driver recognises (the one at `address` when given), then
    read it with that driver: one scan, one transport. Each phase waits as long as `limits` says (the scan
    `scan_timeout` seconds when given); a phase that runs out raises a device error with its ``seconds``.

    `kit`: the addresses of this kind paired with the tablet; only those are read. An empty kit fails at once
    (``device.none_paired``); a scan that heard only devices outside the kit fails as ``device.not_in_kit``.
    None reads whatever device of the kind answers first (the command line, bench tools)."""
    if kit is not None and not kit:
        raise DeviceError("device.none_paired", kind=kind)
    scan_timeout = limits.scan if scan_timeout is None else scan_timeout
    transport = transport_factory()
    if on_state is not None:
        on_state("scanning")
    services = list(dict.fromkeys(d.service for d in DRIVERS[kind]))
    strangers: set[str] = set()

    def wanted(adv: Advertisement) -> bool:
        if driver_for(kind, adv) is None or (address is not None and adv.address != address):
            return False
        if kit is not None and adv.address not in kit:
            strangers.add(adv.address)
            return False
        return True

    try:
        adv = await transport.scan(service_uuids=services, timeout=scan_timeout, match=wanted)
    except DeviceNotFound:
        if strangers:
            raise DeviceError("device.not_in_kit", kind=kind, count=len(strangers)) from None
        raise DeviceNotFound(kind=kind, seconds=seconds_param(scan_timeout)) from None
    driver_class = driver_for(kind, adv)
    assert driver_class is not None  # the scan only accepts advertisements some driver claims
    driver = driver_class(transport, on_state=on_state, on_live=on_live)
    return await driver.read(adv, measure_timeout=limits.measure_seconds(kind))
