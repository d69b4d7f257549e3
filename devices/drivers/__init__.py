"""Device drivers: one per device kind and protocol, above the narrow transport, on one shared skeleton
(:class:`devices.drivers.base.Driver`)."""
from devices.drivers.base import Driver, MalformedData
from devices.drivers.blood_pressure import BloodPressureDriver
from devices.drivers.oximeters import BerryMedDriver, Pc60fwDriver, PlxOximeterDriver
from devices.drivers.thermometer import ThermometerDriver

__all__ = ["BerryMedDriver", "BloodPressureDriver", "Driver", "MalformedData", "Pc60fwDriver", "PlxOximeterDriver",
           "ThermometerDriver"]
