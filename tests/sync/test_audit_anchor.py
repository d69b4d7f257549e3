"""The audit trail cannot be shortened quietly: the anchor moves only past rows older than six months (a trigger
refuses anything else), and against the server's copy an anchor that moved past young rows is flagged."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3

import pytest

from sync import audit
from sync.seed import seed_sessions
from sync.store import Store
from tests.support.clocks import SettableClock
from tests.support.servers import DevServer

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)
GUARD = "audit_anchor_past_old_rows_only"


@pytest.fixture
def clock():
    return SettableClock(START)


def _trail(store: Store, n: int) -> None:
    for i in range(n):
        with store.transaction():
            audit.append(store, "view", "patient", f"p-{i}")


def _shorten(store: Store, keep: int = 3) -> None:
    """The attack: move the anchor onto the row before the last `keep`, then delete every row up to it."""
    last = audit.rows(store)[-keep - 1]
    with store.transaction():
        store.conn.execute("UPDATE audit_anchor SET seq = ?, hash = ? WHERE id = 1", [last["seq"], last["hash"]])
        store.conn.execute("DELETE FROM audit_log WHERE seq <= ?", [last["seq"]])


def _shorten_without_guard(store: Store, keep: int = 3) -> None:
    """The same by someone who also drops the anchor's guard and puts it back afterwards."""
    create = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", [GUARD]).fetchone()[0]
    with store.transaction():
        store.conn.execute(f"DROP TRIGGER {GUARD}")
    _shorten(store, keep)
    with store.transaction():
        store.conn.execute(create)


def _server_copy(store: Store) -> list[dict[str, str]]:
    """The rows as an extract carries them to the server (strings, as read back from its CSV)."""
    return list(csv.DictReader(io.StringIO(audit.to_csv(store, audit.rows(store)).lstrip("\ufeff"))))


def test_the_anchor_does_not_move_past_rows_younger_than_six_months(tmp_path, clock):
    with Store(tmp_path / "relais.db", clock=clock) as store:
        _trail(store, 10)
        before = audit.rows(store)
        with pytest.raises(sqlite3.IntegrityError, match="older than six months"):
            _shorten(store)
        assert audit.rows(store) == before and audit.verify(store).ok
        # onto a row that is not there, or with another hash: refused too, however old the rows are
        clock.now = START + dt.timedelta(days=200)
        for seq, digest in ((before[3]["seq"], "f" * 64), (before[-1]["seq"] + 5, before[-1]["hash"])):
            with pytest.raises(sqlite3.IntegrityError, match="older than six months"):
                with store.transaction():
                    store.conn.execute("UPDATE audit_anchor SET seq = ?, hash = ?", [seq, digest])
        # retention, once the rows are old enough, moves it
        assert audit.prune(store) == len(before) and audit.verify(store).ok
    shell = sqlite3.connect(tmp_path / "relais.db")  # a SQLite shell, without the app's clock: no move at all
    try:
        with pytest.raises(sqlite3.OperationalError, match="audit_cutoff"):
            shell.execute("UPDATE audit_anchor SET seq = seq + 1")
    finally:
        shell.close()


def test_six_months_less_a_day_is_not_enough(tmp_path, clock):
    with Store(tmp_path / "relais.db", clock=clock) as store:
        _trail(store, 4)
        clock.now = audit.cutoff(clock.now, -6) - dt.timedelta(days=1)  # six months later, less a day
        with pytest.raises(sqlite3.IntegrityError, match="older than six months"):
            _shorten(store, 1)
        clock.now += dt.timedelta(days=1, seconds=1)
        _shorten(store, 1)
        assert len(audit.rows(store)) == 1 and audit.verify(store).ok


def test_the_server_copy_flags_an_anchor_moved_past_young_rows(tmp_path, clock):
    with Store(tmp_path / "relais.db", clock=clock) as store:
        _trail(store, 10)
        copy = _server_copy(store)
        _shorten_without_guard(store)
        assert audit.verify(store).ok  # the chain left on the tablet is whole: only the server's copy tells
        check = audit.compare(store, copy)
        assert not check.ok and check.first_bad_seq == 1 and "before it was six months old" in check.reason


