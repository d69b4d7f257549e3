"""The bleak transport itself: connect retries with backoff, serialised GATT operations, clear errors."""
from __future__ import annotations

import asyncio
import time

import pytest

from devices import uuids
from devices.simulated import SimulatedThermometer, VirtualRadio
from devices.simulated.bleak_backend import simulated_transport
from devices.transport import ConnectionFailed, Disconnected

pytestmark = pytest.mark.timeout(30)


async def test_connect_retries_with_backoff_then_fails_clearly():
    radio = VirtualRadio()
    transport = simulated_transport(radio, connect_attempts=3, backoff_seconds=0.05)
    start = time.perf_counter()
    with pytest.raises(ConnectionFailed, match="3 attempts") as caught:
        await transport.connect("C0:DE:00:00:00:99", timeout=0.2)   # nobody there
    assert caught.value.code == "device.connection_failed" and "C0:DE" not in str(caught.value)
    # three timeouts plus backoff 0.05 + 0.10 between them
    assert time.perf_counter() - start >= 3 * 0.2 + 0.15 - 0.05


async def test_gatt_operations_are_serialised():
    radio = VirtualRadio()
    thermometer = SimulatedThermometer(radio)
    await thermometer.start()
    transport = simulated_transport(radio)
    adv = await transport.scan(service_uuids=[uuids.HEALTH_THERMOMETER], timeout=5)
    await transport.connect(adv.address)
    client = transport._client._backend  # the Bumble backend behind bleak's public client
    in_flight, peak = 0, 0
    original = client.read_gatt_char

    async def counting_read(*args, **kwargs):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.01)
            return await original(*args, **kwargs)
        finally:
            in_flight -= 1

    client.read_gatt_char = counting_read
    values = await asyncio.gather(*(transport.read(c) for c in (uuids.MANUFACTURER_NAME, uuids.MODEL_NUMBER,
                                                                 uuids.SERIAL_NUMBER, uuids.BATTERY_LEVEL)))
    assert values[:3] == [b"Relais Simulated Devices", b"SIM-THERMO-1", b"SIM-0001"]
    assert peak == 1
    await transport.disconnect()
    with pytest.raises(Disconnected):
        await transport.read(uuids.MANUFACTURER_NAME)
