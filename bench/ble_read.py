"""Benchmark (run by hand): Bluetooth read path on simulated devices, through bleak and the Bumble backend.

Prints, over N runs (default 100), median and p95 of:
  - indication → parsed reading handed to the caller (the simulator's own scenario delay is not in this span);
  - connect-to-first-reading: from the scan starting to the parsed final reading, minus the simulated
    measurement time;
and, as a same-run baseline, the bare parser alone on the same bytes, with the ratio.

    .venv/bin/python bench/ble_read.py [--runs 100]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from devices.bleak_transport import BleakTransport
from devices.drivers import ThermometerDriver
from devices.parsers.temperature import parse_temperature_measurement
from devices.simulated import SimulatedThermometer, ThermometerScenario, VirtualRadio


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


async def run(runs: int) -> None:
    scenario = ThermometerScenario(name="bench", intermediate=(), measure_seconds=0.0)
    radio = VirtualRadio()
    thermometer = SimulatedThermometer(radio, scenario=scenario)
    await thermometer.start()
    indicate_at: list[float] = []
    original = thermometer.device.indicate_subscribers

    async def timed_indicate(*args, **kwargs):
        indicate_at.append(time.perf_counter())
        return await original(*args, **kwargs)

    thermometer.device.indicate_subscribers = timed_indicate
    to_reading, connect_to_reading = [], []
    for _ in range(runs):
        handed: list[float] = []
        driver = ThermometerDriver(BleakTransport.simulated(radio),
                                   on_state=lambda s: handed.append(time.perf_counter()) if s == "done" else None)
        start = time.perf_counter()
        reading = await driver.read(scan_timeout=5)
        assert str(reading.measurement.observations[0].value) == "37.60"
        to_reading.append(handed[0] - indicate_at[-1])
        connect_to_reading.append(handed[0] - start - scenario.measure_seconds)
    await thermometer.stop()

    raw = thermometer.measurement_bytes("37.60")
    loops = 20000
    t0 = time.perf_counter()
    for _ in range(loops):
        parse_temperature_measurement(raw)
    parse_only = (time.perf_counter() - t0) / loops

    ms = 1000.0
    print(f"runs: {runs}")
    print(f"indication -> parsed reading   median {statistics.median(to_reading) * ms:7.3f} ms   "
          f"p95 {p95(to_reading) * ms:7.3f} ms")
    print(f"scan+connect -> first reading  median {statistics.median(connect_to_reading) * ms:7.3f} ms   "
          f"p95 {p95(connect_to_reading) * ms:7.3f} ms   (simulated measurement time subtracted: "
          f"{scenario.measure_seconds * ms:.0f} ms)")
    print(f"baseline: parser alone          {parse_only * 1e6:7.2f} us per value")
    print(f"ratio indication->reading / parser alone: {statistics.median(to_reading) / parse_only:,.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    asyncio.run(run(parser.parse_args().runs))


if __name__ == "__main__":
    main()
