"""Simulated Bluetooth health devices: real GATT servers on Bumble virtual controllers, in this process.

A :class:`VirtualRadio` is a Bumble ``LocalLink`` (a virtual air) on which simulated peripherals advertise and
the tablet's central scans and connects. The tablet side is reached through bleak's public API with the
Bumble backend of :mod:`devices.bleak_transport`, so tests and demo mode run the same code as real hardware.
Simulated devices are a product feature (demo mode, training, development), not a test hack.
"""
from devices.simulated.blood_pressure import BP_SCENARIOS, BloodPressureScenario, SimulatedBloodPressureMonitor
from devices.simulated.base import DeviceInformation, SimulatedPeripheral, Subscription
from devices.simulated.oximeters import (BERRYMED_SCENARIOS, PC60FW_SCENARIOS, PLX_SCENARIOS, SimulatedBerryMed,
                                         SimulatedPc60fw, SimulatedPlxOximeter)
from devices.simulated.radio import VirtualRadio
from devices.simulated.thermometer import THERMOMETER_SCENARIOS, SimulatedThermometer, ThermometerScenario

__all__ = ["BERRYMED_SCENARIOS", "PC60FW_SCENARIOS", "PLX_SCENARIOS", "SimulatedBerryMed", "SimulatedPc60fw",
           "SimulatedPlxOximeter", "BP_SCENARIOS", "BloodPressureScenario", "SimulatedBloodPressureMonitor", "DeviceInformation", "SimulatedPeripheral", "SimulatedThermometer", "Subscription",
           "THERMOMETER_SCENARIOS", "ThermometerScenario", "VirtualRadio"]
