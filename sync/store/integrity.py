"""Integrity of the store file, checked in full only when there is a reason to, so opening takes the same time at
any size.

At every open (sync.store.database) the header, the key and the schema are read, as before: a wrong key or a file
that is not a database is refused at once. The full page check (`PRAGMA quick_check`, which reads every page:
SQLite documentation, "PRAGMA quick_check") runs:
- at open, after an unclean shutdown: the last process that had the store open did not close it (killed, power
  lost), or a scheduled check found damage, or nothing is known (a new store, a copied file, an older version);
- on a schedule, every CHECK_EVERY_DAYS days, from the sync loop's worker thread (`check_if_due`), never on the UI
  thread; the time of the last full check is the setting `integrity_checked_at`.

How an unclean shutdown is known: a marker file beside the store, `<store>.open`, says `open` while some process
has the store open, `clean` once the last one closed it, `check` when a check found damage. Why a file and not a
row or SQLite's own signals: a WAL file left behind also means "another process has it open" (the app and
`python -m sync push` share the store), and only a lock tells the two apart. Each open holds a shared `flock` on
the marker (flock(2), Linux man-pages; the kernel drops it when a process dies, however it dies); whoever gets it
exclusively is alone with the store, so the marker it reads was left by processes that are all gone. Writing the
marker touches nothing in the store: `sync status` stays a reader. Without `fcntl` (Windows) every open counts as
alone.

Damage found by either check gives the coded refusal `store.corrupt`; the marker then says `check`, so every later
open checks again and refuses, and nothing is written into a damaged file.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MARKER_SUFFIX = ".open"
OPEN, CLEAN, CHECK = b"open", b"clean", b"check"
CHECK_EVERY_DAYS = 7
CHECKED_AT = "integrity_checked_at"


def marker_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + MARKER_SUFFIX)


def page_problems(conn: Any) -> list[str]:
    """What `PRAGMA quick_check` finds wrong (empty when the file is intact). Raises the driver's error when the
    file cannot even be read that far."""
    problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
    return [] if problems == ["ok"] else problems


class OpenMarker:
    """The marker of one open store (module docstring): `enter()` before checking, `opened()` once the store is
    open, `leave()` at a clean close, `abandon()` when the open failed."""

    def __init__(self, store_path: Path) -> None:
        self.path = marker_path(store_path)
        self._fd: int | None = None
        self._created = False
        self.alone = False

    def enter(self) -> bool:
        """Take the lock; True when the store must be checked in full now (alone with it and not known clean)."""
        self._created = not self.path.exists()
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError:  # a folder this process cannot write in: no marker, so every open checks, as before
            self._created = False
            return True
        self.alone = self._try(fcntl.LOCK_EX) if fcntl is not None else True
        return self.alone and self._read() != CLEAN

    def opened(self) -> None:
        """The store is open and intact: say so in the marker (durably: it must be there before any write), then
        share the lock with the other processes that open it."""
        if self._fd is None:
            return
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)  # from exclusive, or waiting for an opener still checking
        if self._read() != OPEN:
            try:
                self._write(OPEN, durable=True)
            except OSError:  # a full disk: the marker is left empty, which every later open reads as unclean
                pass

    def leave(self) -> None:
        """A clean close: the last process to close marks the store clean (a store found damaged stays `check`)."""
        if self._fd is None:
            return
        try:
            if (fcntl is None or self._try(fcntl.LOCK_EX)) and self._read() == OPEN:
                self._write(CLEAN, durable=False)  # lost by a power cut: the next open only checks once more
        finally:
            self._close()

    def demand_check(self) -> None:
        """Damage was found: every later open checks in full (and refuses while it is there)."""
        if self._fd is not None:
            self._write(CHECK, durable=True)

    def abandon(self) -> None:
        """The open failed: the marker as it was (none if there was none)."""
        self._close()
        if self._created:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def _try(self, mode: int) -> bool:
        try:
            fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _read(self) -> bytes:
        return os.pread(self._fd, 16, 0).strip()

    def _write(self, state: bytes, *, durable: bool) -> None:
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, state + b"\n", 0)
        if durable:
            os.fsync(self._fd)

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the lock
            self._fd = None


def record_check(db: Any) -> None:
    """Remember that the whole file was just found intact (the setting CHECKED_AT, not traced: housekeeping)."""
    with db.transaction():
        db.conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE "
                        "SET value = excluded.value, updated_at = excluded.updated_at",
                        [CHECKED_AT, db.stamp(), db.stamp()])


def check_due(db: Any, now: dt.datetime | None = None, days: int = CHECK_EVERY_DAYS) -> bool:
    rows = db.query("SELECT value FROM settings WHERE key = ?", [CHECKED_AT])
    if not rows:
        return True
    return dt.datetime.fromisoformat(rows[0]["value"]) <= (now or db.now()) - dt.timedelta(days=days)
