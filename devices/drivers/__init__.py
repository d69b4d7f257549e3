"""Device drivers: one per device kind and protocol, above the narrow transport."""
from devices.drivers.blood_pressure import BloodPressureDriver
from devices.drivers.oximeters import BerryMedDriver, Pc60fwDriver, PlxOximeterDriver
from devices.drivers.thermometer import ThermometerDriver

__all__ = ["BerryMedDriver", "BloodPressureDriver", "Pc60fwDriver", "PlxOximeterDriver", "ThermometerDriver"]
