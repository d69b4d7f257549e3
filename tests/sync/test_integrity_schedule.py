"""The store's full page check runs only when there is a reason to (sync.store.integrity): after an unclean
shutdown, when damage was found before, or on its schedule from the sync loop; a clean open reads the header, the
key and the schema only. Damage found on the schedule is the coded refusal `store.corrupt`, at once and at every
later open, the file left byte for byte as it was."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sqlite3
import subprocess
import sys

import pytest

import sync.store.database as database
from sync.background import SyncLoop
from sync.store import Store, StoreCorruptError
from sync.store.integrity import marker_path
from tests.support.clocks import SettableClock
from tests.support.http_stub import StubResponse, StubServer
from tests.support.samples import closed_session, fill_pages
from tests.support.servers import PROJECT_ROOT

NOW = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def full_checks(monkeypatch):
    """How many times the whole file was read by `PRAGMA quick_check`."""
    calls = []
    real = database.page_problems
    monkeypatch.setattr(database, "page_problems", lambda conn: calls.append(1) or real(conn))
    return calls


def test_a_clean_open_does_not_check_every_page_an_unclean_one_does(tmp_path, full_checks):
    path = tmp_path / "relais.db"
    Store(path).close()  # a new store: nothing known about it, checked once
    assert len(full_checks) == 1 and marker_path(path).read_bytes() == b"clean\n"
    with Store(path) as store:
        assert not store.full_check_at_open and marker_path(path).read_bytes() == b"open\n"
    assert len(full_checks) == 1
    marker_path(path).write_bytes(b"open\n")  # what a process killed with the store open leaves
    with Store(path) as store:
        assert store.full_check_at_open
    assert len(full_checks) == 2
    marker_path(path).unlink()  # a copied file, or one from a version without the marker
    Store(path).close()
    assert len(full_checks) == 3


def test_a_process_killed_with_the_store_open_makes_the_next_open_check(tmp_path, full_checks):
    path = tmp_path / "relais.db"
    Store(path).close()
    killed = subprocess.run([sys.executable, "-c", "import os, sys; from sync.store import Store; "
                             "Store(sys.argv[1]); os._exit(0)", str(path)], cwd=PROJECT_ROOT, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert killed.returncode == 0
    before = len(full_checks)
    with Store(path) as store:
        assert store.full_check_at_open
    assert len(full_checks) == before + 1


def test_only_the_last_process_to_close_marks_the_store_clean(tmp_path, full_checks):
    path = tmp_path / "relais.db"
    first = Store(path)
    second = Store(path)  # the app's sync loop, or `python -m sync push`, while the app has the store open
    assert not second.full_check_at_open  # not alone with the store: the marker is the first one's
    second.close()
    assert marker_path(path).read_bytes() == b"open\n"
    first.close()
    assert marker_path(path).read_bytes() == b"clean\n"


def test_the_scheduled_check_runs_once_a_week(tmp_path, full_checks):
    clock = SettableClock(NOW)
    with Store(tmp_path / "relais.db", clock=clock) as store:
        opened = len(full_checks)
        assert store.check_integrity_if_due() is True  # never recorded yet
        assert store.check_integrity_if_due() is False
        clock.now = NOW + dt.timedelta(days=6, hours=23)
        assert store.check_integrity_if_due() is False
        clock.now = NOW + dt.timedelta(days=7)
        assert store.check_integrity_if_due() is True
        assert len(full_checks) == opened + 2
        assert store.get_setting("integrity_checked_at") == store.stamp()


def _damage_an_outbox_page(path) -> bytes:
    """Overwrite one page of the outbox's payloads (found with SQLite's dbstat table), a page an open never reads:
    only the full check finds it."""
    with contextlib.closing(sqlite3.connect(path)) as con:
        pages = [n for (n,) in con.execute("SELECT pageno FROM dbstat WHERE name = 'outbox' ORDER BY pageno")]
    page = pages[len(pages) // 2]
    data = bytearray(path.read_bytes())
    start = (page - 1) * 4096
    data[start:start + 4096] = bytes((i * 131 + 7) % 251 for i in range(4096))
    path.write_bytes(bytes(data))
    return bytes(data)


def test_damage_found_on_the_schedule_is_refused_then_and_at_every_later_open(tmp_path):
    path = tmp_path / "relais.db"
    with Store(path) as store:
        fill_pages(store)
    damaged = _damage_an_outbox_page(path)
    store = Store(path, recover_in_flight=False)  # closed cleanly last time: the open does not read every page
    with pytest.raises(StoreCorruptError) as found:
        store.check_integrity_if_due()
    assert found.value.code == "store.corrupt"
    store.close()
    assert marker_path(path).read_bytes() == b"check\n"
    for _ in range(2):
        with pytest.raises(StoreCorruptError) as refused:
            Store(path)
        assert refused.value.code == "store.corrupt"
    assert path.read_bytes() == damaged and marker_path(path).read_bytes() == b"check\n"


async def test_the_sync_loop_checks_on_its_schedule_and_stops_on_damage(tmp_path, monkeypatch):
    path = tmp_path / "relais.db"
    with Store(path) as store:
        closed_session(store)

    def damaged(self, now=None):
        raise StoreCorruptError("store.corrupt", detail="page 7: btree damaged")

    monkeypatch.setattr(Store, "check_integrity_if_due", damaged)
    with StubServer(lambda request: StubResponse(500, {})) as stub:
        loop = SyncLoop(path, stub.url, interval_seconds=60)
        loop.start()
        await asyncio.wait_for(loop._task, timeout=20)  # the loop ends by itself, before any upload or purge
        assert (loop.integrity_error, loop.last_error, loop.passes, stub.requests) == (
            "store.corrupt", "store.corrupt", 0, [])
    with Store(path) as store:
        assert store.outbox_counts()["pending"] == 1  # nothing lost
