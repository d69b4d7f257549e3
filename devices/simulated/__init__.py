"""Simulated Bluetooth health devices: real GATT servers on Bumble virtual controllers, in this process.

A :class:`VirtualRadio` is a Bumble ``LocalLink`` (a virtual air) on which simulated peripherals advertise and
the tablet's central scans and connects. The tablet side is reached through bleak's public API with the
Bumble backend of :mod:`devices.simulated.bleak_backend` (``simulated_transport(radio)``), so tests and demo mode
run the same transport code as real hardware.
Simulated devices are a product feature (demo mode, training, development), not a test hack.
"""
from devices.simulated.blood_pressure import BP_SCENARIOS, BloodPressureScenario, SimulatedBloodPressureMonitor
from devices.simulated.base import DeviceInformation, SimulatedPeripheral, Subscription
from devices.simulated.oximeters import (BERRYMED_SCENARIOS, PC60FW_SCENARIOS, PLX_SCENARIOS, SimulatedBerryMed,
                                         SimulatedPc60fw, SimulatedPlxOximeter)
from devices.simulated.radio import VirtualRadio
from devices.simulated.thermometer import THERMOMETER_SCENARIOS, SimulatedThermometer, ThermometerScenario

__all__ = ["BERRYMED_SCENARIOS", "BP_SCENARIOS", "BloodPressureScenario", "DeviceInformation", "PC60FW_SCENARIOS",
           "PLX_SCENARIOS", "SimulatedBerryMed", "SimulatedBloodPressureMonitor", "SimulatedPc60fw",
           "SimulatedPeripheral", "SimulatedPlxOximeter", "SimulatedThermometer", "Subscription",
           "THERMOMETER_SCENARIOS", "ThermometerScenario", "VirtualRadio"]