def test_the_server_copy_flags_an_anchor_that_is_not_its_row_or_past_its_end(tmp_path, clock):
    with Store(tmp_path / "relais.db", clock=clock) as store:
        _trail(store, 10)
        copy = _server_copy(store)
        clock.now = START + dt.timedelta(days=400)
        assert audit.compare(store, copy).ok
        _shorten_without_guard(store)  # old enough now: the anchor itself must still be the server's row
        assert audit.compare(store, copy).ok
        forged = [dict(row) for row in copy]
        anchor = store.conn.execute("SELECT seq FROM audit_anchor").fetchone()[0]
        with store.transaction():  # a chain re-rooted on a hash of one's own
            store.conn.execute(f"DROP TRIGGER {GUARD}")
            store.conn.execute("UPDATE audit_anchor SET hash = ?", ["e" * 64])
        check = audit.compare(store, forged)
        assert not check.ok and check.first_bad_seq == anchor and "anchor" in check.reason
        # rows that left the tablet before any extract carried them to the server
        check = audit.compare(store, copy[:2])
        assert not check.ok and check.first_bad_seq == 3 and "before the server had them" in check.reason


def test_retention_after_six_months_still_matches_the_server_copy(tmp_path, clock):
    with Store(tmp_path / "relais.db", clock=clock) as store:
        _trail(store, 5)
        clock.now = START + dt.timedelta(days=190)
        _trail(store, 3)
        copy = _server_copy(store)
        assert audit.prune(store) == 5
        assert audit.compare(store, copy).ok


def test_audit_check_against_the_server_flags_the_shortened_trail(tmp_path, sync_cli):
    path = tmp_path / "relais.db"
    with Store(path) as store:
        seed_sessions(store, 1, seed=2)
        _trail(store, 6)
    with DevServer(tmp_path / "server.db") as server:
        def run(*argv: str) -> tuple[int, dict]:
            done = sync_cli(*argv, "--server", server.url, "--db", path)  # forked: the imports paid once
            return done.returncode, json.loads(done.stdout)

        code, pushed = run("push")
        assert code == 0 and pushed["audit_extracts"] == 1
        with Store(path) as store:
            with pytest.raises(sqlite3.IntegrityError, match="older than six months"):
                _shorten(store)  # the attack as found: refused by the store
        code, report = run("audit-check")
        assert code == 0 and report["local"] == report["server"] == "ok"
        with Store(path) as store:
            _shorten_without_guard(store)
            assert len(audit.rows(store)) == 3
        code, report = run("audit-check")
        assert code == 1 and report["local"] == "ok"
        assert report["server"] == "row 1 left the tablet before it was six months old"


def test_a_tablet_clock_moved_forward_does_not_age_rows_on_the_server(tmp_path, clock):
    """Its own clock set seven months ahead, the tablet lets the trigger move its anchor; the rows' ages are judged
    on the server's clock (its Date header), where they are a few minutes old."""
    from sync import audit_extracts
    from sync.uploader import Uploader

    now = dt.datetime.now(dt.timezone.utc)
    clock.now = now
    with DevServer(tmp_path / "server.db") as server, Store(tmp_path / "relais.db", clock=clock) as store:
        _trail(store, 6)
        audit_extracts.freeze_extract(store, force=True)
        uploader = Uploader(server.url)
        assert uploader.push(store).audit_extracts == 1
        clock.now = now + dt.timedelta(days=214)
        _shorten(store)  # allowed by the trigger: on the tablet's clock the rows are seven months old
        copy = uploader.fetch_audit_copy(audit_extracts.install_id(store))
        assert uploader.server_date is not None and abs(uploader.server_date - now) < dt.timedelta(hours=1)
        assert audit.compare(store, copy).ok  # on the tablet's own (moved) clock nothing shows…
        check = audit.compare(store, copy, now=uploader.server_date)  # …on the server's it does
        assert not check.ok and check.first_bad_seq == 1 and "before it was six months old" in check.reason
