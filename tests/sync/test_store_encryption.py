"""The store at rest: SQLCipher with a random per-install key kept in its own owner-only file. The raw file holds no
name, no INS, no measurement; a wrong or missing key, or a damaged file, is a clear error that leaves the file as it
was (never a fresh empty database); a plain store from an earlier version is encrypted in place."""
from __future__ import annotations

import os
import stat

import pytest

from sync import keys
from sync.store import Store, StoreCorruptError, StoreKeyError, encrypt_plain_store, open_app_store
from sync.store.integrity import marker_path
from sync.uploader import Uploader
from tests.support.samples import closed_session, fill_pages, valid_ins
from tests.support.servers import DevServer

NAME, GIVEN = "Vermandois", "Aurélienne"


def fill(store):
    ins = valid_ins("2380475056123")
    sid = closed_session(store, value="38.45", family_name=NAME, given_name=GIVEN, identity_status="QUAL", ins=ins)
    return sid, ins


def raw_bytes(path):
    data = b""
    for p in (path, path.with_name(path.name + "-wal")):
        if p.exists():
            data += p.read_bytes()
    return data


def secrets_in(data, ins):
    found = []
    for needle in (NAME, GIVEN, ins, "38.45", "8310-5", "Patient", "Observation"):
        for encoding in ("utf-8", "utf-16-le"):
            if needle.encode(encoding) in data:
                found.append(needle)
    return found


def test_the_raw_file_holds_no_patient_data_and_a_plain_one_would(tmp_path):
    key = os.urandom(32)
    with Store(tmp_path / "enc.db", key=key) as enc, Store(tmp_path / "plain.db") as plain:
        _, ins = fill(enc)
        fill(plain)
        encrypted_raw, plain_raw = raw_bytes(tmp_path / "enc.db"), raw_bytes(tmp_path / "plain.db")
    assert secrets_in(plain_raw, ins)  # the search works: a plain store shows them
    assert secrets_in(encrypted_raw, ins) == []
    assert not encrypted_raw.startswith(b"SQLite format 3")
    with Store(tmp_path / "enc.db", key=key) as again:  # and the data is all there with the key
        (patient,) = again.find_patients(NAME)
        assert patient["ins"] == ins and again.outbox_counts()["pending"] == 1


def test_a_wrong_or_missing_key_is_a_clear_error_and_changes_nothing(tmp_path):
    key = os.urandom(32)
    path = tmp_path / "enc.db"
    with Store(path, key=key) as store:
        fill(store)
    before = path.read_bytes()
    with pytest.raises(StoreKeyError) as info:
        Store(path, key=os.urandom(32))
    assert info.value.code == "store.key.wrong"
    with pytest.raises(StoreKeyError) as info:
        Store(path)
    assert info.value.code == "store.key.required"
    with pytest.raises(StoreKeyError) as info:
        Store(path, key=b"short")
    assert (info.value.code, info.value.params) == ("store.key.size", {"size": 5, "expected": 32})
    assert path.read_bytes() == before
    with Store(path, key=key) as store:
        assert store.outbox_counts()["pending"] == 1


