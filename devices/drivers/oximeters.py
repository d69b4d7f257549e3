"""Drivers for pulse oximeters: the standard Pulse Oximeter Service (0x1822) and two vendor UART streams.

After the shared connect and identify steps (:class:`devices.drivers.base.Driver`) each subscribes and waits for
one value; a dropped link is reported, never turned into a reading.

* :class:`PlxOximeterDriver` — PLXS v1.0.1. The device's own PLX Spot-check 0x2A5E (indicate-only: the transport
  writes CCCD 02 00) is preferred; PLX Continuous 0x2A5F values (notify) feed the live display and the stable
  rule (:mod:`devices.drivers.stable`), which decides when the device never concludes by itself.
* :class:`BerryMedDriver` — BerryMed BCI packets over the Microchip/ISSC Transparent UART service.
* :class:`Pc60fwDriver` — Viatom PC-60FW ``AA 55`` frames over the Nordic UART service.

Vendor UART services are also used by printers, treadmills and speakers, so vendor drivers match on the advertised
service AND the device name. Streams are cut into frames by the parsers' FrameStream classes
(:mod:`devices.parsers.framing`); values only become a reading through the stable rule.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
from typing import Any, Callable

from devices import uuids
from devices.limits import MEASURE_SECONDS
from devices.drivers.stable import (INVALID, NO_FINGER, NOT_PATIENT_DATA, SENSOR_PROBLEM, TIMEOUT_REASONS,
                                    StableReading, StableReadingRule)
from devices.drivers.base import Driver, MalformedData, Result, seconds_param, utcnow
from devices.parsers import ParseError, ParsedMeasurement
from devices.parsers.berrymed import BerryMedStream
from devices.parsers.framing import FrameStream
from devices.parsers.pc60fw import Pc60fwStream
from devices.parsers.pulse_oximetry import parse_plx_continuous, parse_plx_features, parse_plx_spot_check
from devices.transport import Advertisement, OperationTimeout, Transport, TransportError

log = logging.getLogger(__name__)


class NoStableReading(OperationTimeout):
    """No value could be proposed within the measurement time; ``reason`` is one of stable.TIMEOUT_REASONS and the
    code ``oximeter.<reason>`` carries the advice for staff; ``seconds`` is the measurement time that ran out."""

    def __init__(self, reason: str, seconds: str | None = None) -> None:
        reason = reason if reason in TIMEOUT_REASONS else "unstable"
        params = {"seconds": seconds} if seconds is not None else {}
        super().__init__(f"oximeter.{reason}", kind="oximeter", **params)
        self.reason = reason


class _OximeterDriver(Driver):
    """Shared result handling; subclasses say what to subscribe to and how to decode it."""

    kind = "oximeter"
    measure_timeout = MEASURE_SECONDS["oximeter"]

    def __init__(self, transport: Transport, *, on_state: Callable[[str], None] | None = None,
                 on_live: Callable[[ParsedMeasurement], None] | None = None,
                 clock: Callable[[], dt.datetime] = utcnow, monotonic: Callable[[], float] = time.monotonic,
                 stable_seconds: float = 5.0) -> None:
        """``clock`` stamps the reading (UTC); ``monotonic`` is the stable rule's clock in seconds of device time
        (tests playing simulated devices N times faster pass a clock running N times faster)."""
        super().__init__(transport, on_state=on_state, on_live=on_live, clock=clock)
        self._monotonic = monotonic
        self._stable_seconds = stable_seconds
        self._result_value: asyncio.Future[Result] | None = None
        self.rule = StableReadingRule(seconds=stable_seconds, clock=monotonic)

    async def _start(self) -> None:
        self._result_value = asyncio.get_running_loop().create_future()
        self.rule = StableReadingRule(seconds=self._stable_seconds, clock=self._monotonic)
        await self._subscribe()

    # -- to override ------------------------------------------------------------------------------------------
    async def _subscribe(self) -> None:
        raise NotImplementedError

    def _on_timeout(self) -> tuple[ParsedMeasurement, bytes] | None:
        """A value still acceptable when the measurement time is over (none by default)."""
        return None

    def _timeout_reason(self) -> str:
        """Why no value came, for NoStableReading."""
        return self.rule.reason

    # -- shared -------------------------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self._result_value is None or self._result_value.done()

    def _finish(self, measurement: ParsedMeasurement, raw: bytes) -> None:
        if not self.finished:
            self._result_value.set_result((measurement, bytes(raw), self._clock()))

    def _offer(self, measurement: ParsedMeasurement, raw: bytes) -> StableReading | None:
        """A streamed value: shown live, weighed by the stable rule."""
        if self.finished:
            return None
        self._on_live(measurement)
        return self.rule.add(measurement, raw)

    async def _result(self, dropped: asyncio.Event, timeout: float) -> Result:
        """The value the device or the stable rule concluded, a late acceptable value, or why there is none.
        Raises NoStableReading (an OperationTimeout) when no value was proposed within `timeout` seconds."""
        result = self._result_value
        assert result is not None
        lost = asyncio.ensure_future(dropped.wait())
        try:
            done, _ = await asyncio.wait({result, lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not result.done():
                result.cancel()
        if result in done:
            return result.result()
        if lost in done:
            raise self._link_lost()
        late = self._on_timeout()
        if late is not None:
            return (*late, self._clock())
        unreadable = self._unreadable()
        if unreadable and not self.rule.samples_seen:  # the device talks, but nothing it says can be read
            raise MalformedData("oximeter.unreadable", kind=self.kind, count=unreadable)
        raise NoStableReading(self._timeout_reason(), seconds_param(timeout))

    def _unreadable(self) -> int:
        """How much of what the device sent could not be decoded (packets, frames or bytes)."""
        return 0


class PlxOximeterDriver(_OximeterDriver):
    """Standard oximeters (Bluetooth PLXS v1.0.1: PLX Spot-check 0x2A5E, Continuous 0x2A5F, Features 0x2A60).

    Spot-check 0x2A5E is the device's own conclusion and wins, with three exceptions that are not today's patient
    value: demonstration/testing data and records replayed from storage (a bonded device sends those first,
    Measurement Status bit 9), a spot-check whose device status says no finger or no sensor, and one flagged
    invalid or unavailable while still carrying numbers. A spot-check whose values are all special (NaN, ±INF, NRes) is
    returned as it is, like the thermometer's error result, so the device's error reaches staff. Questionable
    or low-perfusion spot-checks are returned with their status for the workflow to flag.

    When the device offers 0x2A5E too, a stable continuous value is held for ``spot_check_grace`` seconds of
    device time so the device's own result, if it comes, is preferred; a continuous-only device gets the stable
    value at once.
    """

    service = uuids.PULSE_OXIMETER

    def __init__(self, transport: Transport, *, spot_check_grace: float = 2.0, **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        self.spot_check_grace = spot_check_grace
        self.features: ParsedMeasurement | None = None
        self.ignored_spot_checks: list[tuple[str, bytes]] = []
        self._has_spot_check = False
        self._stable: StableReading | None = None
        self._stable_since: float | None = None
        self.malformed_packets = 0

    async def _subscribe(self) -> None:
        self._stable, self._stable_since = None, None
        self.malformed_packets = 0
        if self.transport.has_characteristic(uuids.PLX_FEATURES):
            try:
                self.features = parse_plx_features(await self.transport.read(uuids.PLX_FEATURES))
            except (ParseError, TransportError) as exc:  # mandatory, but only informative for us
                log.info("PLX features unreadable: %s", exc)
        self._has_spot_check = self.transport.has_characteristic(uuids.PLX_SPOT_CHECK)
        has_continuous = self.transport.has_characteristic(uuids.PLX_CONTINUOUS)
        if not (self._has_spot_check or has_continuous):
            raise TransportError("oximeter.no_measurement_service", kind=self.kind)
        if self._has_spot_check:
            await self.transport.subscribe(uuids.PLX_SPOT_CHECK, self._spot_check)
        if has_continuous:
            await self.transport.subscribe(uuids.PLX_CONTINUOUS, self._continuous)

    def _spot_check(self, data: bytes) -> None:
        try:
            measurement = parse_plx_spot_check(data)
        except ParseError as exc:
            log.info("ignored a malformed PLX spot-check: %s", exc)
            self.ignored_spot_checks.append(("invalid", data))
            self.malformed_packets += 1
            return
        status = set(measurement.status)
        has_numbers = bool(measurement.observation("spo2") or measurement.observation("pulse_rate"))
        for reason, flags, needs_numbers in (("not_patient_data", NOT_PATIENT_DATA, False),
                                             ("sensor_problem", SENSOR_PROBLEM, False),
                                             ("no_finger", NO_FINGER, False), ("invalid", INVALID, True)):
            if status & flags and (has_numbers or not needs_numbers):
                log.info("ignored a PLX spot-check (%s): %s", reason, sorted(status & flags))
                self.ignored_spot_checks.append((reason, data))
                return
        self._finish(measurement, data)

    def _continuous(self, data: bytes) -> None:
        try:
            measurement = parse_plx_continuous(data)
        except ParseError as exc:
            log.info("ignored a malformed PLX continuous value: %s", exc)
            self.malformed_packets += 1
            return
        stable = self._offer(measurement, data)
        self._stable = stable
        if stable is None:
            self._stable_since = None
            return
        now = self._monotonic()
        if self._stable_since is None:
            self._stable_since = now
        if not self._has_spot_check or now - self._stable_since >= self.spot_check_grace:
            self._finish(stable.measurement, stable.raw)

    def _on_timeout(self) -> tuple[ParsedMeasurement, bytes] | None:
        return (self._stable.measurement, self._stable.raw) if self._stable else None

    def _unreadable(self) -> int:
        return self.malformed_packets

    def _timeout_reason(self) -> str:
        if not self.rule.samples_seen and self.ignored_spot_checks:  # a spot-check-only device said why
            return self.ignored_spot_checks[-1][0]
        return self.rule.reason


class _VendorStreamDriver(_OximeterDriver):
    """A vendor UART oximeter: one notify characteristic carrying a packet stream, no conclusion of its own."""

    notify_char: str = ""
    name_pattern: re.Pattern[str] = re.compile(r"(?!)")  # matches nothing until a subclass says
    label: str = ""
    stream: FrameStream | None = None  # the current reading's stream, kept for diagnostics (dropped bytes, bad CRCs)

    @classmethod
    def matches(cls, adv: Advertisement) -> bool:
        """Service AND name: the UART service alone also fits printers, treadmills and speakers."""
        return cls.service in adv.service_uuids and bool(adv.name and cls.name_pattern.match(adv.name))

    def _new_stream(self) -> FrameStream:
        raise NotImplementedError

    def _usable(self, measurement: ParsedMeasurement) -> bool:
        """Packets worth showing and weighing (vendor streams also carry wave-only packets)."""
        return True

    def _unreadable(self) -> int:
        return self.stream.unreadable if self.stream is not None else 0

    async def _subscribe(self) -> None:
        if not self.transport.has_characteristic(self.notify_char):
            raise TransportError("oximeter.wrong_model", kind=self.kind, model=self.label,
                                 characteristic=uuids.short_uuid(self.notify_char))
        stream = self.stream = self._new_stream()

        def on_data(data: bytes) -> None:
            for raw, measurement in stream.feed_with_raw(data):
                if not self._usable(measurement):
                    continue
                stable = self._offer(measurement, raw)
                if stable is not None:
                    self._finish(stable.measurement, stable.raw)

        await self.transport.subscribe(self.notify_char, on_data)


class BerryMedDriver(_VendorStreamDriver):
    """BerryMed BM1000 family: "BCI" 5-byte packets at ~100 Hz (devices/parsers/berrymed.py), streamed as soon as
    notifications are enabled (as the Adafruit BerryMed driver reads them); advertised name "BerryMed"."""

    service = uuids.BERRYMED_SERVICE
    notify_char = uuids.BERRYMED_NOTIFY
    name_pattern = re.compile(r"berrymed", re.IGNORECASE)
    label = "BerryMed"

    def _new_stream(self) -> FrameStream:
        return BerryMedStream()


class Pc60fwDriver(_VendorStreamDriver):
    """Viatom/Wellue PC-60FW (and OxySmart-branded twins): ``AA 55`` frames (devices/parsers/pc60fw.py); only the
    ~1 Hz parameter frames carry values, the ~10 Hz wave frames are skipped; frames with a bad CRC are dropped by
    the Stream and never reach the live display or the stable rule. Names seen: "PC-60F_SN…", "PC60F…",
    "OxySmart…"."""

    service = uuids.NORDIC_UART_SERVICE
    notify_char = uuids.NORDIC_UART_TX
    name_pattern = re.compile(r"pc-?60f|oxysmart", re.IGNORECASE)
    label = "PC-60FW"

    def _new_stream(self) -> FrameStream:
        return Pc60fwStream()

    def _usable(self, measurement: ParsedMeasurement) -> bool:
        return bool(measurement.details.get("values"))


# Vendor protocols first: they are matched on name and service; the standard profile is the fallback.
OXIMETER_DRIVERS: tuple[type[_OximeterDriver], ...] = (BerryMedDriver, Pc60fwDriver, PlxOximeterDriver)


__all__ = ["BerryMedDriver", "NoStableReading", "OXIMETER_DRIVERS", "Pc60fwDriver", "PlxOximeterDriver"]
