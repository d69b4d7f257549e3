"""Bluetooth SIG assigned numbers used by Relais (Assigned Numbers document, sections 3.4 and 3.8)."""
from __future__ import annotations


def sig_uuid(short: int) -> str:
    """The 128-bit form bleak reports for a 16-bit SIG UUID, lower case."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


def short_uuid(value: str) -> str:
    """'00002a1c-0000-1000-8000-00805f9b34fb' or '2a1c' -> '2A1C'; other 128-bit UUIDs unchanged (upper case)."""
    v = value.lower()
    if len(v) == 36 and v.startswith("0000") and v.endswith("-0000-1000-8000-00805f9b34fb"):
        return v[4:8].upper()
    return v.upper()


# Services
HEALTH_THERMOMETER = sig_uuid(0x1809)
DEVICE_INFORMATION = sig_uuid(0x180A)
BATTERY = sig_uuid(0x180F)

# Characteristics
TEMPERATURE_MEASUREMENT = sig_uuid(0x2A1C)   # indicate
TEMPERATURE_TYPE = sig_uuid(0x2A1D)          # read
INTERMEDIATE_TEMPERATURE = sig_uuid(0x2A1E)  # notify
BATTERY_LEVEL = sig_uuid(0x2A19)
MANUFACTURER_NAME = sig_uuid(0x2A29)
MODEL_NUMBER = sig_uuid(0x2A24)
SERIAL_NUMBER = sig_uuid(0x2A25)
FIRMWARE_REVISION = sig_uuid(0x2A26)
CCCD = sig_uuid(0x2902)
