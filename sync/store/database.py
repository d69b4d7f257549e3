"""The store's database: one SQLite file (SQLCipher-encrypted with the install key), its connection and schema.

- Opening checks the file before anything is written: its header, the key (reading sqlite_master needs it) and
  its pages (`PRAGMA quick_check`); a wrong key or a damaged file is an error, never a fresh empty database.
- WAL journal, `synchronous = FULL` (a tablet losing power must not lose a closed session), foreign keys on,
  `secure_delete` (purged rows are overwritten, not left in free pages).
- Threads: the app calls the store from its asyncio thread and uploads run in a worker thread. One connection is
  shared (check_same_thread=False) under one re-entrant lock, so a thread never sees another thread's half-done
  transaction. Writes use BEGIN IMMEDIATE with a busy timeout, so another process on the same file (`python -m sync
  push`) waits instead of failing.
- The schema is versioned with `PRAGMA user_version` and upgraded by an ordered list of migrations
  (sync.store.migrations), each in its own transaction with the version bump inside it.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import sqlite_utils

from sync.store.errors import NotFoundError, SchemaError, StoreCorruptError, StoreError, StoreKeyError
from sync.store.migrations import MIGRATIONS, Migration
from sync.store.uptime import UptimeSource, boot_reading

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

try:  # SQLCipher (the sqlcipher3 package): the store's encryption at rest; plain sqlite3 without a key
    import sqlcipher3 as _sqlcipher
except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
    _sqlcipher = None

DB_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,) + ((_sqlcipher.Error,) if _sqlcipher else ())
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError,) + (
    (_sqlcipher.IntegrityError,) if _sqlcipher else ())
SQLITE_HEADER = b"SQLite format 3\x00"
KEY_BYTES = 32

# what an unknown id is called in a refusal, per table
_NOT_FOUND = {"patients": "patient.not_found", "sessions": "session.not_found", "staff": "staff.not_found",
              "sites": "site.not_found"}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    """Internal time stamps: UTC, microseconds, one fixed format so text comparison orders them."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def file_header(path: Path) -> bytes:
    """The first 16 bytes of `path` (empty for an empty or missing file): plain SQLite files start with
    SQLITE_HEADER, SQLCipher files with random-looking bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(16)
    except FileNotFoundError:
        return b""


def _check_pages(conn: Any) -> None:
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
    except DB_ERRORS as exc:
        conn.close()
        raise StoreCorruptError("store.corrupt", detail=str(exc)) from None
    if problems != ["ok"]:
        conn.close()
        raise StoreCorruptError("store.corrupt", detail="; ".join(map(str, problems[:3])))


def _connect(path: Path, key: bytes | None) -> Any:
    """A connection to `path`, decrypted with `key` when given, checked before any write."""
    header = file_header(path)
    plain_file = header == SQLITE_HEADER
    if key is None:
        if header and not plain_file:
            raise StoreKeyError("store.key.required")
        conn = sqlite3.connect(path, check_same_thread=False, timeout=15)
    else:
        if len(key) != KEY_BYTES:
            raise StoreKeyError("store.key.size", size=len(key), expected=KEY_BYTES)
        if _sqlcipher is None:
            raise StoreKeyError("store.key.sqlcipher_missing")
        if plain_file:
            raise StoreKeyError("store.key.not_encrypted")
        conn = _sqlcipher.connect(str(path), check_same_thread=False, timeout=15)
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")  # a raw key: no passphrase derivation needed
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except DB_ERRORS as exc:
        conn.close()
        if key is not None and "not a database" in str(exc):
            raise StoreKeyError("store.key.wrong") from None
        raise StoreCorruptError("store.corrupt", detail=str(exc)) from None
    _check_pages(conn)
    return conn


def encrypt_plain_store(path: str | os.PathLike[str], key: bytes) -> None:
    """Encrypt a plain store in place (a tablet upgraded from a version without encryption): export into a new
    SQLCipher file next to it (`sqlcipher_export`, SQLCipher API), then an atomic rename; the plain file is gone
    afterwards (WAL included)."""
    if _sqlcipher is None:
        raise StoreKeyError("store.key.sqlcipher_missing")
    path = Path(path)
    target = path.with_name(path.name + ".encrypting")
    target.unlink(missing_ok=True)
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = _sqlcipher.connect(str(path))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute(f"ATTACH DATABASE ? AS encrypted KEY \"x'{key.hex()}'\"", [str(target)])
        conn.execute("SELECT sqlcipher_export('encrypted')")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        conn.execute("DETACH DATABASE encrypted")
    finally:
        conn.close()
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(target, path)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


class Database:
    """One open store file: the connection, its lock, transactions, the clock and the schema version.

    `key` (32 bytes, see sync.keys): the file is a SQLCipher database encrypted with it; None: plain SQLite (tests
    and tools on copies). `migrations` replaces MIGRATIONS (tests and tools); `clock` returns an aware datetime."""

    def __init__(self, path: str | os.PathLike[str], *, migrations: Sequence[Migration] | None = None,
                 clock: Clock | None = None, key: bytes | None = None) -> None:
        self.path = Path(path)
        self.clock: Clock = clock or utc_now
        self._lock = threading.RLock()
        self._migrations = tuple(MIGRATIONS if migrations is None else migrations)
        # who is acting on this store now (the signed-in staff member), written in the audit log; None: the tablet
        # itself (background sync, retention purge)
        self.actor: str | None = None
        self.uptime: UptimeSource = boot_reading  # elapsed time a wall-clock change cannot shorten (PIN lock-outs)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))  # private from the first byte
        self.encrypted = key is not None
        conn = _connect(self.path, key)
        try:
            self.db = sqlite_utils.Database(conn)
            conn.execute("PRAGMA busy_timeout = 15000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise SchemaError("store.schema.wal", mode=str(mode))
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            # "six months ago" on the store's clock, for the trigger that guards the audit anchor (schema v15)
            conn.create_function("audit_cutoff", 0, self._audit_cutoff)
            self._migrate()
        except BaseException:
            conn.close()
            raise
        self._closed = False

    # -- plumbing -------------------------------------------------------------------------------------------------
    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if not getattr(self, "_closed", True):
                self._closed = True
                self.db.conn.close()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def now(self) -> dt.datetime:
        return self.clock()

    def _audit_cutoff(self) -> str:
        from sync.audit import cutoff

        return cutoff(self.now()).astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")

    def stamp(self, moment: dt.datetime | None = None) -> str:
        """`moment` (default: now) as the store writes time stamps (see `iso`)."""
        return iso(moment or self.now())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """BEGIN IMMEDIATE … COMMIT under the store lock; rolled back on any exception. Not re-entrant by design:
        nested calls would silently join the outer transaction."""
        with self._lock:
            if self.conn.in_transaction:
                raise StoreError("store.transaction.nested")
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def require_transaction(self) -> None:
        """For steps that only make sense inside their caller's transaction (a trace, a frozen bundle)."""
        if not self.conn.in_transaction:
            raise RuntimeError("this step must run inside the transaction it belongs to")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(sql, list(params)))

    def row(self, table: str, row_id: str) -> dict[str, Any]:
        """The row of `table` with that id; NotFoundError (`patient.not_found`, `session.not_found`…) if none."""
        rows = self.query(f"SELECT * FROM [{table}] WHERE id = ?", [row_id])
        if not rows:
            raise NotFoundError(_NOT_FOUND[table], id=row_id)
        return rows[0]

    # -- schema ---------------------------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Apply each missing migration in its own transaction, with the version bump inside it. Foreign keys are
        switched off around a migration (they cannot change inside a transaction) so table rebuilds work, and
        checked before commit: the procedure of the SQLite documentation, "Making Other Kinds Of Table Schema
        Changes" (ALTER TABLE, section 7)."""
        target = len(self._migrations)
        current = self.schema_version
        if current > target:
            raise SchemaError("store.schema.newer", version=current, supported=target)
        for version in range(current + 1, target + 1):
            self.conn.execute("PRAGMA foreign_keys = OFF")
            try:
                with self.transaction():
                    self._migrations[version - 1](self.db)
                    broken = self.conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise SchemaError("store.schema.foreign_keys", version=version, count=len(broken))
                    self.conn.execute(f"PRAGMA user_version = {version}")
            except DB_ERRORS as exc:
                raise SchemaError("store.schema.migration_failed", version=version, detail=str(exc)) from exc
            finally:
                self.conn.execute("PRAGMA foreign_keys = ON")
            log.info("store schema migrated to v%d", version)
