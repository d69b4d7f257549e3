"""A simulated blood pressure monitor (Blood Pressure Service 0x1810, plus Current Time Service 0x1805).

GATT table, as BLS v1.1.1 §3 requires:
  0x2A35 Blood Pressure Measurement — indicate only, so a collector enabling notifications (CCCD 01 00)
         receives nothing, like a real cuff;
  0x2A36 Intermediate Cuff Pressure — notify, the cuff pressure while inflating/deflating;
  0x2A49 Blood Pressure Feature — read.
  0x2A2B Current Time (CTS v1.1 §3.1) — read, write, notify; a write sets the device clock.

Once the collector enables indications on 0x2A35 the monitor plays its scenario: first any stored records
(the burst of old measurements users complain about), then the cuff (inflate, deflate, 0x2A36 every 0.5 s),
then the new measurement. Real-world durations are divided by the speed factor.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from bumble.att import ATT_Error, ErrorCode
from bumble.gatt import Characteristic, CharacteristicValue, Service

from devices import uuids
from devices.ieee11073 import Special, encode_sfloat
from devices.simulated.base import (READ, READABLE, WRITEABLE, DeviceInformation, Recent, SimulatedPeripheral,
                                    bumble_uuid)
from devices.simulated.radio import VirtualRadio

Value = Decimal | str | Special

# Measurement Status bits (BLS v1.1.1 §3; GATT Specification Supplement "Blood Pressure Measurement", 0x2A35).
STATUS_BODY_MOVEMENT = 0x0001
STATUS_CUFF_TOO_LOOSE = 0x0002
STATUS_IRREGULAR_PULSE = 0x0004
STATUS_PULSE_ABOVE_RANGE = 0x0008
STATUS_IMPROPER_POSITION = 0x0020

# Blood Pressure Feature bits (0x2A49): body movement, cuff fit, irregular pulse detection.
DEFAULT_FEATURES = 0x0007

CTS_DATA_FIELD_IGNORED = 0x80  # CTS v1.1 application error "Data field ignored": the server will not apply a write
_MMHG_TO_KPA = Decimal("0.133322")


@dataclass(frozen=True)
class StoredRecord:
    """A measurement taken earlier, kept in the monitor's memory and sent again after the CCCD is written."""

    systolic: Value
    diastolic: Value
    mean_arterial: Value
    pulse: Value | None
    age: dt.timedelta  # how long before the connection it was taken, on the device clock


@dataclass(frozen=True)
class BloodPressureScenario:
    """What the monitor does once a collector enables indications on 0x2A35.

    Values are decimal strings (precision kept) or a Special (NaN for a cuff error). ``kpa`` switches the
    unit flag and converts the cuff pressures. ``clock`` is the device clock at power-on: ``"tablet"`` (right),
    ``"2000"`` (reset to 2000-01-01 by a battery change) or ``"unknown"`` (Date Time year/month/day 0);
    a Current Time write sets it. ``current_time`` says how CTS is offered: ``"writable"``, ``"read_only"``,
    ``"refuses"`` (writable property, every write rejected) or ``"absent"``. ``measure=False`` means no
    measurement during the connection: only the stored records are sent (a monitor used before connecting).
    """

    name: str = "normal"
    systolic: Value = "128"
    diastolic: Value = "82"
    mean_arterial: Value = "97"
    pulse: Value | None = "72"
    kpa: bool = False
    status: int | None = 0          # Measurement Status bits; None = field absent
    user_id: int | None = 1         # 0xFF = unknown user
    timestamp: bool = True
    features: int = DEFAULT_FEATURES
    inflate_seconds: float = 1.0
    deflate_seconds: float = 1.0
    cuff_peak_mmhg: int = 160
    cuff_end_mmhg: int = 60
    cuff_step_seconds: float = 0.5
    stored: tuple[StoredRecord, ...] = ()
    resend_stored: bool = False     # the burst is sent twice (a device retrying): the collector must dedupe
    measure: bool = True
    intermediate: bool = True       # False: no 0x2A36 in the GATT table (it is optional), the cuff runs silently
    disconnect_mid_inflation: bool = False
    malformed: bool = False         # the new measurement is one byte shorter than its flags announce
    clock: Literal["tablet", "2000", "unknown"] = "tablet"
    current_time: Literal["writable", "read_only", "refuses", "absent"] = "writable"
    battery_percent: int = 87


