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

# Blood Pressure Service
BLOOD_PRESSURE = sig_uuid(0x1810)
BLOOD_PRESSURE_MEASUREMENT = sig_uuid(0x2A35)  # indicate
INTERMEDIATE_CUFF_PRESSURE = sig_uuid(0x2A36)  # notify
BLOOD_PRESSURE_FEATURE = sig_uuid(0x2A49)      # read

# Current Time Service (the collector sets the device clock where offered)
CURRENT_TIME_SERVICE = sig_uuid(0x1805)
CURRENT_TIME = sig_uuid(0x2A2B)                # read, notify, optional write

# Pulse Oximeter Service
PULSE_OXIMETER = sig_uuid(0x1822)
PLX_SPOT_CHECK = sig_uuid(0x2A5E)              # indicate
PLX_CONTINUOUS = sig_uuid(0x2A5F)              # notify
PLX_FEATURES = sig_uuid(0x2A60)                # read
RECORD_ACCESS_CONTROL_POINT = sig_uuid(0x2A52)

# Non-standard oximeters (vendor UART services; also used by printers and treadmills: match name too)
BERRYMED_SERVICE = "49535343-fe7d-4ae5-8fa9-9fafd205e455"      # Microchip/ISSC Transparent UART
BERRYMED_NOTIFY = "49535343-1e4d-4bd9-ba61-23c647249616"
BERRYMED_WRITE = "49535343-8841-43f4-a8d4-ecbe34729bb3"
NORDIC_UART_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"   # PC-60FW and other Viatom/Lepu devices
NORDIC_UART_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"        # write
NORDIC_UART_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"        # notify
