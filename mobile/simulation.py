"""The simulated devices the app runs with when no real ones are used (demo, training, development): the tablet's
own kit — a thermometer, an oximeter and a blood pressure monitor — and, on request, a neighbour's devices of
the same kinds that are not in the kit, as in an EHPAD corridor where two tablets work side by side.

Each device has its own fixed address, name and serial, so the kit written in the store at first start (see
:func:`seed_kit`) still names the same devices at the next start.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from devices.discovery import FoundDevice
from mobile.workflow.kit import kit_entry, kit_is_set, write_kit

log = logging.getLogger(__name__)

NEIGHBOUR_RSSI = -86   # dBm: down the corridor, behind a wall


@dataclass(frozen=True)
class SimulatedUnit:
    kind: str
    address: str
    name: str
    model: str
    serial: str


OWN_KIT = (SimulatedUnit("thermometer", "C0:DE:00:00:01:01", "Relais Thermo", "SIM-THERMO-1", "SIM-THERMO-0001"),
           SimulatedUnit("oximeter", "C0:DE:00:00:01:02", "Relais Oxy", "SIM-OXY-1", "SIM-OXY-0001"),
           SimulatedUnit("blood_pressure", "C0:DE:00:00:01:03", "Relais Tensio", "SIM-BPM-1", "SIM-BPM-0001"))
NEIGHBOURS = (SimulatedUnit("thermometer", "C0:DE:00:00:02:01", "Relais Thermo 2", "SIM-THERMO-1", "SIM-THERMO-0002"),
              SimulatedUnit("oximeter", "C0:DE:00:00:02:02", "Relais Oxy 2", "SIM-OXY-1", "SIM-OXY-0002"),
              SimulatedUnit("blood_pressure", "C0:DE:00:00:02:03", "Relais Tensio 2", "SIM-BPM-1", "SIM-BPM-0002"))
MANUFACTURER = "Relais Simulated Devices"


def build(radio: Any, unit: SimulatedUnit, scenario: str = "normal") -> Any:
    """The simulator of one unit on the virtual air (not started), playing `scenario` (devices.simulated). Cuff and
    oximeter run at demo speed: a real cuff takes ~40 s, and staff trying the app should not wait that long."""
    from devices.simulated import (DeviceInformation, SimulatedBloodPressureMonitor, SimulatedPlxOximeter,
                                   SimulatedThermometer)

    info = DeviceInformation(manufacturer=MANUFACTURER, model=unit.model, serial=unit.serial)
    common = {"name": unit.name, "address": unit.address, "info": info}
    if unit.kind == "thermometer":
        return SimulatedThermometer(radio, scenario=scenario, **common)
    if unit.kind == "oximeter":
        return SimulatedPlxOximeter(radio, scenario=scenario, speed=5.0, **common)
    return SimulatedBloodPressureMonitor(radio, scenario=scenario, speed=5.0, **common)


async def start_devices(radio: Any, *, scenarios: dict[str, str] | None = None, foreign: tuple[str, ...] = (),
                        switched_off: tuple[str, ...] = ()) -> list[Any]:
    """Start the neighbour's devices of the `foreign` kinds first (they are heard first, and behave normally), then
    the kit's own, except the kinds `switched_off`, each playing its scenario of `scenarios` (kind -> name).
    Returns the running simulators."""
    units = [u for u in NEIGHBOURS if u.kind in foreign] + [u for u in OWN_KIT if u.kind not in switched_off]
    running = []
    for unit in units:
        device = build(radio, unit, "normal" if unit in NEIGHBOURS else (scenarios or {}).get(unit.kind, "normal"))
        if unit in NEIGHBOURS:
            radio.rssi[unit.address] = NEIGHBOUR_RSSI
        await device.start()
        running.append(device)
    return running


def seed_kit(store: Any, paired_at: str) -> bool:
    """First start with simulated devices: the tablet's kit is its own simulated devices (never the neighbour's).
    Does nothing once a kit was written, even an empty one. True when it wrote the kit."""
    if kit_is_set(store):
        return False
    entries = [kit_entry(FoundDevice(u.kind, u.address, u.name, None, MANUFACTURER, u.model, u.serial), paired_at)
               for u in OWN_KIT]
    write_kit(store, entries, "paired the simulated devices")
    log.info("simulation: the tablet's kit is its own %d simulated devices", len(entries))
    return True
