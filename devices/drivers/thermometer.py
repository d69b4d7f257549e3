"""Driver for Health Thermometer Service (0x1809) thermometers.

Sequence: scan filtered by the HTS service → connect → read Device Information and battery where offered →
subscribe to Intermediate Temperature 0x2A1E (notify, live display only) → subscribe to Temperature
Measurement 0x2A1C (indicate-only: the transport enables indications, CCCD 02 00) → wait for the final
value → disconnect. A dropped link before the final value is reported, never turned into a reading.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Callable

from devices import uuids
from devices.parsers import ParseError, ParsedMeasurement
from devices.drivers.common import (LINK_DROPPED, MalformedData, find_and_connect, next_or_drop, read_battery,
                                    read_identity)
from devices.parsers.temperature import parse_intermediate_temperature, parse_temperature_measurement
from devices.reading import DeviceReading
from devices.transport import Advertisement, Disconnected, OperationTimeout, Transport

log = logging.getLogger(__name__)


class ThermometerDriver:
    kind = "thermometer"
    service = uuids.HEALTH_THERMOMETER

    def __init__(self, transport: Transport, *, on_state: Callable[[str], None] | None = None,
                 on_live: Callable[[ParsedMeasurement], None] | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        self.transport = transport
        self._on_state = on_state or (lambda _s: None)
        self._on_live = on_live or (lambda _m: None)
        self._clock = clock

    @classmethod
    def matches(cls, adv: Advertisement) -> bool:
        return cls.service in adv.service_uuids

    async def read(self, *, address: str | None = None, scan_timeout: float = 15.0,
                   measure_timeout: float = 90.0) -> DeviceReading:
        """Find a thermometer (or the one at `address`), take one final measurement, disconnect."""
        adv, dropped = await find_and_connect(self.transport, service=self.service, match=self.matches,
                                              address=address, scan_timeout=scan_timeout, on_state=self._on_state)
        try:
            identity = await read_identity(self.transport, adv)
            battery = await read_battery(self.transport)
            finals: asyncio.Queue[tuple[bytes, dt.datetime]] = asyncio.Queue()
            if self.transport.has_characteristic(uuids.INTERMEDIATE_TEMPERATURE):
                await self.transport.subscribe(uuids.INTERMEDIATE_TEMPERATURE, self._live)
            await self.transport.subscribe(uuids.TEMPERATURE_MEASUREMENT,
                                           lambda data: finals.put_nowait((data, self._clock())))
            self._on_state("measuring")
            raw, received_at = await self._wait_final(finals, dropped, measure_timeout)
            try:
                measurement = parse_temperature_measurement(raw)
            except ParseError as exc:
                raise MalformedData(f"mesure illisible envoyée par le thermomètre ({exc})") from exc
            self._on_state("done")
            return DeviceReading(self.kind, measurement, raw, identity, received_at, battery)
        finally:
            await self.transport.disconnect()

    async def _wait_final(self, finals: asyncio.Queue, dropped: asyncio.Event,
                          timeout: float) -> tuple[bytes, dt.datetime]:
        result = await next_or_drop(finals, dropped, timeout)
        if result is LINK_DROPPED:
            raise Disconnected("le thermomètre s'est déconnecté avant la fin de la mesure")
        if result is None:
            raise OperationTimeout("aucune mesure reçue du thermomètre dans le temps imparti")
        return result

    def _live(self, data: bytes) -> None:
        try:
            self._on_live(parse_intermediate_temperature(data))
        except ParseError:
            log.info("ignored a malformed intermediate temperature packet (%d bytes)", len(data))
