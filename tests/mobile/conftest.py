"""Shared by the app's tests: a clock set by hand at the workflow helpers' NOW, and a store in tmp_path that reads
it. A file that needs a set-up tablet overrides `store` on top of this one."""
from __future__ import annotations

import pytest

from sync.store import Store
from tests.support.clocks import SettableClock
from tests.support.workflow import NOW


@pytest.fixture
def clock():
    return SettableClock(NOW)


@pytest.fixture
def store(tmp_path, clock):
    with Store(tmp_path / "relais.db", clock=clock) as s:
        yield s
