"""Shared by the sync tests: a clock set by hand and a tablet's store in tmp_path that reads it. A file that needs
another store (an encrypted one, a demo INS authority) names its own fixture, or overrides `clock` or `store`
where it says why."""
from __future__ import annotations

import datetime as dt

import pytest

from sync.store import Store
from tests.support.clocks import SettableClock


@pytest.fixture
def clock():
    return SettableClock(dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc))


@pytest.fixture
def store(tmp_path, clock):
    with Store(tmp_path / "relais.db", clock=clock) as s:
        yield s