@pytest.mark.parametrize("where", ["header", "middle"])
def test_a_damaged_file_is_refused_never_replaced(tmp_path, where):
    path = tmp_path / "plain.db"
    with Store(path) as store:
        fill_pages(store)
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * 4096
    if where == "header":
        data[0:16] = b"\x00" * 16
    else:
        page = 4096
        start = (len(data) // page // 2) * page  # a whole page in the middle: b-tree garbage
        data[start:start + page] = os.urandom(page)
    path.write_bytes(bytes(data))
    # damage comes with a crash or a power cut: the last run did not close the store (sync.store.integrity)
    marker_path(path).write_bytes(b"open\n")
    with pytest.raises((StoreCorruptError, StoreKeyError)):
        Store(path)
    assert path.read_bytes() == bytes(data)  # nothing written, nothing recreated


def test_key_file_is_created_once_private_and_never_over_an_existing_database(tmp_path):
    key_path = tmp_path / "keys" / "store.key"
    key = keys.load_or_create_key(key_path, database_exists=False)
    assert len(key) == 32 and key_path.read_bytes() == key
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert keys.load_or_create_key(key_path, database_exists=True) == key  # the same key every time
    key_path.unlink()
    with pytest.raises(keys.KeyFileError) as info:  # the database exists: no new key
        keys.load_or_create_key(key_path, database_exists=True)
    assert (info.value.code, info.value.params) == ("key.missing", {"path": str(key_path)})
    key_path.write_bytes(b"x" * 32)
    os.chmod(key_path, 0o644)
    with pytest.raises(keys.KeyFileError) as info:
        keys.read_key(key_path)
    assert info.value.code == "key.permissions"
    os.chmod(key_path, 0o600)
    key_path.write_bytes(b"x" * 31)
    with pytest.raises(keys.KeyFileError) as info:
        keys.read_key(key_path)
    assert (info.value.code, info.value.params["size"], info.value.params["expected"]) == ("key.size", 31, 32)


def test_the_app_store_is_encrypted_with_the_install_key_kept_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("RELAIS_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("RELAIS_KEYS", str(tmp_path / "config" / "keys"))
    with open_app_store() as store:
        assert store.encrypted
        _, ins = fill(store)
    data_dir = tmp_path / "data"
    assert [p.name for p in data_dir.iterdir() if p.name.endswith(".key")] == []  # not next to the data
    assert (tmp_path / "config" / "keys" / "store.key").exists()
    assert secrets_in(raw_bytes(data_dir / "relais.db"), ins) == []
    with open_app_store() as store:
        assert store.outbox_counts()["pending"] == 1
    (tmp_path / "config" / "keys" / "store.key").unlink()  # key lost: an error, not a new empty store
    with pytest.raises(keys.KeyFileError):
        open_app_store()


def test_the_app_stores_page_cache_is_sqlites_2000_kib_not_the_sqlcipher_builds_8000(tmp_path, monkeypatch):
    """Each session writes new pages; with SQLCipher's larger cache the app's memory rose for most of a day."""
    monkeypatch.setenv("RELAIS_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("RELAIS_KEYS", str(tmp_path / "config" / "keys"))
    with open_app_store() as store:
        assert store.encrypted
        assert store.query("PRAGMA cache_size") == [{"cache_size": -2000}]


def test_a_plain_store_from_an_earlier_version_is_encrypted_in_place(tmp_path, monkeypatch):
    monkeypatch.setenv("RELAIS_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("RELAIS_KEYS", str(tmp_path / "keys"))
    (tmp_path / "data").mkdir()
    with Store(tmp_path / "data" / "relais.db") as plain:
        _, ins = fill(plain)
    assert secrets_in(raw_bytes(tmp_path / "data" / "relais.db"), ins)
    with open_app_store() as store:
        assert store.encrypted and store.outbox_counts()["pending"] == 1
        assert store.find_patients(NAME)[0]["ins"] == ins
    assert secrets_in(raw_bytes(tmp_path / "data" / "relais.db"), ins) == []


def test_encrypt_plain_store_keeps_the_schema_version(tmp_path):
    path = tmp_path / "p.db"
    with Store(path) as store:
        fill(store)
        version = store.schema_version
    key = os.urandom(32)
    encrypt_plain_store(path, key)
    with Store(path, key=key) as store:
        assert store.schema_version == version


def test_an_encrypted_store_uploads_like_a_plain_one(tmp_path):
    with DevServer(tmp_path / "server.db") as server, Store(tmp_path / "enc.db", key=os.urandom(32)) as store:
        fill(store)
        result = Uploader(server.url).push(store)
        assert (result.sent, result.remaining) == (1, 0)
