"""Schema migrations from every earlier version, with data in it: every row kept, frozen outbox payloads byte for byte,
the database's own guards (triggers, foreign keys) still in force, WAL on, and a failure half-way through the table
rebuild leaves the old version intact."""
from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import pytest

import tests.support.schema as fx
from sync import fhir, frozen_payloads, outbox
from sync.store.sql import Rows
from sync.store import MIGRATIONS, SessionStateError, Store
from sync.store.migrations import migration_2
from sync.uploader import Uploader
from tests.support.schema import FILLERS, snapshot, store_at
from tests.support.servers import DevServer
from sync import closing

LATEST = len(MIGRATIONS)


def test_there_is_a_data_filler_for_every_released_version():
    """A new migration must come with a filler for the version it leaves behind (see tests/support/schema.py)."""
    assert set(FILLERS) == set(range(LATEST + 1))


@pytest.mark.parametrize("version", range(LATEST))
def test_upgrade_from_every_earlier_version_keeps_every_row(tmp_path, version):
    path = tmp_path / "relais.db"
    store_at(path, version)
    before = snapshot(path)
    with Store(path) as store:
        assert store.schema_version == LATEST
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    after = snapshot(path)
    for table, rows in before.items():
        assert len(after[table]) == len(rows), table
        for old, new in zip(rows, after[table]):
            if table == "outbox":  # stored compressed from v17 on: unpacked, the very bytes frozen at close
                new = {**new, "payload": frozen_payloads.unpack(new["payload"])}
                old = {**old, "payload": frozen_payloads.unpack(old["payload"])}
            assert {column: new[column] for column in old} == old, table  # every old column, same value
    # the outbox above includes its payloads: the frozen bytes are exactly what was frozen at close
    with Store(path) as store:  # reopening does not migrate again
        assert store.schema_version == LATEST


@pytest.mark.parametrize("version", range(1, LATEST))
def test_an_upgraded_store_keeps_refusing_changes_to_closed_sessions(tmp_path, version):
    path = tmp_path / "relais.db"
    store_at(path, version)
    with Store(path) as store:
        with pytest.raises(sqlite3.IntegrityError):  # outbox payloads stay frozen
            with store.transaction():
                store.conn.execute("UPDATE outbox SET payload = '{}' WHERE id = 'o-1'")
        with pytest.raises(sqlite3.IntegrityError):  # nothing is added to a closed session behind the API's back
            with store.transaction():
                store.conn.execute("INSERT INTO measurements (id, session_id, code, value, unit, source, received_at)"
                                   " VALUES ('x', ?, '8310-5', '1', 'Cel', 'manual', 'now')", [fx.SESSION_CLOSED])
        with pytest.raises(sqlite3.IntegrityError):  # nor is a closed session edited (v2 guard, also on v1 rows)
            with store.transaction():
                store.conn.execute("UPDATE sessions SET reason = 'edited' WHERE id = ?", [fx.SESSION_CLOSED])
        with pytest.raises(SessionStateError):
            store.add_measurement(fx.SESSION_CLOSED, code="8310-5", value="37.0", unit="Cel")
        with pytest.raises(sqlite3.IntegrityError):  # foreign keys enforced on the rebuilt sessions table
            with store.transaction():
                store.conn.execute("INSERT INTO sessions (id, idempotency_key, patient_id, opened_at) "
                                   "VALUES ('s', 'k', 'no-such-patient', 'now')")


