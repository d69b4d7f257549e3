"""Device failures are codes with parameters: every code the drivers and the transport raise has an English wording
for logs and the command line, and a message never needs an address."""
from __future__ import annotations

import pathlib
import re

from devices.errors import ENGLISH, DeviceError, english
from devices.drivers.base import MalformedData
from devices.drivers.oximeters import NoStableReading
from devices.transport import ConnectionFailed, DeviceNotFound, Disconnected, OperationTimeout, TransportError

DEVICES = pathlib.Path(__file__).resolve().parents[2] / "devices"


def test_every_default_code_is_worded():
    for cls in (DeviceError, TransportError, DeviceNotFound, ConnectionFailed, Disconnected, OperationTimeout,
                MalformedData):
        assert cls().code in ENGLISH, cls


def test_every_code_raised_in_devices_is_worded():
    source = "\n".join(p.read_text() for p in DEVICES.rglob("*.py") if "simulated" not in p.parts)
    raised = set(re.findall(r'(?:Error|Found|Failed|Disconnected|Timeout|Data)\("([a-z_]+\.[a-z_]+)"', source))
    assert raised and not sorted(raised - set(ENGLISH))


def test_words_name_the_device_kind_and_fall_back_to_the_code():
    assert str(Disconnected(kind="oximeter")) == "the oximeter disconnected before the end of the measurement"
    assert str(Disconnected()) == "the device disconnected before the end of the measurement"
    assert str(NoStableReading("no_finger")).startswith("no finger detected")
    assert NoStableReading("something new").code == "oximeter.unstable"
    assert english("device.unheard_of", {"kind": "oximeter"}) == "device.unheard_of"
