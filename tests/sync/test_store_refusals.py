"""A store file that is not a store (emptied to 0 bytes, a SQLite header with garbage after it, random bytes) is a
coded refusal, from the library, `python -m sync status|push|seed` and the app alike: one clear line, no traceback,
exit status 2, the file byte for byte as it was and nothing created beside it (no new store, no key, no
half-encrypted copy). A failed encryption in place leaves no stray file. The keys folder is owner-only at start."""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sync import keys
from sync.store import StoreCorruptError, StoreFullError, StoreKeyError, database, open_app_store
from sync.keys import KeyFileError
from tests.support.servers import PROJECT_ROOT

SQLITE_HEADER = b"SQLite format 3\x00"


def _damaged(kind: str) -> bytes:
    noise = bytes((i * 131 + 7) % 251 for i in range(8192))  # the same "random" bytes every run
    return {"empty": b"", "garbage": SQLITE_HEADER + noise[:5000], "random": noise}[kind]


def _tree(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for folder in folders if folder.exists() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def tablet(tmp_path, monkeypatch):
    home, key_folder = tmp_path / "home", tmp_path / "keys"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("RELAIS_HOME", str(home))
    monkeypatch.setenv("RELAIS_KEYS", str(key_folder))
    return home, key_folder


@pytest.mark.parametrize("kind", ["empty", "garbage", "random"])
def test_the_app_store_refuses_a_file_that_is_not_a_store_and_changes_nothing(tablet, kind):
    home, key_folder = tablet
    (home / "relais.db").write_bytes(_damaged(kind))
    before = _tree(home, key_folder)
    with pytest.raises((StoreCorruptError, KeyFileError)) as refused:
        open_app_store()
    expected = {"empty": "store.empty", "garbage": "store.corrupt", "random": "key.missing"}[kind]
    assert refused.value.code == expected
    assert _tree(home, key_folder) == before and not key_folder.exists()


def test_random_bytes_with_the_key_present_are_refused_too(tablet):
    home, key_folder = tablet
    open_app_store().close()  # a key and a store
    (home / "relais.db").write_bytes(_damaged("random"))
    for suffix in ("-wal", "-shm"):
        (home / f"relais.db{suffix}").unlink(missing_ok=True)
    before = _tree(home, key_folder)
    with pytest.raises(StoreKeyError) as refused:
        open_app_store()
    assert refused.value.code == "store.key.wrong" and _tree(home, key_folder) == before


@pytest.mark.parametrize("kind,command,line", [
    ("empty", ["status"], "is empty (0 bytes)"), ("empty", ["seed", "--sessions", "1"], "is empty (0 bytes)"),
    ("empty", ["push", "--server", "http://127.0.0.1:9/fhir"], "is empty (0 bytes)"),
    ("garbage", ["status"], "damaged"), ("garbage", ["seed", "--sessions", "1"], "damaged"),
    ("garbage", ["push", "--server", "http://127.0.0.1:9/fhir"], "damaged"),
    ("random", ["push", "--server", "http://127.0.0.1:9/fhir"], "encryption key not found"),
])
def test_the_command_line_says_so_in_one_line_and_changes_nothing(tablet, kind, command, line, sync_cli):
    home, key_folder = tablet
    (home / "relais.db").write_bytes(_damaged(kind))
    before = _tree(home, key_folder)
    done = sync_cli(*command, env=dict(os.environ))  # forked from an interpreter that imported the commands once
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("relais: ") and line in done.stderr
    assert _tree(home, key_folder) == before and not key_folder.exists()


def test_a_tool_given_an_emptied_file_refuses_it(tmp_path, sync_cli):
    path = tmp_path / "copy.db"
    path.write_bytes(b"")
    done = sync_cli("status", "--db", path)
    assert done.returncode == 2 and "is empty (0 bytes)" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.db"] and path.read_bytes() == b""


def test_the_app_says_so_and_stops(tablet):
    home, key_folder = tablet
    (home / "relais.db").write_bytes(b"")
    done = subprocess.run([sys.executable, "-m", "mobile", "--offline", "--language", "en"], cwd=PROJECT_ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Relais: The database file is empty" in done.stderr
    assert [p.name for p in home.iterdir()] == ["relais.db"] and (home / "relais.db").read_bytes() == b""


def _plain_store(path: Path) -> bytes:
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE t (x)")
        con.executemany("INSERT INTO t VALUES (?)", [(str(i) * 50,) for i in range(200)])
    con.close()
    return path.read_bytes()


@pytest.mark.parametrize("failure,refusal", [("disk I/O error", StoreCorruptError),
                                             ("database or disk is full", StoreFullError)])
def test_a_failed_encryption_in_place_leaves_the_plain_file_and_no_stray_copy(tablet, monkeypatch, failure,
                                                                                refusal):
    home, _ = tablet
    plain = _plain_store(home / "relais.db")

    def export_half_then_fail(path, target, key):
        target.write_bytes(b"half an encrypted copy")
        raise database._sqlcipher.OperationalError(failure)

    monkeypatch.setattr(database, "_export_encrypted", export_half_then_fail)
    with pytest.raises(refusal):
        open_app_store()
    assert sorted(p.name for p in home.iterdir()) == ["relais.db"] and (home / "relais.db").read_bytes() == plain


def test_the_keys_folder_is_made_owner_only_at_start(tablet):
    home, key_folder = tablet
    open_app_store().close()
    key_file = keys.default_key_path()
    os.chmod(key_folder, 0o755)
    os.chmod(key_file, 0o644)
    with open_app_store():
        pass
    assert stat.S_IMODE(key_folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