def test_v1_data_after_the_upgrade_to_v2(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 1)
    with Store(path) as store:
        closed = store.get_session(fx.SESSION_CLOSED)
        assert (closed["state"], closed["closed_at"], closed["reason"], closed["staff"]) == \
            ("closed", "2024-05-01T08:20:00.000000+00:00", "Suivi fièvre", "IDE-01")
        assert all(closed[c] is None for c in ("site_id", "staff_id", "started_at", "ended_at", "remote_doctor_name",
                                                "remote_doctor_rpps", "companion_present", "interpreter_present",
                                                "callback_phone"))
        patient = store.get_patient(fx.PATIENT_QUAL)
        assert (patient["identity_status"], patient["ins"], patient["resident_id"], patient["identity_method"]) == \
            ("QUAL", fx.INS, "CH-12", None)
        (m,) = store.measurements(fx.SESSION_CLOSED)
        assert (m["value"], m["raw"], m["status"], m["panel_id"]) == \
            ("37.60", b"\x04\x10\x0e\x00\xfe\x01", ["site:armpit"], None)
        assert [store.session_sync_state(s) for s in (fx.SESSION_CLOSED, fx.SESSION_SENT, fx.SESSION_OPEN)] == \
            ["pending", "sent", "open"]
        entry = outbox.get_entry(store, "o-1")
        assert (entry.attempts, entry.last_error) == (2, "HTTP 503")
        assert entry.payload == fx._v1_payload(fx.PATIENT_QUAL, "key-closed", "37.60")

        # the session left open by the v1 app is finished with the v2 features
        staff_id = store.add_staff(display_name="Aline Aide", role="aide_soignant")
        site_id = store.add_site(kind="ehpad", name="EHPAD Les Tilleuls", finess="750712184")
        store.update_session(fx.SESSION_OPEN, site_id=site_id, staff_id=staff_id)
        store.add_measurement(fx.SESSION_OPEN, code="59408-5", value="96", unit="%",
                              measured_at="2024-05-01T12:02:00+02:00")
        store.record_consent(fx.SESSION_OPEN, decision="given", recorded_by=staff_id)
        store.set_summary(fx.SESSION_OPEN, text="RAS.")
        oid = closing.close_session(store, fx.SESSION_OPEN, require_complete=True)
        bundle = fhir.loads(outbox.get_entry(store, oid).payload)
        types = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert types.count("Observation") == 2 and {"Encounter", "Consent", "Composition", "Organization",
                                                     "Practitioner", "PractitionerRole", "Device"} <= set(types)
        # the thermometer reading taken under v1 keeps its value and gets its Device
        temperature = next(e["resource"] for e in bundle["entry"]
                           if e["resource"]["resourceType"] == "Observation"
                           and e["resource"]["code"]["coding"][0]["code"] == "8310-5")
        assert str(temperature["valueQuantity"]["value"]) == "38.20" and "reference" in temperature["device"]


def test_frozen_v1_payloads_still_upload_next_to_v2_ones(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 1)
    with Store(path) as store:
        closing.close_session(store, fx.SESSION_OPEN)  # closed under v2: a v2 bundle in the same queue as a v1 one
        with DevServer(tmp_path / "server.db") as server:
            result = Uploader(server.url).push(store)
        assert (result.sent, result.rejected, result.remaining) == (2, 0, 0)
        assert store.session_sync_state(fx.SESSION_CLOSED) == "sent"


