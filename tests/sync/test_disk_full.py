"""A full disk is one clear line and nothing lost: the write that did not fit is rolled back, what was saved
before stays, and the sessions waiting for the server stay pending until there is room again.

On a real small tmpfs where this machine lets the test mount one (root), else only the in-process case, where the
store's own page limit (`PRAGMA max_page_count`, SQLite's SQLITE_FULL as a full disk gives it) makes the disk full."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from sync.seed import seed_sessions
from sync.store import Store, StoreFullError, open_app_store
from tests.support.servers import DevServer


def test_a_write_that_does_not_fit_is_refused_with_a_code_and_nothing_saved_is_lost(tmp_path):
    with Store(tmp_path / "relais.db") as store:
        seed_sessions(store, 2, seed=1)
        before = store.outbox_counts()
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreFullError) as refused:
            seed_sessions(store, 5, seed=2)
        assert refused.value.code == "store.disk_full"
        store.conn.execute("PRAGMA max_page_count = 1073741823")
        assert store.outbox_counts() == before and before["pending"] == 2


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs, or a skip where mounting is not allowed (not root, no CAP_SYS_ADMIN)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:  # no space left on device: the disk is full
        pass
    finally:
        os.close(fd)
    return filler


def test_seed_and_push_on_a_full_disk_say_so_and_lose_nothing(small_disk, tmp_path, sync_cli):
    env = dict(os.environ, RELAIS_HOME=str(small_disk / "home"), RELAIS_KEYS=str(tmp_path / "keys"))

    def cli(*argv: str) -> subprocess.CompletedProcess:
        return sync_cli(*argv, env=env)  # `python -m sync`, forked from an interpreter that imported it once

    assert cli("seed", "--sessions", "3", "--seed", "4").returncode == 0
    filler = _fill(small_disk)
    with DevServer(tmp_path / "server.db") as server:
        for argv in (("seed", "--sessions", "2"), ("push", "--server", server.url)):
            done = cli(*argv)
            assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
            assert "relais: the disk is full" in done.stderr
        filler.unlink()
        status = cli("status")
        assert status.returncode == 0 and '"pending": 3' in status.stdout
        pushed = cli("push", "--server", server.url)
        assert '"sent": 3' in pushed.stdout
        encounters = requests.get(f"{server.url}/Encounter", timeout=10).json()["total"]
        assert encounters == 3  # each session once, whatever reached the server while the disk was full


def test_an_encryption_in_place_that_does_not_fit_leaves_the_plain_store_and_no_stray_file(small_disk, tmp_path,
                                                                                          monkeypatch):
    home = small_disk / "home"
    home.mkdir()
    monkeypatch.setenv("RELAIS_HOME", str(home))
    monkeypatch.setenv("RELAIS_KEYS", str(tmp_path / "keys"))
    with Store(home / "relais.db") as plain:  # a store from a version without encryption, 5 MiB of it
        with plain.transaction():
            plain.conn.execute("CREATE TABLE padding (x BLOB)")
        for _ in range(5):  # 1 MiB at a time, so the WAL never needs more room than the disk has
            with plain.transaction():
                plain.conn.executemany("INSERT INTO padding VALUES (?)", [(os.urandom(4096),) for _ in range(250)])
            plain.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = {p.name: p.read_bytes() for p in home.iterdir()}
    with pytest.raises(StoreFullError):
        open_app_store()
    assert {p.name: p.read_bytes() for p in home.iterdir()} == before  # no relais.db.encrypting left
