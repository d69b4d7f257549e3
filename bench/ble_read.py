"""Benchmark (run by hand): the Bluetooth read path on simulated devices, through bleak and the Bumble backend.

For the thermometer, the blood pressure monitor and the PLX pulse oximeter (their standard indications), prints
median and p95 over N runs (default 100) of:
  - indication -> parsed reading handed to the caller (the driver's `done` state);
  - scan+connect -> first reading, minus the simulated device's own measuring time (from the collector's
    first subscription to the device's final indication);
and, as a same-run baseline, the bare parser alone on the same bytes, with the ratio.

    .venv/bin/python bench/ble_read.py [--runs 100] [--kinds thermometer,blood_pressure,oximeter]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time

from devices.parsers import parse
from devices.registry import DRIVERS, simulators
from devices.simulated import VirtualRadio
from devices.simulated.bleak_backend import simulated_transport

SPEED = 1000.0  # simulated time runs this much faster: the device's own delays are subtracted anyway


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


async def bench_kind(kind: str, runs: int) -> dict[str, float]:
    simulator_class, scenarios = simulators()[kind]
    radio = VirtualRadio()
    device = simulator_class(radio, scenario=scenarios["normal"], speed=SPEED)
    await device.start()
    marks: dict[str, float] = {}
    original_indicate, original_subscribed = device.device.indicate_subscribers, device.on_subscribed

    async def timed_indicate(*args, **kwargs):
        marks["indicate"] = time.perf_counter()
        return await original_indicate(*args, **kwargs)

    def timed_subscribed(*args, **kwargs):
        marks.setdefault("subscribed", time.perf_counter())
        return original_subscribed(*args, **kwargs)

    device.device.indicate_subscribers = timed_indicate
    device.on_subscribed = timed_subscribed
    driver_class = DRIVERS[kind][-1]  # the standard-profile driver
    to_reading, connect_to_reading = [], []
    raw = b""
    for _ in range(runs):
        marks.clear()
        done: list[float] = []
        driver = driver_class(simulated_transport(radio),
                              on_state=lambda s: done.append(time.perf_counter()) if s == "done" else None)
        start = time.perf_counter()
        reading = await driver.read(scan_timeout=5)
        raw = reading.raw
        to_reading.append(done[0] - marks["indicate"])
        connect_to_reading.append((done[0] - start) - (marks["indicate"] - marks["subscribed"]))
    await device.stop()
    characteristic = {"thermometer": "2A1C", "blood_pressure": "2A35", "oximeter": "2A5E"}[kind]
    loops = 20000
    t0 = time.perf_counter()
    for _ in range(loops):
        parse(characteristic, raw)
    parse_only = (time.perf_counter() - t0) / loops
    return {"to_median": statistics.median(to_reading), "to_p95": p95(to_reading),
            "conn_median": statistics.median(connect_to_reading), "conn_p95": p95(connect_to_reading),
            "parse": parse_only}


async def run(runs: int, kinds: list[str]) -> None:
    print(f"runs per kind: {runs}; simulated time x{SPEED:.0f}, device measuring time subtracted")
    print(f"{'kind':<15}{'indication->reading':>28}{'scan+connect->reading':>30}{'parser alone':>16}{'ratio':>9}")
    for kind in kinds:
        r = await bench_kind(kind, runs)
        print(f"{kind:<15}{r['to_median'] * 1e3:>11.3f} ms (p95 {r['to_p95'] * 1e3:6.3f})"
              f"{r['conn_median'] * 1e3:>13.1f} ms (p95 {r['conn_p95'] * 1e3:6.1f})"
              f"{r['parse'] * 1e6:>12.2f} us{r['to_median'] / r['parse']:>8.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--kinds", default="thermometer,blood_pressure,oximeter")
    args = parser.parse_args()
    logging.getLogger("bumble").setLevel(logging.ERROR)  # the simulators' link races at disconnect are noise here
    asyncio.run(run(args.runs, args.kinds.split(",")))


if __name__ == "__main__":
    main()
