"""The store's database: one SQLite file (SQLCipher-encrypted with the install key), its connection and schema.

- Opening checks the file before anything is written: its header, the key (reading sqlite_master needs it) and,
  after an unclean shutdown only, its pages (`PRAGMA quick_check`; otherwise on a schedule, sync.store.integrity);
  a wrong key or a damaged file is an error, never a fresh empty database.
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
import errno
import datetime as dt
import json
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from sync.store.errors import (NotFoundError, SchemaError, StoreCorruptError, StoreError, StoreFullError,
                               StoreKeyError)
from sync.store.identity import list_key, name_prefixes, name_tokens
from sync.store.integrity import OpenMarker, check_due, page_problems, record_check
from sync.store.migrations import MIGRATIONS, Migration
from sync.months import AUDIT_RETENTION_MONTHS, months_before
from sync.store.sql import NOT_FOUND, Rows
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


def _check_pages(conn: Any, folder: Path | None = None, *, close: bool = True) -> None:
    try:
        problems = page_problems(conn)
    except DB_ERRORS as exc:
        if close:
            conn.close()
        raise store_error(exc, "store.corrupt", folder) from None
    if problems:
        if close:
            conn.close()
        raise StoreCorruptError("store.corrupt", detail="; ".join(problems[:3]))


# The page cache of a connection, KiB: SQLite's own default. The SQLCipher build sets 8,000 KiB, which the app's
# store filled by some 0.14 MiB a session (each session writes new pages: its bundle, its report's documents), so
# the app's memory rose for the first fifty-odd sessions of a day; the store's benchmark (bench/store.py) reads no
# slower at 100,000 sessions with this one.
PAGE_CACHE_KIB = 2000


def _connect(path: Path, key: bytes | None) -> Any:
    """A connection to `path`, decrypted with `key` when given, its header, key and schema checked before any
    write (its pages are checked by the caller when due: sync.store.integrity). In SQLite's own autocommit mode
    (no transaction opened behind the caller's back): a write outside `Database.transaction` commits at once."""
    header = file_header(path)
    plain_file = header == SQLITE_HEADER
    if key is None:
        if header and not plain_file:
            raise StoreKeyError("store.key.required")
        conn = sqlite3.connect(path, check_same_thread=False, timeout=15, isolation_level=None)
    else:
        if len(key) != KEY_BYTES:
            raise StoreKeyError("store.key.size", size=len(key), expected=KEY_BYTES)
        if _sqlcipher is None:
            raise StoreKeyError("store.key.sqlcipher_missing")
        if plain_file:
            raise StoreKeyError("store.key.not_encrypted")
        conn = _sqlcipher.connect(str(path), check_same_thread=False, timeout=15, isolation_level=None)
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")  # a raw key: no passphrase derivation needed
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except DB_ERRORS as exc:
        conn.close()
        if key is not None and "not a database" in str(exc):
            raise StoreKeyError("store.key.wrong") from None
        raise store_error(exc, "store.corrupt", path.parent) from None
    conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
    return conn


def name_tokens_json(family_name: str | None, usual_name: str | None, given_name: str | None) -> str:
    """`relais_name_tokens()` in SQL: sync.store.identity.name_tokens as a JSON array (for json_each)."""
    return json.dumps(name_tokens(family_name, usual_name, given_name), ensure_ascii=False)


def name_prefixes_json(family_name: str | None, usual_name: str | None, given_name: str | None) -> str:
    """`relais_name_prefixes()` in SQL: sync.store.identity.name_prefixes as a JSON array (for json_each)."""
    return json.dumps(name_prefixes(family_name, usual_name, given_name), ensure_ascii=False)


def check_plain_store(path: Path) -> None:
    """A plain SQLite file checked without writing anything (read-only, immutable: no journal or WAL file made):
    its header, its schema and its pages. StoreCorruptError when it is not an intact database."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except DB_ERRORS as exc:
        raise StoreCorruptError("store.corrupt", detail=str(exc)) from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except DB_ERRORS as exc:
        conn.close()
        raise StoreCorruptError("store.corrupt", detail=str(exc)) from None
    _check_pages(conn)
    conn.close()


def encrypt_plain_store(path: str | os.PathLike[str], key: bytes) -> None:
    """Encrypt a plain store in place (a tablet upgraded from a version without encryption): export into a new
    SQLCipher file next to it (`sqlcipher_export`, SQLCipher API), then an atomic rename; the plain file is gone
    afterwards (WAL included). A failure leaves the plain file as it was and no half-made copy."""
    if _sqlcipher is None:
        raise StoreKeyError("store.key.sqlcipher_missing")
    path = Path(path)
    target = path.with_name(path.name + ".encrypting")
    target.unlink(missing_ok=True)
    try:
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
        _export_encrypted(path, target, key)
        with open(target, "rb+") as f:
            os.fsync(f.fileno())
    except BaseException as exc:
        target.unlink(missing_ok=True)
        if isinstance(exc, DB_ERRORS) or disk_full(exc):
            raise store_error(exc, "store.corrupt", path.parent) from exc
        raise
    os.replace(target, path)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _export_encrypted(path: Path, target: Path, key: bytes) -> None:
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


SQLITE_FULL = 13  # "database or disk is full" (SQLite, "Result and Error Codes")
SQLITE_IOERR = 10  # "disk I/O error": what a full disk gives when the WAL index (-shm) cannot grow
NEARLY_FULL_BYTES = 256 * 1024


def disk_full(exc: BaseException, folder: Path | None = None) -> bool:
    """True for SQLite's SQLITE_FULL (its code, or its text where sqlcipher3 gives no code), for ENOSPC, and for
    an I/O error in a `folder` whose file system has (almost) no space left."""
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    if not isinstance(exc, DB_ERRORS):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # sqlcipher3's is not always the primary code: the text too
    if code == SQLITE_FULL or "database or disk is full" in str(exc):
        return True
    io_error = (code is not None and code & 0xFF == SQLITE_IOERR) or "disk I/O error" in str(exc)
    return io_error and folder is not None and _free_bytes(folder) < NEARLY_FULL_BYTES


def _free_bytes(folder: Path) -> int:
    try:
        info = os.statvfs(folder)
    except OSError:
        return NEARLY_FULL_BYTES
    return info.f_bavail * info.f_frsize


def store_error(exc: BaseException, fallback: str, folder: Path | None = None) -> StoreError:
    """The coded refusal for a database error: `store.disk_full` when the disk is full, else `fallback`."""
    if disk_full(exc, folder):
        return StoreFullError("store.disk_full")
    return StoreCorruptError(fallback, detail=str(exc))


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
        self._marker = OpenMarker(self.path)
        try:
            self.full_check_at_open = self._marker.enter()  # after an unclean shutdown (sync.store.integrity)
            if self.full_check_at_open:
                _check_pages(conn, self.path.parent, close=False)
        except BaseException:
            conn.close()
            self._marker.abandon()
            raise
        try:
            self.db = Rows(conn)
            conn.execute("PRAGMA busy_timeout = 15000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise SchemaError("store.schema.wal", mode=str(mode))
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            # "six months ago" on the store's clock, for the trigger that guards the audit anchor (schema v15)
            conn.create_function("audit_cutoff", 0, self._audit_cutoff)
            # a patient's search tokens, for the triggers that keep them (schema v16)
            conn.create_function("relais_name_tokens", 3, name_tokens_json, deterministic=True)
            # a patient's place in the list and the prefixes that find it, for the triggers of schema v19
            conn.create_function("relais_list_key", 4, list_key, deterministic=True)
            conn.create_function("relais_name_prefixes", 3, name_prefixes_json, deterministic=True)
            self._migrate()
            self._marker.opened()
        except BaseException as exc:
            conn.close()
            self._marker.abandon()
            if disk_full(exc, self.path.parent) and not isinstance(exc, StoreError):
                raise StoreFullError("store.disk_full") from exc
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
                self._marker.leave()

    def check_integrity_if_due(self, now: dt.datetime | None = None) -> bool:
        """The scheduled full check (sync.store.integrity), for a worker thread: runs `PRAGMA quick_check` when the
        last one is older than CHECK_EVERY_DAYS days, records it, and returns whether it ran. Damage raises
        StoreCorruptError (`store.corrupt`) and leaves the marker asking every later open to check (and refuse)."""
        if not check_due(self, now):
            return False
        with self._lock:
            try:
                _check_pages(self.conn, self.path.parent, close=False)
            except StoreCorruptError:
                self._marker.demand_check()
                raise
        record_check(self)
        return True

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def now(self) -> dt.datetime:
        return self.clock()

    def _audit_cutoff(self) -> str:
        limit = months_before(self.now(), AUDIT_RETENTION_MONTHS)
        return limit.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")

    def stamp(self, moment: dt.datetime | None = None) -> str:
        """`moment` (default: now) as the store writes time stamps (see `iso`)."""
        return iso(moment or self.now())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Rows]:
        """BEGIN IMMEDIATE … COMMIT under the store lock; rolled back on any exception. Not re-entrant by design:
        nested calls would silently join the outer transaction."""
        with self._lock:
            if self.conn.in_transaction:
                raise StoreError("store.transaction.nested")
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.conn.execute("COMMIT")
            except BaseException as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if disk_full(exc, self.path.parent):  # rolled back; what was committed before stays
                    raise StoreFullError("store.disk_full") from exc
                raise

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
            raise NotFoundError(NOT_FOUND[table], id=row_id)
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
                if disk_full(exc, self.path.parent):
                    raise StoreFullError("store.disk_full") from exc
                raise SchemaError("store.schema.migration_failed", version=version, detail=str(exc)) from exc
            finally:
                self.conn.execute("PRAGMA foreign_keys = ON")
            log.info("store schema migrated to v%d", version)