_OLD_RECORDS = (
    StoredRecord("135", "88", "104", "76", dt.timedelta(days=3, hours=2)),
    StoredRecord("142", "91", "108", "80", dt.timedelta(days=2, hours=5)),
    StoredRecord("131", "85", "100", "70", dt.timedelta(days=1, minutes=40)),
)

BP_SCENARIOS: dict[str, BloodPressureScenario] = {s.name: s for s in (
    BloodPressureScenario(),
    BloodPressureScenario(name="error", systolic=Special.NAN, diastolic=Special.NAN, mean_arterial=Special.NAN,
                          pulse=Special.NAN),
    BloodPressureScenario(name="out_of_range", systolic=Special.POS_INF, diastolic="121",
                          mean_arterial=Special.NRES, pulse="96", cuff_peak_mmhg=280),
    BloodPressureScenario(name="low_battery", battery_percent=5),
    BloodPressureScenario(name="slow", inflate_seconds=8.0, deflate_seconds=6.0),
    BloodPressureScenario(name="disconnect", disconnect_mid_inflation=True, inflate_seconds=4.0),
    BloodPressureScenario(name="stored_burst", stored=_OLD_RECORDS),
    BloodPressureScenario(name="measured_before_connect", measure=False, stored=(
        _OLD_RECORDS[0], StoredRecord("126", "80", "95", "68", dt.timedelta(seconds=40)))),
    BloodPressureScenario(name="irregular_pulse", pulse="94", status=STATUS_IRREGULAR_PULSE),
    BloodPressureScenario(name="body_movement", status=STATUS_BODY_MOVEMENT),
    BloodPressureScenario(name="kpa", kpa=True, systolic="17.1", diastolic="10.9", mean_arterial="12.9"),
    BloodPressureScenario(name="clock_not_set", clock="2000"),
    BloodPressureScenario(name="clock_unknown", clock="unknown"),
    BloodPressureScenario(name="clock_write_refused", clock="2000", current_time="refuses"),
    BloodPressureScenario(name="no_cts", current_time="absent"),
    BloodPressureScenario(name="malformed", malformed=True),
)}


def date_time_bytes(when: dt.datetime, date_known: bool = True) -> bytes:
    """Date Time, 7 bytes (GATT Specification Supplement, Date Time 0x2A08); year/month/day 0 = unknown."""
    year, month, day = (when.year, when.month, when.day) if date_known else (0, 0, 0)
    return year.to_bytes(2, "little") + bytes([month, day, when.hour, when.minute, when.second])


def current_time_bytes(when: dt.datetime, date_known: bool = True, adjust_reason: int = 0) -> bytes:
    """Current Time 0x2A2B, 10 bytes (CTS v1.1 §3.1): Date Time (7) | Day of Week (1 = Monday .. 7, 0 unknown)
    | Fractions256 | Adjust Reason (bit0 manual, bit1 external reference, bit2 time zone, bit3 DST)."""
    weekday = when.isoweekday() if date_known else 0
    return date_time_bytes(when, date_known) + bytes([weekday, when.microsecond * 256 // 1_000_000,
                                                      adjust_reason])


