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
