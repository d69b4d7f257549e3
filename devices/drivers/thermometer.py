"""Driver for Health Thermometer Service (0x1809) thermometers (Bluetooth HTS v1.0).

After the shared connect and identify steps (:class:`devices.drivers.base.Driver`): subscribe to Intermediate
Temperature 0x2A1E (notify, live display only) when offered, then to Temperature Measurement 0x2A1C
(indicate-only: the transport enables indications, CCCD 02 00), and wait for the final value.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging

from devices import uuids
from devices.limits import MEASURE_SECONDS
from devices.drivers.base import LINK_DROPPED, Driver, MalformedData, Result, next_or_drop
from devices.parsers import ParseError
from devices.parsers.temperature import parse_intermediate_temperature, parse_temperature_measurement

log = logging.getLogger(__name__)

__all__ = ["MalformedData", "ThermometerDriver"]


class ThermometerDriver(Driver):
    kind = "thermometer"
    service = uuids.HEALTH_THERMOMETER
    measure_timeout = MEASURE_SECONDS["thermometer"]

    async def _start(self) -> None:
        self._finals: asyncio.Queue[tuple[bytes, dt.datetime]] = asyncio.Queue()
        if self.transport.has_characteristic(uuids.INTERMEDIATE_TEMPERATURE):
            await self.transport.subscribe(uuids.INTERMEDIATE_TEMPERATURE, self._live)
        await self.transport.subscribe(uuids.TEMPERATURE_MEASUREMENT,
                                       lambda data: self._finals.put_nowait((data, self._clock())))

    async def _result(self, dropped: asyncio.Event, timeout: float) -> Result:
        result = await next_or_drop(self._finals, dropped, timeout)
        if result is LINK_DROPPED:
            raise self._link_lost()
        if result is None:
            raise self._no_measurement(timeout)
        raw, received_at = result
        return parse_temperature_measurement(raw), raw, received_at

    def _live(self, data: bytes) -> None:
        try:
            self._on_live(parse_intermediate_temperature(data))
        except ParseError:
            log.info("ignored a malformed intermediate temperature packet (%d bytes)", len(data))
