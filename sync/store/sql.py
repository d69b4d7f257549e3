"""The few row operations the store needs over `sqlite3`: insert a row, update a row by its key, query as dicts,
run a migration script inside the caller's transaction.

The standard library's `sqlite3` does the work; this module only writes the statements. Column and table names
come from the store's own code, never from input, and are quoted all the same. Values must already be SQLite
values (text, integer, real, blob, NULL): a dict or a date passed by mistake is refused, not silently converted.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sync.store.errors import NotFoundError

_SQL_VALUES = (str, int, float, bytes, type(None))
# what an unknown id is called in a refusal, per table
NOT_FOUND = {"patients": "patient.not_found", "sessions": "session.not_found", "staff": "staff.not_found",
             "sites": "site.not_found"}
Params = Sequence[Any] | Mapping[str, Any]


def quoted(name: str) -> str:
    """An identifier as SQL text ("…", with embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def _checked(table: str, row: Mapping[str, Any]) -> Mapping[str, Any]:
    for column, value in row.items():
        if not isinstance(value, _SQL_VALUES):
            raise TypeError(f"{table}.{column}: {type(value).__name__} is not a SQLite value")
    return row


class Table:
    """One table of the store: `insert(row)` and `update(key, changes)`."""

    def __init__(self, rows: "Rows", name: str) -> None:
        self._rows = rows
        self.name = name

    def insert(self, row: Mapping[str, Any]) -> None:
        _checked(self.name, row)
        columns = ", ".join(quoted(c) for c in row)
        marks = ", ".join("?" * len(row))
        self._rows.conn.execute(f"INSERT INTO {quoted(self.name)} ({columns}) VALUES ({marks})", tuple(row.values()))

    def update(self, key: Any, changes: Mapping[str, Any]) -> None:
        """Change these columns of the row whose primary key is `key`; NotFoundError when there is none."""
        _checked(self.name, changes)
        pk = self._rows.primary_key(self.name)
        if changes:
            sets = ", ".join(f"{quoted(c)} = ?" for c in changes)
            cursor = self._rows.conn.execute(f"UPDATE {quoted(self.name)} SET {sets} WHERE {quoted(pk)} = ?",
                                             (*changes.values(), key))
            found = cursor.rowcount > 0
        else:
            found = self._rows.conn.execute(f"SELECT 1 FROM {quoted(self.name)} WHERE {quoted(pk)} = ?",
                                            (key,)).fetchone() is not None
        if not found:
            raise NotFoundError(NOT_FOUND.get(self.name, "store.row.not_found"), id=str(key))


class Rows:
    """The store's connection as its modules use it: `rows["table"].insert(…)`, `query`, `execute`,
    `executescript` (inside a transaction when one is open). Recursive triggers are on: the store's triggers
    (search tokens, frozen rows) must also fire for rows changed by other triggers."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._keys: dict[str, str] = {}
        conn.execute("PRAGMA recursive_triggers = ON")

    def __getitem__(self, table: str) -> Table:
        return Table(self, table)

    def primary_key(self, table: str) -> str:
        key = self._keys.get(table)
        if key is None:
            columns = [r[1] for r in self.conn.execute(f"PRAGMA table_info({quoted(table)})") if r[5] == 1]
            if not columns:
                raise NotFoundError("store.row.not_found", id=table)
            key = self._keys[table] = columns[0]
        return key

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Params = ()) -> Iterator[dict[str, Any]]:
        """Run `sql` now (a write takes effect even if the rows are never read) and return its rows as dicts
        (column name → value), read lazily."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return (dict(zip(names, row)) for row in cursor)

    def executescript(self, script: str) -> None:
        """Run several statements. Inside a transaction they are run one by one: `sqlite3`'s own executescript
        would commit first, and a migration must stay all or nothing."""
        if not self.conn.in_transaction:
            self.conn.executescript(script)
            return
        for statement in statements(script):
            self.conn.execute(statement)

    def table_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def statements(script: str) -> Iterator[str]:
    """The complete SQL statements of `script`, in order (a trigger's body, semicolons included, stays whole)."""
    start = 0
    for end, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start:end + 1]):
            statement = script[start:end + 1].strip()
            if statement != ";":
                yield statement
            start = end + 1
    rest = script[start:].strip()
    if rest:
        yield rest
