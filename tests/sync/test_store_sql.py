"""The store's row operations over sqlite3 (sync.store.sql): what they write, what they refuse, and migration
scripts that stay inside the caller's transaction."""
from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pytest

from sync.store import NotFoundError, Store
from sync.store.sql import Rows, statements

TRIGGER_SCRIPT = """
CREATE TABLE a (id TEXT PRIMARY KEY, n INTEGER);
CREATE TABLE log (what TEXT);
CREATE TRIGGER a_logged AFTER INSERT ON a BEGIN
    INSERT INTO log (what) VALUES ('one;' || NEW.id);
    INSERT INTO log (what) VALUES ('two');
END;
INSERT INTO a (id, n) VALUES ('x', 1)
"""


@pytest.fixture
def rows():
    conn = sqlite3.connect(":memory:")
    conn.execute('CREATE TABLE "odd ""name""" (code TEXT PRIMARY KEY, value TEXT, size INTEGER, data BLOB)')
    yield Rows(conn)
    conn.close()


def test_insert_and_update_by_the_tables_own_primary_key(rows):
    table = rows['odd "name"']
    table.insert({"code": "k1", "value": "a", "size": 1, "data": b"\x00\x01"})
    table.insert({"code": "k2", "value": None, "size": 2, "data": None})
    table.update("k1", {"value": "b", "size": 3})
    assert list(rows.query('SELECT * FROM "odd ""name""" ORDER BY code')) == [
        {"code": "k1", "value": "b", "size": 3, "data": b"\x00\x01"},
        {"code": "k2", "value": None, "size": 2, "data": None}]


def test_update_of_a_missing_row_is_refused_with_the_tables_code(tmp_path, rows):
    rows['odd "name"'].insert({"code": "k1", "value": "a"})
    with pytest.raises(NotFoundError) as refused:
        rows['odd "name"'].update("nope", {"value": "b"})
    assert (refused.value.code, refused.value.params) == ("store.row.not_found", {"id": "nope"})
    with pytest.raises(NotFoundError):
        rows['odd "name"'].update("nope", {})   # nothing to change, still an unknown row
    rows['odd "name"'].update("k1", {})
    with Store(tmp_path / "s.db") as store, pytest.raises(NotFoundError) as refused:
        store.db["sessions"].update("no-such-session", {"state": "closed"})
    assert refused.value.code == "session.not_found"


@pytest.mark.parametrize("value", [{"a": 1}, [1], Decimal("1.5"), dt.date(2026, 1, 1), object()])
def test_values_that_are_not_sqlite_values_are_refused_not_converted(rows, value):
    with pytest.raises(TypeError):
        rows['odd "name"'].insert({"code": "k", "value": value})
    rows['odd "name"'].insert({"code": "k", "value": "v"})
    with pytest.raises(TypeError):
        rows['odd "name"'].update("k", {"value": value})
    assert list(rows.query('SELECT value FROM "odd ""name"""')) == [{"value": "v"}]


def test_query_runs_at_once_even_if_its_rows_are_never_read(rows):
    rows.query('INSERT INTO "odd ""name""" (code) VALUES (?) RETURNING code', ["k"])
    assert rows.conn.execute('SELECT code FROM "odd ""name"""').fetchall() == [("k",)]


def test_statements_keep_a_triggers_body_whole():
    parts = list(statements(TRIGGER_SCRIPT))
    assert len(parts) == 4
    assert parts[2].startswith("CREATE TRIGGER") and parts[2].endswith("END;") and "'one;'" in parts[2]
    assert parts[3] == "INSERT INTO a (id, n) VALUES ('x', 1)"
    assert list(statements("  ;\n-- nothing\n")) == ["-- nothing"]


def test_a_script_inside_a_transaction_is_rolled_back_with_it():
    conn = sqlite3.connect(":memory:")
    rows = Rows(conn)
    conn.execute("BEGIN IMMEDIATE")
    rows.executescript(TRIGGER_SCRIPT)
    assert conn.in_transaction   # sqlite3's executescript would have committed here
    assert conn.execute("SELECT what FROM log ORDER BY rowid").fetchall() == [("one;x",), ("two",)]
    conn.execute("ROLLBACK")
    assert rows.table_names() == []
    rows.executescript(TRIGGER_SCRIPT)   # outside a transaction: sqlite3's own, committed
    assert sorted(rows.table_names()) == ["a", "log"]


def test_recursive_triggers_are_on():
    rows = Rows(sqlite3.connect(":memory:"))
    assert rows.conn.execute("PRAGMA recursive_triggers").fetchone() == (1,)


def test_a_write_outside_a_transaction_is_committed_at_once(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.db["settings"].insert({"key": "k", "value": "v", "updated_at": "2026-12-01T08:00:00.000+00:00"})
        assert not store.conn.in_transaction
        other = sqlite3.connect(tmp_path / "s.db")
        assert other.execute("SELECT value FROM settings WHERE key = 'k'").fetchall() == [("v",)]
        other.close()
        with store.transaction() as rows:   # and a transaction can still begin
            rows["settings"].update("k", {"value": "w"})
        assert store.get_setting("k") == "w"
