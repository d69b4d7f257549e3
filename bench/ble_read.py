"""Benchmark (run by hand): the app's Bluetooth read path against a raw Bumble GATT client, side by side.

Both sides read the same simulated device (a Bumble GATT server on a virtual air, its standard profile, normal
scenario) in the same run, alternately, so machine noise falls on both:
  - app: `devices.registry.read_device` exactly as the session workflow's reader calls it (mobile.runtime: the
    kind, a fresh simulated bleak transport per reading, the tablet's kit, the wait limits, on_state/on_live):
    scan filtered on the profile's services and the kit, connect with retries, full service discovery, Device
    Information and Battery reads, the driver's own reads, writes and subscriptions, the parsed reading, disconnect;
  - raw: a Bumble central doing the same GATT work by hand (scan for the device's advertisement, connect, discover
    services, characteristics and descriptors, the same reads, writes and subscriptions, parse the final value
    with the same parser, disconnect), with no bleak, no transport and no driver.

Per side, over N readings (default 30): scan+connect -> reading returned (link closed), minus the simulated device's
own measuring time (from the collector's last subscription to the device's final indication); scan start -> the
device found; indication -> parsed value; and how many scans each reading started (counted on the central, both
sides). The air holds a device of each kind, as the app's simulated kit does. Prints min and median
and the app/raw ratio of each.

    PYTHONPATH=. .venv/bin/python bench/ble_read.py [--runs 30] [--kinds thermometer,blood_pressure,oximeter]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

from bumble.core import UUID, AdvertisingData
from bumble.device import Peer

from devices import uuids
from devices.limits import DEFAULT_LIMITS
from devices.parsers import parse
from devices.registry import read_device, simulators
from devices.simulated import VirtualRadio
from devices.simulated.blood_pressure import current_time_bytes
from devices.simulated.bleak_backend import simulated_transport

SPEED = 1000.0  # simulated time runs this much faster: the device's own delays are subtracted anyway
IDENTITY = (uuids.MANUFACTURER_NAME, uuids.MODEL_NUMBER, uuids.SERIAL_NUMBER, uuids.FIRMWARE_REVISION,
            uuids.BATTERY_LEVEL)


@dataclass(frozen=True)
class Script:
    """The GATT work the app's driver does for one kind (devices/drivers), for the raw client to do the same."""

    service: str
    reads: tuple[str, ...]           # read in order after connecting, when offered
    subscriptions: tuple[str, ...]   # in order; notifications preferred when offered, as the bleak backend does
    final: str                       # the characteristic whose value is the reading
    set_clock: bool = False          # Current Time written and read back (the cuff driver's default)


SCRIPTS = {
    "thermometer": Script(uuids.HEALTH_THERMOMETER, IDENTITY,
                          (uuids.INTERMEDIATE_TEMPERATURE, uuids.TEMPERATURE_MEASUREMENT), uuids.TEMPERATURE_MEASUREMENT),
    "blood_pressure": Script(uuids.BLOOD_PRESSURE, IDENTITY + (uuids.BLOOD_PRESSURE_FEATURE,),
                             (uuids.INTERMEDIATE_CUFF_PRESSURE, uuids.BLOOD_PRESSURE_MEASUREMENT),
                             uuids.BLOOD_PRESSURE_MEASUREMENT, set_clock=True),
    "oximeter": Script(uuids.PULSE_OXIMETER, IDENTITY + (uuids.PLX_FEATURES,),
                       (uuids.PLX_SPOT_CHECK, uuids.PLX_CONTINUOUS), uuids.PLX_SPOT_CHECK),
}


def sig(uuid: str) -> UUID:
    return UUID.from_16_bits(int(uuids.short_uuid(uuid), 16))


class DeviceMarks:
    """When the simulated device was last subscribed to and last indicated (its own measuring time lies between),
    and how many scans the tablet's central started."""

    def __init__(self, device: Any, central: Any) -> None:
        self.subscribed = self.indicated = 0.0
        self.scans = 0
        indicate, subscribed, start_scanning = (device.device.indicate_subscribers, device.on_subscribed,
                                                central.start_scanning)

        async def timed_indicate(*args: Any, **kwargs: Any) -> Any:
            self.indicated = time.perf_counter()
            return await indicate(*args, **kwargs)

        def timed_subscribed(*args: Any, **kwargs: Any) -> Any:
            self.subscribed = time.perf_counter()
            return subscribed(*args, **kwargs)

        async def counted_scan(*args: Any, **kwargs: Any) -> Any:
            self.scans += 1
            return await start_scanning(*args, **kwargs)

        device.device.indicate_subscribers, device.on_subscribed = timed_indicate, timed_subscribed
        central.start_scanning = counted_scan

    @property
    def measuring(self) -> float:
        return self.indicated - self.subscribed


async def app_read(kind: str, radio: VirtualRadio, address: str) -> dict[str, float]:
    """The workflow's reader for this kind (mobile.runtime.AppRuntime._reader): when the device was found (the
    driver starts connecting) and when its value was parsed (the driver is done)."""
    when: dict[str, float] = {}
    await read_device(kind, lambda: simulated_transport(radio), kit=[address],
                      on_state=lambda s: when.setdefault(s, time.perf_counter()),
                      on_live=lambda _m: None, limits=DEFAULT_LIMITS)
    return {"found": when["connecting"], "parsed": when["done"]}