def test_a_failure_inside_the_v2_rebuild_leaves_v1_intact(tmp_path):
    """The sessions table is dropped and rebuilt inside the migration's transaction: a failure after that point
    must bring back the v1 table, its triggers and every row."""
    path = tmp_path / "relais.db"
    store_at(path, 1)
    before = snapshot(path)
    schema_before = sqlite3.connect(path).execute(
        "SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()

    def v2_then_crash(db: Rows) -> None:
        migration_2(db)
        raise RuntimeError("power cut simulated after the rebuild")

    with pytest.raises(RuntimeError):
        Store(path, migrations=[MIGRATIONS[0], v2_then_crash])
    assert snapshot(path) == before
    assert sqlite3.connect(path).execute(
        "SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall() == schema_before
    with Store(path) as store:  # and the real upgrade still goes through afterwards
        assert store.schema_version == LATEST
        assert store.session_sync_state(fx.SESSION_CLOSED) == "pending"


def test_v2_rows_survive_reopening_and_keep_their_guards(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 2)
    with Store(path) as store:
        assert [c["decision"] for c in store.consents(fx.V2_SESSION_CLOSED)] == ["given"]
        assert store.get_summary(fx.V2_SESSION_CLOSED)["recipient_name"] == "Dr Traitant"
        with pytest.raises(sqlite3.IntegrityError):
            with store.transaction():
                store.conn.execute("DELETE FROM consents WHERE session_id = ?", [fx.V2_SESSION_CLOSED])
        with pytest.raises(sqlite3.IntegrityError):
            with store.transaction():
                store.conn.execute("UPDATE summaries SET text = 'autre' WHERE session_id = ?", [fx.V2_SESSION_CLOSED])
        with pytest.raises(sqlite3.IntegrityError):  # one code per blood pressure reading
            with store.transaction():
                store.conn.execute("INSERT INTO measurements (id, session_id, code, value, unit, source, received_at,"
                                   " panel_id) VALUES ('x', ?, '8480-6', '1', 'mm[Hg]', 'manual', 'now', 'bp-1')",
                                   [fx.V2_SESSION_OPEN])
                store.conn.execute("INSERT INTO measurements (id, session_id, code, value, unit, source, received_at,"
                                   " panel_id) VALUES ('y', ?, '8480-6', '2', 'mm[Hg]', 'manual', 'now', 'bp-1')",
                                   [fx.V2_SESSION_OPEN])


def test_v3_guards_addenda_only_after_close_and_never_edited(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 3)
    with Store(path) as store:
        with pytest.raises(sqlite3.IntegrityError):  # an addendum is for a closed session only
            with store.transaction():
                store.conn.execute("INSERT INTO addenda (id, session_id, staff_id, text, created_at) "
                                   "VALUES ('a-2', ?, ?, 'x', 'now')", [fx.V2_SESSION_OPEN, fx.V2_STAFF])
        with pytest.raises(sqlite3.IntegrityError):  # and never changed afterwards
            with store.transaction():
                store.conn.execute("UPDATE addenda SET text = 'changed' WHERE id = 'a-1'")
        with pytest.raises(sqlite3.IntegrityError):  # the rebuilt notes table keeps its close guard
            with store.transaction():
                store.conn.execute("UPDATE notes SET text = 'changed' WHERE id = 'n-1'")
        with pytest.raises(sqlite3.IntegrityError):  # and its kinds
            with store.transaction():
                store.conn.execute("INSERT INTO notes (id, session_id, kind, author, text, created_at) "
                                   "VALUES ('n-x', ?, 'gossip', 'a', 'b', 'now')", [fx.V2_SESSION_OPEN])


def test_v5_flags_the_open_sessions_rows_with_the_clinical_rules_and_leaves_closed_ones(tmp_path):
    """Measurements of a session still open get the flag the rules give them; a closed session's rows stay NULL
    (its bundle is frozen); the new column refuses an unknown flag."""
    path = tmp_path / "relais.db"
    store_at(path, 4)
    con = sqlite3.connect(path)
    with con:
        con.executemany(
            "INSERT INTO measurements (id, session_id, code, value, unit, source, status, received_at, panel_id)"
            " VALUES (?, ?, ?, ?, ?, 'manual', '[]', '2024-05-02T09:10:00+00:00', ?)",
            [("o-1", fx.V2_SESSION_OPEN, "8310-5", "38.4", "Cel", None),
             ("o-2", fx.V2_SESSION_OPEN, "59408-5", "88", "%", None),
             ("o-3", fx.V2_SESSION_OPEN, "8867-4", "72", "/min", None),
             ("o-4", fx.V2_SESSION_OPEN, "8480-6", "12.0", "kPa", "p"),
             ("o-5", fx.V2_SESSION_OPEN, "9279-1", "26", "/min", None),
             ("o-6", fx.V2_SESSION_OPEN, "67775-7", "C", "", None)])
    con.close()
    with Store(path) as store:
        flags = dict(store.conn.execute("SELECT id, interpretation FROM measurements").fetchall())
        assert {k: flags[k] for k in ("o-1", "o-2", "o-3", "o-4", "o-5", "o-6")} == \
            {"o-1": "H", "o-2": "LL", "o-3": None, "o-4": "LL", "o-5": "HH", "o-6": None}
        assert flags["m-3"] == "H"  # 38.20 °C in the v1 open session
        assert flags["m-v2-1"] is None and flags["m-1"] is None  # closed sessions: untouched
        with pytest.raises(sqlite3.IntegrityError):
            with store.transaction():
                store.conn.execute("UPDATE measurements SET interpretation = 'X' WHERE id = 'o-3'")


def test_the_store_keeps_a_known_flag_and_refuses_others(tmp_path):
    from sync.store import InputError

    with Store(tmp_path / "relais.db") as store:
        pid = store.add_patient(family_name="Lavandin", given_name="Odette", birth_date="1931-02-14", sex="F",
                                birth_place_insee="75056")
        sid = store.open_session(pid)
        mid = store.add_measurement(sid, code="8310-5", value="38.4", unit="Cel", interpretation="H")
        assert [m["interpretation"] for m in store.measurements(sid) if m["id"] == mid] == ["H"]
        with pytest.raises(InputError) as caught:
            store.add_measurement(sid, code="8310-5", value="38.4", unit="Cel", interpretation="high")
        assert caught.value.code == "measurement.interpretation.unknown"


def test_v8_gives_the_15_calls_of_open_sessions_their_own_kind_and_leaves_closed_ones(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 7)
    con = sqlite3.connect(path)
    with con:
        con.executemany(
            "INSERT INTO notes (id, session_id, kind, author, text, created_at) VALUES (?, ?, 'staff_note', "
            "'Camille Soignante', ?, '2024-05-02T09:11:00+00:00')",
            [("n-call", fx.V2_SESSION_OPEN, "Appel au 15 à 11:11 par Camille Soignante."),
             ("n-team", fx.V2_SESSION_OPEN, "Famille prévenue.")])
        closed_before = con.execute("SELECT id, kind FROM notes WHERE session_id = ? ORDER BY id",
                                    [fx.V2_SESSION_CLOSED]).fetchall()
    con.close()
    store = Store(path)
    try:
        kinds = {n["id"]: n["kind"] for n in store.notes(fx.V2_SESSION_OPEN)}
        assert (kinds["n-call"], kinds["n-team"]) == ("emergency_call", "staff_note")
        closed_after = [(n["id"], n["kind"]) for n in sorted(store.notes(fx.V2_SESSION_CLOSED),
                                                            key=lambda n: n["id"])]
        assert closed_after == [tuple(r) for r in closed_before]
        with pytest.raises(sqlite3.DatabaseError, match="frozen"):
            store.conn.execute("UPDATE notes SET text = 'x' WHERE session_id = ?", [fx.V2_SESSION_CLOSED])
    finally:
        store.close()


def test_v17_stores_the_frozen_payloads_compressed_and_gives_back_their_bytes(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 15)
    before = {row["id"]: row["payload"] for row in snapshot(path)["outbox"]}
    with Store(path) as store:
        stored = {r["id"]: r for r in store.query("SELECT id, typeof(payload) AS kind, length(payload) AS packed, "
                                                  "payload_size FROM outbox")}
        for entry_id, text in before.items():
            assert outbox.get_entry(store, entry_id).payload_bytes == text.encode("utf-8")
            assert stored[entry_id]["kind"] == "blob" and stored[entry_id]["payload_size"] == len(text.encode())
            assert stored[entry_id]["packed"] < len(text.encode())
        for change in ("payload = payload || x'00'", "payload = 'x'", "payload_size = payload_size + 1"):
            with pytest.raises(Exception, match="frozen"), store.transaction():
                store.conn.execute(f"UPDATE outbox SET {change} WHERE id = 'o-1'")
        assert outbox.get_entry(store, "o-1").payload_bytes == before["o-1"].encode("utf-8")


def test_a_frozen_payload_packs_against_its_dictionary_and_unpacks_to_its_bytes():
    text = (Path(__file__).with_name("golden") / "session_rich.json").read_text(encoding="utf-8")
    stored, size = frozen_payloads.pack(text)
    assert size == len(text.encode("utf-8")) and len(stored) < size // 8
    assert frozen_payloads.unpack(stored) == text
    assert frozen_payloads.unpack(zlib.compress(text.encode("utf-8"))) == text  # no dictionary
    assert frozen_payloads.unpack(text) == text  # a row stored as text
    with pytest.raises(ValueError):
        frozen_payloads.unpack(stored[:2] + b"\x00\x00\x00\x01" + stored[6:])  # a dictionary nobody has
    with pytest.raises(ValueError):
        frozen_payloads.unpack(stored[:-8])
