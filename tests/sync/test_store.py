"""sync.store: the on-disk store, its schema versioning, identity validation, and the atomic close → outbox step."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
import threading
from decimal import Decimal

import pytest

from sync import fhir, outbox
from sync.paths import default_store_path
from sync.store.sql import Rows
from sync.store import (MIGRATIONS, IdentityError, NotFoundError, SchemaError, SessionStateError, Store)

import tests.support.schema as fixtures
from tests.support.schema import store_at
from tests.support.samples import SAMPLE_TRAITS, closed_session, valid_ins
from sync import closing


# -- the file -----------------------------------------------------------------------------------------------------

def test_new_store_is_wal_with_foreign_keys_and_current_schema(tmp_path):
    path = tmp_path / "sub" / "relais.db"
    with Store(path) as s:
        assert s.schema_version == len(MIGRATIONS) >= 1
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert {"patients", "sessions", "measurements", "outbox"} <= set(s.db.table_names())
        with pytest.raises(sqlite3.IntegrityError):  # foreign keys really enforced
            s.conn.execute("INSERT INTO sessions (id, idempotency_key, patient_id, opened_at) "
                           "VALUES ('s', 'k', 'no-such-patient', 'now')")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with Store(path) as again:  # reopening does not re-run migrations
        assert again.schema_version == len(MIGRATIONS)


def _v1_store_with_data(path):
    store_at(path, 1)  # v1 rows written in v1's own SQL (today's API targets the latest schema)
    return fixtures.SESSION_CLOSED, "o-1"


def test_v1_store_holding_data_upgrades_and_keeps_it(tmp_path):
    path = tmp_path / "relais.db"
    session_id, outbox_id = _v1_store_with_data(path)
    payload_before = sqlite3.connect(path).execute("SELECT payload FROM outbox WHERE id = 'o-1'").fetchone()[0]

    def v2_add_consent(db: Rows) -> None:
        db.execute("ALTER TABLE sessions ADD COLUMN consent TEXT")
        db.execute("UPDATE sessions SET consent = 'oral'")

    with Store(path, migrations=[*MIGRATIONS[:1], v2_add_consent]) as s:
        assert s.schema_version == 2
        assert s.get_session(session_id)["consent"] == "oral"
        assert s.session_sync_state(session_id) == "pending"
        assert outbox.get_entry(s, outbox_id).payload == payload_before
        assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_failing_migration_leaves_the_store_at_the_old_version(tmp_path):
    path = tmp_path / "relais.db"
    session_id, _ = _v1_store_with_data(path)

    def v2_broken(db: Rows) -> None:
        db.execute("ALTER TABLE sessions ADD COLUMN consent TEXT")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        Store(path, migrations=[*MIGRATIONS[:1], v2_broken])
    with Store(path, migrations=MIGRATIONS[:1]) as s:
        assert s.schema_version == 1
        assert "consent" not in s.get_session(session_id)


def test_store_from_a_newer_app_is_refused(tmp_path):
    path = tmp_path / "relais.db"
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    con.close()
    with pytest.raises(SchemaError):
        Store(path)


def test_default_store_path_uses_relais_home(tmp_path, monkeypatch):
    monkeypatch.setenv("RELAIS_HOME", str(tmp_path / "home" / "relais"))
    path = default_store_path()
    assert path == tmp_path / "home" / "relais" / "relais.db"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


# -- identity -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field,value,code", [
    ("family_name", "", "identity.family_name.required"), ("family_name", "   ", "identity.family_name.required"),
    ("given_name", "", "identity.given_name.required"), ("family_name", "Dupont3", "identity.family_name.characters"),
    ("family_name", "<b>Dupont</b>", "identity.family_name.characters"),
    ("family_name", "D" * 101, "identity.family_name.too_long"),
    ("birth_date", "1938-02-30", "identity.birth_date.calendar"),
    ("birth_date", "02/04/1938", "identity.birth_date.format"),
    ("birth_date", "2999-01-01", "identity.birth_date.future"),
    ("birth_date", "1800-01-01", "identity.birth_date.too_old"),
    ("birth_date", dt.datetime(1938, 2, 3, 10, 0), "identity.birth_date.time"),
    ("sex", "X", "identity.sex.invalid"), ("sex", "", "identity.sex.invalid"),
    ("birth_place_insee", "7505", "identity.birth_place_insee.format"),
    ("birth_place_insee", "750561", "identity.birth_place_insee.format"),
    ("birth_place_insee", "2C004", "identity.birth_place_insee.format"),
    ("birth_place_insee", "AB123", "identity.birth_place_insee.format"),
    ("identity_status", "OK", "identity.identity_status.invalid"),
])
def test_bad_identity_traits_are_refused_with_a_code_and_nothing_is_written(store, field, value, code):
    with pytest.raises(IdentityError) as info:
        store.add_patient(**{**SAMPLE_TRAITS, field: value})
    assert (info.value.code, info.value.field) == (code, field)
    assert isinstance(info.value, ValueError)
    assert store.find_patients() == []


def test_ins_only_with_a_qualified_identity_and_a_correct_key(store):
    ins = valid_ins()
    with pytest.raises(IdentityError) as info:
        store.add_patient(**SAMPLE_TRAITS, identity_status="VALI", ins=ins)
    assert (info.value.code, info.value.field) == ("identity.ins.not_qualified", "ins")
    wrong_key = ins[:13] + f"{(int(ins[13:]) + 1) % 97:02d}"
    with pytest.raises(IdentityError) as info:
        store.add_patient(**SAMPLE_TRAITS, identity_status="QUAL", ins=wrong_key)
    assert (info.value.code, info.value.field) == ("identity.ins.key", "ins")
    with pytest.raises(IdentityError) as info:
        store.add_patient(**SAMPLE_TRAITS, identity_status="QUAL", ins="12345")
    assert (info.value.code, info.value.field) == ("identity.ins.format", "ins")
    assert store.find_patients() == []
    pid = store.add_patient(**SAMPLE_TRAITS, identity_status="QUAL", ins=ins)
    assert store.get_patient(pid)["ins"] == ins
    with pytest.raises(IdentityError) as info:  # one INS, one patient
        store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Autre"}, identity_status="QUAL", ins=ins)
    assert (info.value.code, info.value.field) == ("identity.ins.taken", "ins")


def test_corsican_birth_place_and_ins_are_accepted(store):
    ins = valid_ins("1450220004123".replace("20004", "2A004"))
    assert ins[5:7] == "2A"
    pid = store.add_patient(**{**SAMPLE_TRAITS, "birth_place_insee": "2a004", "sex": "m"}, identity_status="QUAL",
                            ins=ins)
    patient = store.get_patient(pid)
    assert (patient["birth_place_insee"], patient["sex"], patient["identity_status"]) == ("2A004", "M", "QUAL")


def test_the_same_identity_twice_is_refused(store):
    store.add_patient(**SAMPLE_TRAITS)
    with pytest.raises(IdentityError) as info:
        store.add_patient(**{**SAMPLE_TRAITS, "family_name": "MARTIN", "given_name": "jeanne"})
    assert (info.value.code, info.value.field) == ("identity.duplicate", "family_name")
    store.add_patient(**{**SAMPLE_TRAITS, "given_name": "Paul", "sex": "M"})
    assert len(store.find_patients()) == 2


def test_find_patients_by_birth_date_or_name_prefix(store):
    a = store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Lefèvre", "given_name": "Hélène",
                             "birth_date": "1938-04-02"})
    b = store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Dupont-Martin", "given_name": "Œdipe",
                             "birth_date": "1942-11-20", "sex": "M"})
    c = store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Abel", "given_name": "Louise",
                             "birth_date": "1951-04-02"})
    ids = lambda q: [p["id"] for p in store.find_patients(q)]  # noqa: E731
    assert ids("") == [c, b, a]  # sorted by family name
    assert ids("lefe") == [a] and ids("LEFÈ") == [a] and ids("helene") == [a]
    assert ids("oedipe") == [b] and ids("martin") == [b]
    assert ids("1938-04") == [a] and ids("1938-04-02") == [a]
    assert ids("02/04") == [c, a] and ids("02/04/1938") == [a]
    assert ids("02/04/1938 lef") == [a] and ids("02/04 abel") == [c]
    assert ids("zzz") == [] and ids("ont") == []


# -- sessions and measurements ------------------------------------------------------------------------------------

def test_open_session_for_unknown_patient_fails(store):
    with pytest.raises(NotFoundError) as info:
        store.open_session("nobody")
    assert (info.value.code, info.value.params) == ("patient.not_found", {"id": "nobody"})


@pytest.mark.parametrize("value", [37.6, 37, "37,6", "3.76e1", "abc", "", None, Decimal("NaN")])
def test_measurement_value_must_be_a_decimal_string(store, value):
    pid = store.add_patient(**SAMPLE_TRAITS)
    sid = store.open_session(pid)
    with pytest.raises(ValueError):
        store.add_measurement(sid, code="8310-5", value=value, unit="Cel")
    assert store.measurements(sid) == []


def test_measurement_is_stored_exactly_as_read(store):
    pid = store.add_patient(**SAMPLE_TRAITS)
    sid = store.open_session(pid)
    store.add_measurement(sid, code="8310-5", value="37.60", unit="Cel", device={"address": "AA", "serial": "S1"},
                          raw=b"\x00\x01", status=("site:armpit",), measured_at="2024-05-01T10:15:00+02:00")
    store.add_measurement(sid, code="8310-5", value=Decimal("38.10"), unit="Cel", source="manual")
    first, second = store.measurements(sid)
    assert (first["value"], first["device_address"], first["device_serial"], first["raw"], first["status"]) == \
        ("37.60", "AA", "S1", b"\x00\x01", ["site:armpit"])
    assert first["measured_at"] == "2024-05-01T10:15:00+02:00"
    assert second["value"] == "38.10" and second["measured_at"] is None
    assert dt.datetime.fromisoformat(second["received_at"]).tzinfo is not None


@pytest.mark.parametrize("kwargs", [
    {"code": "0000-0"}, {"unit": "K"}, {"source": "telepathy"}, {"device": {"colour": "red"}},
    {"measured_at": "2024-05-01T10:15:00"}, {"status": "site:armpit"}, {"raw": "text"},
])
def test_measurement_input_errors(store, kwargs):
    sid = store.open_session(store.add_patient(**SAMPLE_TRAITS))
    with pytest.raises(ValueError):
        store.add_measurement(sid, **{"code": "8310-5", "value": "37.6", "unit": "Cel", **kwargs})


def test_closing_queues_a_frozen_bundle_exactly_once(store):
    _, sid, oid = closed_session(store)
    assert store.session_sync_state(sid) == "pending"
    assert store.get_session(sid)["closed_at"] is not None
    entry = outbox.get_entry(store, oid)
    assert entry.idempotency_key == store.get_session(sid)["idempotency_key"]
    assert b'"value":37.60' in entry.payload_bytes
    with pytest.raises(SessionStateError):
        closing.close_session(store, sid)
    with pytest.raises(SessionStateError):
        store.add_measurement(sid, code="8310-5", value="38.0", unit="Cel")
    assert store.outbox_counts() == {"pending": 1, "in_flight": 0, "sent": 0, "rejected": 0}
    with pytest.raises(sqlite3.IntegrityError):  # the database itself refuses to rewrite a frozen payload
        with store.transaction():
            store.conn.execute("UPDATE outbox SET payload = '{}'")
    with pytest.raises(sqlite3.IntegrityError):  # and to add to a closed session behind the API's back
        with store.transaction():
            store.conn.execute("INSERT INTO measurements (id, session_id, code, value, unit, source, received_at) "
                               "VALUES ('x', ?, '8310-5', '1', 'Cel', 'manual', 'now')", [sid])


def test_close_is_atomic_when_building_the_bundle_fails(store, monkeypatch):
    pid = store.add_patient(**SAMPLE_TRAITS)
    sid = store.open_session(pid)
    store.add_measurement(sid, code="8310-5", value="37.60", unit="Cel")

    def broken(*args, **kwargs):
        raise RuntimeError("bundle failed")

    monkeypatch.setattr(fhir, "session_bundle", broken)
    with pytest.raises(RuntimeError):
        closing.close_session(store, sid)
    assert store.session_sync_state(sid) == "open"
    assert store.get_session(sid)["closed_at"] is None
    assert store.outbox_counts()["pending"] == 0
    monkeypatch.undo()
    closing.close_session(store, sid)
    assert store.session_sync_state(sid) == "pending"


def test_an_empty_session_cannot_be_closed(store):
    sid = store.open_session(store.add_patient(**SAMPLE_TRAITS))
    with pytest.raises(SessionStateError):
        closing.close_session(store, sid)
    assert store.session_sync_state(sid) == "open"


def test_outbox_row_exists_iff_session_closed(store):
    for _ in range(3):
        closed_session(store, patient_id=None, family_name=f"Patient{'abc'[_]}")
    store.open_session(store.find_patients()[0]["id"])
    rows = list(store.db.query("SELECT s.state, o.id AS oid FROM sessions s LEFT JOIN outbox o ON o.session_id = s.id"))
    assert sorted((r["state"], r["oid"] is not None) for r in rows) == \
        [("closed", True)] * 3 + [("open", False)]


def test_store_is_usable_from_several_threads(store):
    pid = store.add_patient(**SAMPLE_TRAITS)
    sessions = [store.open_session(pid) for _ in range(4)]
    errors = []

    def work(sid):
        try:
            for i in range(10):
                store.add_measurement(sid, code="8310-5", value=f"37.{i}", unit="Cel")
            closing.close_session(store, sid)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.outbox_counts()["pending"] == 4
    for sid in sessions:
        bundle = json.loads(outbox.get_entry(
            store, next(store.db.query("SELECT id FROM outbox WHERE session_id = ?", [sid]))["id"]).payload)
        types = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert types == ["Patient", *["Observation"] * 10, "Encounter"]
