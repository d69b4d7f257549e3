"""Device failures as codes with parameters, never sentences.

A driver or the Bluetooth transport says *what* went wrong (``code``, e.g. ``oximeter.no_finger``) and the values
a message needs (``params``: the device kind, a characteristic, a count — never an address or patient data). The
app words the code in the reader's language from its own catalog; the attribute names are those of the app's
other refusals, so one function words both. ``str(exc)`` is plain English from :data:`ENGLISH`, for logs and the
``python -m devices read`` command line.
"""
from __future__ import annotations

from typing import Any

DEVICE_NAMES = {"thermometer": "the thermometer", "blood_pressure": "the blood pressure monitor",
                "oximeter": "the oximeter"}

#: English wording of every code, a fragment that reads after "Measurement impossible: ".
ENGLISH: dict[str, str] = {
    "device.failed": "Bluetooth operation failed",
    "device.not_found": "no device found",
    "device.adapter_unavailable": "Bluetooth adapter unavailable",
    "device.scan_failed": "the Bluetooth scan failed",
    "device.connection_failed": "could not connect after {attempts} attempts",
    "device.not_connected": "the device is not connected",
    "device.characteristic_missing": "the device does not offer the characteristic {characteristic}",
    "device.cannot_subscribe": "the characteristic {characteristic} can neither notify nor indicate",
    "device.no_answer": "no answer from the device in {seconds} s",
    "device.operation_failed": "a Bluetooth operation on {characteristic} failed",
    "device.link_lost": "{device} disconnected before the end of the measurement",
    "device.malformed": "unreadable measurement sent by {device}",
    "device.no_measurement": "{device} sent no measurement in time",
    "device.not_in_kit": "device not paired with this tablet",
    "device.none_paired": "no device of this kind is paired with this tablet",
    "device.pairing_failed": "the device refused pairing or did not answer",
    "blood_pressure.only_stored": "no new measurement received from the blood pressure monitor in time "
                                  "({stored} old measurement(s) in memory ignored)",
    "oximeter.no_measurement_service": "this oximeter offers neither spot-check (2A5E) nor continuous (2A5F) "
                                       "measurement",
    "oximeter.wrong_model": "this device does not behave like a {model} oximeter (characteristic "
                            "{characteristic} missing)",
    "oximeter.unreadable": "the oximeter only sends unreadable data ({count} rejected): unsupported model or "
                           "faulty device",
    "oximeter.no_data": "no measurement received from the oximeter in time: check that it is on, then measure again",
    "oximeter.sensor_problem": "the oximeter's sensor is unplugged or faulty: check the sensor, then measure again",
    "oximeter.no_finger": "no finger detected: place the patient's finger fully into the oximeter, then measure "
                          "again",
    "oximeter.not_patient_data": "the oximeter sends demonstration or test data, not a measurement of the patient",
    "oximeter.invalid": "the oximeter gives no valid value: remove and replace the finger, then measure again",
    "oximeter.poor_signal": "signal too weak or doubtful: warm the hand, try another finger and keep the hand "
                            "still, then measure again",
    "oximeter.settling": "the measurement has not settled yet: keep the finger in place and the hand still, then "
                         "measure again",
    "oximeter.unstable": "the values do not settle: keep the hand still and at rest, then measure again",
}


class _Params(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def english(code: str, params: dict[str, Any]) -> str:
    """The English fragment for `code`, its parameters filled in; the code itself when it has no wording."""
    template = ENGLISH.get(code)
    if template is None:
        return code
    values = _Params({name: str(value) for name, value in params.items()})
    values.setdefault("device", DEVICE_NAMES.get(params.get("kind", ""), "the device"))
    return template.format_map(values)


class DeviceError(Exception):
    """Base of every failure ``devices/`` reports: ``code`` says what happened, ``params`` fill the message.
    Each subclass has its default code, so ``Disconnected(kind="thermometer")`` is enough."""

    default_code = "device.failed"

    def __init__(self, code: str | None = None, field: str | None = None, **params: Any) -> None:
        self.code = code or self.default_code
        self.field = field
        self.params = params
        super().__init__(self.code)

    def __str__(self) -> str:
        return english(self.code, self.params)
