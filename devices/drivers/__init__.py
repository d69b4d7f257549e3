"""Device drivers: one per device kind and protocol, above the narrow transport."""
from devices.drivers.blood_pressure import BloodPressureDriver
from devices.drivers.thermometer import ThermometerDriver

__all__ = ["BloodPressureDriver", "ThermometerDriver"]
