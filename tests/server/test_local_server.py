"""The local server the app starts (sync.server.process.app_server), as a real process: its copy of the patients is
encrypted at rest under a key of its own, its files are owner-only, it listens on loopback only, refuses a request
addressed to another name (DNS rebinding), and serves patient data only to its token."""
from __future__ import annotations

import os
import sqlite3
import stat

import pytest
import requests

from sync.seed import seed_sessions
from sync.server import process
from sync.server.resources import ResourceDB
from sync.store import Store
from sync.uploader import Uploader


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port` (/proc/net/tcp and tcp6, state 0A)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table, encoding="ascii").read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.fixture
def home(tmp_path):
    folder = tmp_path / "home"
    folder.mkdir(mode=0o700)
    return folder


def test_the_apps_local_server_keeps_its_copy_encrypted_and_owner_only(home, tmp_path):
    keys = tmp_path / "keys"
    server = process.app_server(home / "devserver.db", port=0, doctors=home / "doctors.json", keys=keys)
    with Store(home / "relais.db") as store, server:
        seed_sessions(store, 2, seed=11)
        token = process.local_token(keys)
        assert Uploader(server.url, token=token).push(store).sent == 2
        names = {row["family_name"] for row in store.db.query("SELECT family_name FROM patients")}
        patients = requests.get(f"{server.url}/Patient", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert patients.status_code == 200 and patients.json()["total"] == 2
    raw = b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith("devserver.db"))
    assert names and not any(name.encode() in raw for name in names)
    assert not (home / "devserver.db").read_bytes().startswith(b"SQLite format 3")
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(home / "devserver.db").execute("SELECT count(*) FROM resources").fetchone()
    key = (keys / process.LOCAL_KEY_NAME).read_bytes()
    assert ResourceDB(home / "devserver.db", key).counts()["Patient"] == 2
    for path in [*home.iterdir(), *keys.iterdir()]:
        assert mode(path) == 0o600, path
    assert mode(keys) == 0o700
    assert key.hex() != (keys / process.LOCAL_TOKEN_NAME).read_bytes().hex()  # the token is not the key


def test_a_plain_copy_left_by_an_earlier_version_is_encrypted_in_place(home, tmp_path):
    plain = home / "devserver.db"
    ResourceDB(plain)  # the plain file an earlier version made, world-readable
    os.chmod(plain, 0o644)
    with sqlite3.connect(plain) as conn:
        conn.execute("INSERT INTO resources (type, id, version, json, last_updated) "
                     "VALUES ('Patient', 'p1', 1, '{\"resourceType\":\"Patient\",\"id\":\"p1\"}', '2026')")
    with process.app_server(plain, port=0, doctors=home / "doctors.json", keys=tmp_path / "keys"):
        pass
    assert not plain.read_bytes().startswith(b"SQLite format 3") and mode(plain) == 0o600
    key = (tmp_path / "keys" / process.LOCAL_KEY_NAME).read_bytes()
    assert ResourceDB(plain, key).read("Patient", "p1")["id"] == "p1"
    assert not (home / "devserver.db.encrypting").exists()
    os.chmod(plain, 0o644)  # an encrypted copy someone opened up: brought back to owner-only at start
    with process.app_server(plain, port=0, doctors=home / "doctors.json", keys=tmp_path / "keys"):
        assert mode(plain) == 0o600


def test_it_listens_on_loopback_answers_its_token_and_its_own_name_only(home, tmp_path):
    keys = tmp_path / "keys"
    with process.app_server(home / "devserver.db", port=0, doctors=home / "doctors.json", keys=keys) as server:
        assert listening_addresses(server.port) == {"0100007F"}  # 127.0.0.1, nothing else
        token = {"Authorization": f"Bearer {process.local_token(keys)}"}
        assert requests.get(f"{server.url}/Patient", timeout=10).status_code == 401
        assert requests.get(f"{server.url}/Patient", headers={"Authorization": "Bearer guess"},
                            timeout=10).status_code == 401
        assert requests.get(f"{server.url}/Patient", headers=token, timeout=10).status_code == 200
        for name in ("localhost", f"localhost:{server.port}", f"127.0.0.1:{server.port}"):
            assert requests.get(f"{server.url}/Patient", headers={**token, "Host": name}, timeout=10).ok
        rebound = requests.get(f"{server.url}/Patient", timeout=10,
                               headers={**token, "Host": f"attacker.example:{server.port}"})
        assert rebound.status_code == 403 and rebound.json()["issue"][0]["code"] == "forbidden"
        page = requests.get(f"http://127.0.0.1:{server.port}/", headers={"Host": "attacker.example"}, timeout=10,
                            allow_redirects=False)
        assert page.status_code == 403
        # the doctors' application beside it checks the name too
        doctors = requests.get(f"http://127.0.0.1:{server.port}/", timeout=10, allow_redirects=False)
        assert doctors.status_code == 303
        location = doctors.headers["Location"]
        assert requests.get(location, timeout=30, allow_redirects=False).status_code in (200, 303)
        assert requests.get(location, headers={"Host": "attacker.example"}, timeout=30).status_code == 400