class SimulatedBloodPressureMonitor(SimulatedPeripheral):
    advertised_services = (uuids.BLOOD_PRESSURE,)

    def __init__(self, radio: VirtualRadio, *, name: str = "Relais Tensio", address: str | None = None,
                 scenario: BloodPressureScenario | str = "normal", info: DeviceInformation | None = None,
                 speed: float = 1.0) -> None:
        self.scenario = BP_SCENARIOS[scenario] if isinstance(scenario, str) else scenario
        self.time_writes: list[bytes] = Recent()  # each Current Time value the collector wrote, accepted or not
        self.indications_sent: list[bytes] = Recent()  # each 0x2A35 value, stored and new, in order
        self.measurements_sent: list[bytes] = Recent()  # the new measurement(s) only
        self._date_known = self.scenario.clock != "unknown"
        # "2000": reset by a battery change; "unknown": the time of day runs from 00:00, the date is not known.
        self._set_clock(dt.datetime.now() if self.scenario.clock == "tablet" else dt.datetime(2000, 1, 1))
        super().__init__(radio, name=name, address=address, speed=speed,
                         info=info or DeviceInformation(model="SIM-BPM-1"),
                         battery_percent=self.scenario.battery_percent)

    # -- device clock ---------------------------------------------------------------------------------------
    def _set_clock(self, when: dt.datetime) -> None:
        self._clock_origin, self._clock_mono = when, time.monotonic()

    def device_time(self) -> dt.datetime:
        """The device's wall clock now (it runs at real speed; only scenario durations are scaled)."""
        return self._clock_origin + dt.timedelta(seconds=time.monotonic() - self._clock_mono)

    @property
    def clock_date_known(self) -> bool:
        return self._date_known

    def _read_current_time(self, _connection: Any) -> bytes:
        return current_time_bytes(self.device_time(), self._date_known)

    def _write_current_time(self, _connection: Any, value: bytes) -> None:
        value = bytes(value)
        self.time_writes.append(value)
        if self.scenario.current_time == "read_only":  # Bumble does not enforce the declared properties itself
            raise ATT_Error(ErrorCode.WRITE_NOT_PERMITTED)
        if self.scenario.current_time == "refuses":
            raise ATT_Error(CTS_DATA_FIELD_IGNORED)
        if len(value) != 10:
            raise ATT_Error(ErrorCode.INVALID_ATTRIBUTE_LENGTH)
        year = int.from_bytes(value[0:2], "little")
        try:
            when = dt.datetime(year, *value[2:7], microsecond=value[8] * 1_000_000 // 256)
        except ValueError:  # year 0, month 13...: a clock cannot be set to an unknown date
            raise ATT_Error(CTS_DATA_FIELD_IGNORED) from None
        self._set_clock(when)
        self._date_known = True

    # -- GATT table -----------------------------------------------------------------------------------------
    def build_services(self) -> list[Service]:
        s = self.scenario
        self._measure = Characteristic(bumble_uuid(uuids.BLOOD_PRESSURE_MEASUREMENT),
                                       Characteristic.Properties.INDICATE, Characteristic.Permissions(0), b"")
        self._cuff = Characteristic(bumble_uuid(uuids.INTERMEDIATE_CUFF_PRESSURE),
                                    Characteristic.Properties.NOTIFY, Characteristic.Permissions(0), b"")
        services = [Service(bumble_uuid(uuids.BLOOD_PRESSURE), [
            self._measure, *([self._cuff] if s.intermediate else []),
            Characteristic(bumble_uuid(uuids.BLOOD_PRESSURE_FEATURE), READ, READABLE,
                           s.features.to_bytes(2, "little"))])]
        if s.current_time != "absent":
            props = READ | Characteristic.Properties.NOTIFY
            perms = READABLE
            if s.current_time != "read_only":
                props |= Characteristic.Properties.WRITE
                perms |= WRITEABLE
            self._current_time = Characteristic(
                bumble_uuid(uuids.CURRENT_TIME), props, perms,
                CharacteristicValue(read=self._read_current_time, write=self._write_current_time))
            services.append(Service(bumble_uuid(uuids.CURRENT_TIME_SERVICE), [self._current_time]))
        return services

    # -- values ---------------------------------------------------------------------------------------------
    def measurement_bytes(self, systolic: Value, diastolic: Value, mean_arterial: Value, pulse: Value | None,
                          taken_at: dt.datetime | None) -> bytes:
        """0x2A35 in the layout of BLS v1.1.1 §3 (see devices/parsers/blood_pressure.py): flags, 3 SFLOAT,
        Time Stamp, Pulse Rate, User ID, Measurement Status, each optional field announced by a flag bit."""
        s = self.scenario
        flags = 0x01 if s.kpa else 0
        body = b"".join(encode_sfloat(v) for v in (systolic, diastolic, mean_arterial))
        if s.timestamp and taken_at is not None:
            flags |= 0x02
            body += date_time_bytes(taken_at, self._date_known)
        if pulse is not None:
            flags |= 0x04
            body += encode_sfloat(pulse)
        if s.user_id is not None:
            flags |= 0x08
            body += bytes([s.user_id])
        if s.status is not None:
            flags |= 0x10
            body += s.status.to_bytes(2, "little")
        return bytes([flags]) + body

    def cuff_bytes(self, pressure: Value) -> bytes:
        """0x2A36: same layout as 0x2A35, cuff pressure in the systolic field, diastolic and MAP NaN
        (BLS v1.1.1 §3.2)."""
        flags = 0x01 if self.scenario.kpa else 0
        return bytes([flags]) + encode_sfloat(pressure) + encode_sfloat(Special.NAN) * 2

    @property
    def cuff_pressures(self) -> list[str]:
        """The 0x2A36 values the scenario plays, as decimal strings in the scenario's unit."""
        s = self.scenario
        up = max(1, round(s.inflate_seconds / s.cuff_step_seconds))
        down = max(1, round(s.deflate_seconds / s.cuff_step_seconds))
        mmhg = [round(s.cuff_peak_mmhg * i / up) for i in range(1, up + 1)]
        mmhg += [round(s.cuff_peak_mmhg - (s.cuff_peak_mmhg - s.cuff_end_mmhg) * i / down) for i in range(1, down + 1)]
        if not s.kpa:
            return [str(p) for p in mmhg]
        return [str((Decimal(p) * _MMHG_TO_KPA).quantize(Decimal("0.1"))) for p in mmhg]

    # -- behaviour ------------------------------------------------------------------------------------------
    def on_subscribed(self, connection: Any, characteristic: Characteristic, notify: bool, indicate: bool) -> None:
        if characteristic is self._measure and indicate and not self.busy:
            self.battery_percent = self.scenario.battery_percent
            self.spawn(lambda: self._run(connection))

    async def _indicate_record(self, payload: bytes) -> None:
        self.indications_sent.append(payload)
        await self.indicate(self._measure, payload)

    async def _run(self, connection: Any) -> None:
        s = self.scenario
        connected_at = self.device_time()
        for _ in range(2 if s.resend_stored else 1):
            for record in s.stored:
                await self._indicate_record(self.measurement_bytes(
                    record.systolic, record.diastolic, record.mean_arterial, record.pulse,
                    connected_at - record.age))
        if not s.measure:
            return
        await self.sleep(s.cuff_step_seconds)  # the patient presses Start
        pressures = self.cuff_pressures
        inflating = max(1, round(s.inflate_seconds / s.cuff_step_seconds))
        for i, pressure in enumerate(pressures):
            if s.disconnect_mid_inflation and i == inflating // 2:
                await connection.disconnect()
                return
            if s.intermediate:
                await self.notify(self._cuff, self.cuff_bytes(pressure))
            await self.sleep(s.cuff_step_seconds)
        payload = self.measurement_bytes(s.systolic, s.diastolic, s.mean_arterial, s.pulse, self.device_time())
        if s.malformed:
            payload = payload[:-1]  # every field is fixed-size, so one byte short never parses
        self.measurements_sent.append(payload)
        await self._indicate_record(payload)
