"""A clock tests set by hand, for the store's `clock=` (and anything else that asks for an aware datetime)."""
from __future__ import annotations

import datetime as dt


class SettableClock:
    """Returns `now` until a test moves it (`clock.now = …` or `clock.advance(seconds)`)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class BootClockOf:
    """A boot clock (sync.store.uptime) that follows a SettableClock, for tests where time passing (the wall
    clock moved by hand) should also be time elapsed since boot, as on a tablet nobody tampers with."""

    def __init__(self, clock: SettableClock, boot: str = "test-boot") -> None:
        self.clock, self.boot, self.start = clock, boot, clock.now

    def __call__(self):
        from sync.store.uptime import BootReading

        return BootReading(self.boot, (self.clock.now - self.start).total_seconds())