async def raw_scan(central: Any, address: str, service: str, timeout: float = 5.0) -> None:
    """Scan until the device at `address` advertises `service` (the central's own active scan, as the backend's)."""
    found = asyncio.get_running_loop().create_future()

    def heard(advertisement: Any) -> None:
        services = advertisement.data.get(AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS) or []
        if str(advertisement.address).removesuffix("/P") == address and sig(service) in services \
                and not found.done():
            found.set_result(advertisement)

    central.on("advertisement", heard)
    await central.start_scanning(filter_duplicates=False)
    try:
        await asyncio.wait_for(found, timeout)
    finally:
        central.remove_listener("advertisement", heard)
        await central.stop_scanning()


async def raw_gatt(peer: Peer, script: Script) -> float:
    """Discover everything, do the script's reads, writes and subscriptions, parse the final value: when parsed."""
    await peer.discover_all()
    characteristic: Callable[[str], list] = lambda u: peer.get_characteristics_by_uuid(sig(u))  # noqa: E731
    for uuid in script.reads:
        for found in characteristic(uuid)[:1]:
            await peer.read_value(found)
    if script.set_clock and characteristic(uuids.CURRENT_TIME):
        clock = characteristic(uuids.CURRENT_TIME)[0]
        await peer.write_value(clock, current_time_bytes(dt.datetime.now()), with_response=True)
        await peer.read_value(clock)
    final: asyncio.Queue[bytes] = asyncio.Queue()
    for uuid in script.subscriptions:
        for found in characteristic(uuid)[:1]:
            handler = final.put_nowait if uuid == script.final else (lambda _v: None)
            await peer.subscribe(found, handler, prefer_notify=True)
    parse(uuids.short_uuid(script.final), await asyncio.wait_for(final.get(), 10))
    return time.perf_counter()


async def raw_read(kind: str, radio: VirtualRadio, address: str) -> dict[str, float]:
    """The same reading through Bumble alone: when the device was found and when its value was parsed (the link
    is closed after)."""
    script = SCRIPTS[kind]
    central = await radio.central()
    await raw_scan(central, address, script.service)
    found = time.perf_counter()
    async with radio.connect_lock:
        connection = await central.connect(address, timeout=10)
    try:
        return {"found": found, "parsed": await raw_gatt(Peer(connection), script)}
    finally:
        await connection.disconnect()


SIDES = {"app": app_read, "raw": raw_read}


async def one_reading(side: str, kind: str, radio: VirtualRadio, address: str, marks: DeviceMarks) -> dict:
    marks.scans = 0
    start = time.perf_counter()
    when = await SIDES[side](kind, radio, address)
    total = time.perf_counter() - start
    return {"reading": total - marks.measuring, "scan": when["found"] - start,
            "indication": when["parsed"] - marks.indicated, "scans": marks.scans}


async def start_air(radio: VirtualRadio) -> dict[str, Any]:
    """The air as the app has it: a device of each kind advertising (the kit), each playing its normal scenario."""
    running = {}
    for kind in SCRIPTS:
        simulator_class, scenarios = simulators()[kind]
        running[kind] = simulator_class(radio, scenario=scenarios["normal"], speed=SPEED)
        await running[kind].start()
    return running


async def bench_kind(kind: str, runs: int) -> dict[str, dict[str, list[float]]]:
    radio = VirtualRadio()
    air = await start_air(radio)
    device = air[kind]
    marks = DeviceMarks(device, await radio.central())
    results: dict[str, dict[str, list[float]]] = {side: {} for side in SIDES}
    try:
        for run in range(runs):
            order = list(SIDES) if run % 2 == 0 else list(reversed(SIDES))  # neither side always goes first
            for side in order:
                for key, value in (await one_reading(side, kind, radio, device.address, marks)).items():
                    results[side].setdefault(key, []).append(value)
    finally:
        for running in air.values():
            await running.stop()
    return results


def row(kind: str, what: str, app: list[float], raw: list[float], scale: float, unit: str) -> str:
    figures = [min(app) * scale, statistics.median(app) * scale, min(raw) * scale, statistics.median(raw) * scale]
    ratios = f"{figures[0] / figures[2]:>7.2f}x {figures[1] / figures[3]:>7.2f}x" if figures[2] and figures[3] else ""
    return (f"{kind:<15}{what:<22}" + "".join(f"{f:>9.3f}" for f in figures) + f" {unit:<3}" + ratios)


async def run(runs: int, kinds: list[str]) -> None:
    print(f"readings per side and kind: {runs}, alternating; simulated time x{SPEED:.0f}, device measuring time "
          "subtracted")
    print(f"{'kind':<15}{'':<22}{'app min':>9}{'app med':>9}{'raw min':>9}{'raw med':>9}     "
          f"{'min':>7}  {'median':>7}")
    for kind in kinds:
        r = await bench_kind(kind, runs)
        app, raw = r["app"], r["raw"]
        print(row(kind, "scan+connect->reading", app["reading"], raw["reading"], 1e3, "ms"))
        print(row("", "scan->device found", app["scan"], raw["scan"], 1e3, "ms"))
        print(row("", "indication->value", app["indication"], raw["indication"], 1e3, "ms"))
        print(row("", "scans per reading", app["scans"], raw["scans"], 1, ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--kinds", default="thermometer,blood_pressure,oximeter")
    args = parser.parse_args()
    logging.getLogger("bumble").setLevel(logging.ERROR)  # the simulators' link races at disconnect are noise here
    asyncio.run(run(args.runs, args.kinds.split(",")))


if __name__ == "__main__":
    main()
