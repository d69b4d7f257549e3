"""The development server's file at rest: encrypted with SQLCipher when it is given a key, owner-only either way.

The app's local server keeps a copy of what the tablet uploads (patients' names, birth dates, INS), so it gets the
tablet store's protection: SQLCipher under a random 256-bit key (raw key, `PRAGMA key = "x'…'"`), the key in its
own owner-only file of the keys folder (sync.keys), apart from the data and from the store's key. A file left plain
by an earlier version is encrypted in place at start (`sqlcipher_export`, then an atomic rename; its WAL goes with
it). Files are created owner-only (umask 077, then 0600 on the database and its WAL and shared-memory files).
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sync.keys import KEY_BYTES

try:  # the sqlcipher3 package, as the tablet store uses it
    import sqlcipher3 as _sqlcipher
except ImportError:  # pragma: no cover - installed with the project
    _sqlcipher = None

PLAIN_HEADER = b"SQLite format 3\x00"
OWNER_ONLY_UMASK = 0o077


class AtRestError(RuntimeError):
    """The server's file cannot be opened as asked (no SQLCipher, a wrong key, a key of the wrong size)."""


def is_plain(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == PLAIN_HEADER
    except FileNotFoundError:
        return False


def connect(path: str, key: bytes | None) -> Any:
    """A connection (rows by name) to the server's file, decrypted with `key` when given. It may be used by one
    thread after another (the server reuses its connections from request to request), never by two at once."""
    if key is None:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn
    if _sqlcipher is None:
        raise AtRestError("SQLCipher (the sqlcipher3 package) is needed for an encrypted server file")
    conn = _sqlcipher.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    conn.row_factory = _sqlcipher.Row
    return conn


def prepare(path: Path, key: bytes | None) -> None:
    """Before the first connection: owner-only rights on what exists, and a plain file encrypted when a key is
    given. AtRestError for a key that does not open the file."""
    if key is not None and len(key) != KEY_BYTES:
        raise AtRestError(f"the server key must be {KEY_BYTES} bytes")
    if key is not None and is_plain(path):
        _encrypt_in_place(path, key)
    owner_only(path)
    if key is not None and path.exists():
        conn = connect(str(path), key)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except Exception:  # SQLCipher answers "file is not a database" for a wrong key
            raise AtRestError(f"the server key does not open {path}") from None
        finally:
            conn.close()


def owner_only(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists():
            os.chmod(name, 0o600)


def _encrypt_in_place(path: Path, key: bytes) -> None:
    if _sqlcipher is None:
        raise AtRestError("SQLCipher (the sqlcipher3 package) is needed for an encrypted server file")
    target = path.with_name(path.name + ".encrypting")
    target.unlink(missing_ok=True)
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = _sqlcipher.connect(str(path))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute(f"ATTACH DATABASE ? AS encrypted KEY \"x'{key.hex()}'\"", [str(target)])
        conn.execute("SELECT sqlcipher_export('encrypted')")
        conn.execute("DETACH DATABASE encrypted")
    except Exception:
        target.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(target, path)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
