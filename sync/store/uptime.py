"""Elapsed time that a change of the wall clock cannot shorten: this boot's id and the seconds since it started.

Linux (and Android, its kernel) counts `CLOCK_BOOTTIME` from boot, suspend included, whatever the date is set to;
`/proc/sys/kernel/random/boot_id` changes at every boot (proc(5)). Two readings with the same boot id give the
true time between them; readings from different boots (or where either is unknown) cannot be compared, and the
caller must take the safe side.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, NamedTuple

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


class BootReading(NamedTuple):
    boot: str | None  # None: this system does not say which boot it is in
    seconds: float


UptimeSource = Callable[[], BootReading]


def boot_reading() -> BootReading:
    """This boot's id and the seconds since boot (monotonic where there is no boot clock)."""
    try:
        boot: str | None = _BOOT_ID.read_text(encoding="ascii").strip() or None
    except OSError:
        boot = None
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    seconds = time.clock_gettime(clock) if clock is not None else time.monotonic()
    return BootReading(boot, seconds)


def elapsed(since: BootReading, now: BootReading) -> float | None:
    """Seconds from `since` to `now`, or None when they cannot be compared (another boot, an unknown one)."""
    if since.boot is None or since.boot != now.boot or now.seconds < since.seconds:
        return None
    return now.seconds - since.seconds
