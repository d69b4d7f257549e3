"""Driver for Blood Pressure Service (0x1810) monitors (Bluetooth BLS v1.1.1).

After the shared connect and identify steps (:class:`devices.drivers.base.Driver`): read Blood Pressure Feature
0x2A49 → set the monitor's clock through Current Time 0x2A2B (Current Time Service v1.1) when the monitor has
CTS (optional per spec; a refusal is tolerated, and the value is read back because some monitors accept the
write without applying it) → subscribe to Intermediate Cuff Pressure 0x2A36 (notify, live display only) →
subscribe to Blood Pressure Measurement 0x2A35 (indicate-only: the transport enables indications, CCCD 02 00)
→ choose the NEW measurement.

Choosing the new measurement. Monitors send the records stored in memory as a burst of indications as soon as
the CCCD is written, and arrival time is not measurement time. So:
  * a record older than the connection by more than ``stored_age`` (2 min) on a clock we have just set and
    verified is a stored record;
  * a record that arrives after cuff activity (any 0x2A36 notification) is the new measurement;
  * records arriving before any cuff activity are the burst: stored, unless nothing else comes (the link
    drops, or ``burst_quiet`` seconds of silence with the cuff idle) and one of them has a complete time stamp
    within ``recent`` (5 min) of the tablet's local time: the last such record is the new one (a monitor used
    just before connecting, or one without 0x2A36);
  * identical records are counted once (a device retrying its burst); identical bytes without a time stamp
    after new cuff activity are a new measurement that happens to match.
Stored records are never proposed; after ``read`` they are in :attr:`BloodPressureDriver.stored_records`.
A burst with no time stamps and no cuff activity is never guessed at: the read times out.

A record whose pressures are all special values (NaN: the classic cuff error) is returned like any other: it
has no observations and ``details["device_error"]`` is True. The workflow must word it as "the monitor reported
an error" and never show numbers (the 2047/2047 that other apps display).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from devices import uuids
from devices.limits import MEASURE_SECONDS
from devices.drivers.base import (LINK_DROPPED, Driver, MalformedData, Result, next_or_drop, seconds_param,
                                  utcnow)
from devices.parsers import ParseError, ParsedMeasurement
from devices.parsers.blood_pressure import (parse_blood_pressure_feature, parse_blood_pressure_measurement,
                                            parse_intermediate_cuff_pressure)
from devices.parsers.common import read_date_time
from devices.transport import Disconnected, OperationTimeout, Transport, TransportError

log = logging.getLogger(__name__)

__all__ = ["BloodPressureDriver", "MalformedData", "current_time_bytes"]

ADJUST_EXTERNAL_REFERENCE = 0x02  # Adjust Reason bit1 (CTS v1.1 §3.1): the time comes from outside (the tablet)
CLOCK_TOLERANCE = dt.timedelta(seconds=60)
_DROPPED = object()


def current_time_bytes(now: dt.datetime, adjust_reason: int = ADJUST_EXTERNAL_REFERENCE) -> bytes:
    """Current Time 0x2A2B, 10 bytes (CTS v1.1 §3.1; GATT Specification Supplement "Current Time"):
    Date Time (year u16 LE, month, day, hours, minutes, seconds) | Day of Week (1 = Monday .. 7 = Sunday)
    | Fractions256 | Adjust Reason. `now` is local wall time: the Date Time field has no zone."""
    return (now.year.to_bytes(2, "little")
            + bytes([now.month, now.day, now.hour, now.minute, now.second, now.isoweekday(),
                     now.microsecond * 256 // 1_000_000, adjust_reason]))


@dataclass(frozen=True)
class _Record:
    raw: bytes
    received_at: dt.datetime
    measurement: ParsedMeasurement


class BloodPressureDriver(Driver):
    kind = "blood_pressure"
    service = uuids.BLOOD_PRESSURE
    measure_timeout = MEASURE_SECONDS["blood_pressure"]

    def __init__(self, transport: Transport, *, on_state: Callable[[str], None] | None = None,
                 on_live: Callable[[ParsedMeasurement], None] | None = None,
                 clock: Callable[[], dt.datetime] = utcnow,
                 set_device_clock: bool = True, burst_quiet: float = 2.0,
                 recent: dt.timedelta = dt.timedelta(minutes=5),
                 stored_age: dt.timedelta = dt.timedelta(minutes=2)) -> None:
        super().__init__(transport, on_state=on_state, on_live=on_live, clock=clock)
        self._set_device_clock = set_device_clock
        self._burst_quiet = burst_quiet
        self._recent = recent
        self._stored_age = stored_age
        self._cuff_count = 0
        # Results of the last read(), besides the returned reading:
        self.stored_records: list[ParsedMeasurement] = []   # old records from the monitor's memory, in order
        self.features: ParsedMeasurement | None = None     # parsed 0x2A49, when offered
        self.device_clock_set = False                       # Current Time written and verified by reading back

    def _reset(self) -> None:
        self.stored_records, self.features, self.device_clock_set = [], None, False
        self._cuff_count = 0

    async def _start(self) -> None:
        self.features = await self._features()
        self._connected_at = self._clock()
        if self._set_device_clock and self.transport.has_characteristic(uuids.CURRENT_TIME):
            self.device_clock_set = await self._write_current_time()
        self._records: asyncio.Queue[tuple[bytes, dt.datetime, int]] = asyncio.Queue()
        if self.transport.has_characteristic(uuids.INTERMEDIATE_CUFF_PRESSURE):
            await self.transport.subscribe(uuids.INTERMEDIATE_CUFF_PRESSURE, self._live)
        # Each record carries how much cuff activity preceded it: callbacks run in arrival order.
        records = self._records
        await self.transport.subscribe(uuids.BLOOD_PRESSURE_MEASUREMENT,
                                       lambda data: records.put_nowait((data, self._clock(), self._cuff_count)))

    async def _result(self, dropped: asyncio.Event, timeout: float) -> Result:
        chosen = await self._choose(self._records, dropped, timeout, self._connected_at)
        return chosen.measurement, chosen.raw, chosen.received_at

    # -- choosing the new record ----------------------------------------------------------------------------
    async def _choose(self, records: asyncio.Queue, dropped: asyncio.Event, timeout: float,
                      connected_at: dt.datetime) -> _Record:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        burst: list[_Record] = []       # before any cuff activity: stored unless nothing newer comes
        seen: dict[bytes, int] = {}     # raw bytes -> cuff activity count when first received
        unreadable: ParseError | None = None
        while True:
            if burst and self._cuff_count:
                self._file_stored(burst)  # the cuff started: everything before it came from memory
            remaining = deadline - loop.time()
            item = None
            if remaining > 0:
                item = await self._next(records, dropped, min(remaining, self._burst_quiet) if burst else remaining)
            if item is _DROPPED or item is None:
                pick = self._settle(burst)
                if pick is not None:
                    return pick
                if item is None and loop.time() < deadline:
                    continue  # silence after a burst of old records: keep waiting for the cuff
                if unreadable is not None:
                    raise unreadable
                if item is _DROPPED:
                    raise self._link_lost()
                if self.stored_records:
                    raise OperationTimeout("blood_pressure.only_stored", kind=self.kind,
                                           stored=len(self.stored_records), seconds=seconds_param(timeout))
                raise self._no_measurement(timeout)
            raw, received_at, cuff = item
            try:
                measurement = parse_blood_pressure_measurement(raw)
            except ParseError as exc:
                if cuff:
                    raise
                log.info("ignored a malformed record in the stored burst: %s", exc)
                unreadable = exc
                continue
            if self._duplicate(raw, measurement, cuff, seen):
                continue
            seen.setdefault(raw, cuff)
            record = _Record(raw, received_at, measurement)
            if self._older_than(measurement, connected_at):
                self.stored_records.append(measurement)
            elif cuff:
                return record
            else:
                burst.append(record)

    async def _next(self, records: asyncio.Queue, dropped: asyncio.Event, timeout: float) -> object:
        """The next record, `_DROPPED` when the link went down, None after `timeout` seconds of silence."""
        result = await next_or_drop(records, dropped, timeout)
        return _DROPPED if result is LINK_DROPPED else result

    def _file_stored(self, burst: list[_Record]) -> None:
        self.stored_records.extend(r.measurement for r in burst)
        burst.clear()

    def _settle(self, burst: list[_Record]) -> _Record | None:
        """Nothing more is coming for now: the burst is stored, unless the cuff stayed idle and one record is
        recent enough to be the measurement just taken."""
        pick = None if self._cuff_count else self._recent_from(burst)
        self._file_stored(burst)
        return pick

    def _local_now(self) -> dt.datetime:
        """Tablet wall time, naive, comparable with device Date Time stamps (which carry no zone)."""
        return self._clock().astimezone().replace(tzinfo=None)

    def _recent_from(self, burst: list[_Record]) -> _Record | None:
        """The last burst record time-stamped within `recent` of the tablet's time, taken out of the burst."""
        now = self._local_now()
        for index in range(len(burst) - 1, -1, -1):
            stamp = burst[index].measurement.timestamp
            taken = stamp.to_datetime() if stamp else None
            if taken is not None and abs(taken - now) <= self._recent:
                return burst.pop(index)
        return None

    def _older_than(self, measurement: ParsedMeasurement, connected_at: dt.datetime) -> bool:
        """Only meaningful once we have set the monitor's clock: before that its time stamps may be anything."""
        stamp = measurement.timestamp
        taken = stamp.to_datetime() if stamp else None
        if not self.device_clock_set or taken is None:
            return False
        return taken < connected_at.astimezone().replace(tzinfo=None) - self._stored_age

    @staticmethod
    def _duplicate(raw: bytes, measurement: ParsedMeasurement, cuff: int, seen: dict[bytes, int]) -> bool:
        if raw not in seen:
            return False
        stamp = measurement.timestamp
        # Same time stamp and values: the same record. Without a complete stamp, identical bytes after new cuff
        # activity are a new measurement with the same values.
        return (stamp is not None and stamp.complete) or seen[raw] == cuff

    def _live(self, data: bytes) -> None:
        self._cuff_count += 1
        try:
            self._on_live(parse_intermediate_cuff_pressure(data))
        except ParseError:
            log.info("ignored a malformed intermediate cuff pressure packet (%d bytes)", len(data))

    # -- clock, features, identity --------------------------------------------------------------------------
    async def _write_current_time(self) -> bool:
        """Set the monitor's clock to the tablet's local time; True when it reads back within a minute."""
        now = self._clock().astimezone()
        try:
            await self.transport.write(uuids.CURRENT_TIME, current_time_bytes(now))
            back = await self.transport.read(uuids.CURRENT_TIME)
        except Disconnected:
            raise
        except TransportError as exc:  # best effort: a refused clock must never cost the measurement
            log.info("the monitor did not accept the tablet's time: %s", type(exc).__name__)
            return False
        stamp = read_date_time(back, 0) if len(back) >= 7 else None
        taken = stamp.to_datetime() if stamp else None
        if taken is None or abs(taken - now.replace(tzinfo=None)) > CLOCK_TOLERANCE:
            log.info("the monitor accepted the tablet's time but its clock reads %s",
                     stamp.describe() if stamp else back.hex())
            return False
        return True

    async def _features(self) -> ParsedMeasurement | None:
        if not self.transport.has_characteristic(uuids.BLOOD_PRESSURE_FEATURE):
            return None
        try:
            return parse_blood_pressure_feature(await self.transport.read(uuids.BLOOD_PRESSURE_FEATURE))
        except (TransportError, ParseError) as exc:
            log.info("blood pressure features unreadable: %s", exc)
            return None

