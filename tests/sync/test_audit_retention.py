"""The audit trail (who did what to which patient or session, hash-chained, six rolling months, CSV for an
administrator) and retention (a session leaves the tablet N days after the server confirmed it; never before)."""
from __future__ import annotations

import csv
import json
import datetime as dt
import io
import sqlite3
import stat

import pytest
import requests

from mobile.workflow import SessionWorkflow
from sync import audit, audit_extracts, outbox, retention
from sync.store import InputError, Store
from sync.uploader import Uploader
from tests.support.workflow import DEMO, NOW, ScriptedThermometer, reading_from
from tests.support.workflow import begin, close_session, set_up_tablet
from tests.support.clocks import SettableClock
from tests.support.samples import closed_session
from tests.support.servers import DevServer
from sync import closing

DAY = dt.timedelta(days=1)


@pytest.fixture
def clock():
    """Overrides the shared clock: these tests count retention from the workflow helpers' NOW."""
    return SettableClock(NOW)


def _all_text(store: Store, table: str) -> str:
    return "\n".join(str(v) for row in store.db.query(f"SELECT * FROM {table}") for v in row.values())


def _tamper(store: Store, sql: str, params=()) -> None:
    """What someone with the key and a SQLite shell could do: drop the guard, change the table, put it back."""
    with store.transaction():
        guards = store.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                    "AND tbl_name = 'audit_log'").fetchall()
        for name, _ in guards:
            store.conn.execute(f"DROP TRIGGER {name}")
        store.conn.execute(sql, params)
        for _, create in guards:
            store.conn.execute(create)


# -- the trail ------------------------------------------------------------------------------------------------------
async def test_a_guided_session_leaves_a_trail_of_who_did_what_and_no_patient_data(store):
    staff_id = set_up_tablet(store)
    wf = SessionWorkflow(store, ScriptedThermometer(reading_from("00B00E00FE")), clock=lambda: NOW)
    patient_id = begin(wf, DEMO)
    session_id = wf.state.session_id
    await wf.measure_temperature()
    close_session(wf)
    wf.sign_out()

    trail = [(r["staff_id"], r["action"], r["subject_kind"], r["subject_id"]) for r in audit.rows(store)]
    assert (staff_id, "sign_in", "staff", staff_id) in trail
    assert (staff_id, "create", "patient", patient_id) in trail
    assert (staff_id, "view", "patient", patient_id) in trail
    assert (staff_id, "create", "session", session_id) in trail
    assert (staff_id, "close", "session", session_id) in trail
    assert trail[-1] == (staff_id, "sign_out", "staff", staff_id)
    changes = [r["detail"] for r in audit.rows(store, subject_id=session_id) if r["action"] == "change"]
    assert "consent given by patient" in changes and any(d.startswith("measurement 8310-5") for d in changes)
    assert "summary" in changes
    # ids and field names only: nothing of the patient in the trail
    text = _all_text(store, "audit_log")
    for secret in (DEMO["family_name"], DEMO["given_name"], DEMO["birth_date"], "37.6", "Toux"):
        assert secret not in text
    assert audit.verify(store).ok


def test_a_wrong_pin_and_a_lock_out_are_traced(store):
    staff_id = set_up_tablet(store)
    for _ in range(5):
        assert not store.verify_pin(staff_id, "0000")
    refused = [r["detail"] for r in audit.rows(store) if r["action"] == "sign_in_refused"]
    assert refused[0] == "wrong pin 1" and refused[-1] == "wrong pin 5, locked"


def test_the_trail_is_append_only(store):
    staff_id = set_up_tablet(store)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with store.transaction():
            store.conn.execute("UPDATE audit_log SET detail = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="six months"):
        with store.transaction():
            store.conn.execute("DELETE FROM audit_log WHERE staff_id IS NULL OR staff_id = ?", [staff_id])
    with pytest.raises(sqlite3.IntegrityError, match="forward"):
        with store.transaction():
            store.conn.execute("UPDATE audit_anchor SET seq = -1")
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit.append(store, "view", "patient", "p")
    assert audit.verify(store).ok


def _trail_of(store: Store, n: int = 6) -> None:
    set_up_tablet(store)
    for i in range(n):
        with store.transaction():
            audit.append(store, "view", "patient", f"p-{i}")


def test_a_changed_row_breaks_the_chain(store):
    _trail_of(store)
    _tamper(store, "UPDATE audit_log SET staff_id = 'someone-else' WHERE seq = 5")
    check = audit.verify(store)
    assert not check.ok and check.first_bad_seq == 5 and "changed" in check.reason


def test_a_row_rehashed_by_hand_still_breaks_the_chain_at_the_next_row(store):
    _trail_of(store)
    row = next(r for r in audit.rows(store) if r["seq"] == 4)
    forged = audit.row_hash(row["prev_hash"], 4, row["at"], row["staff_id"], row["action"], row["subject_kind"],
                            "p-forged", row["detail"])
    _tamper(store, "UPDATE audit_log SET subject_id = 'p-forged', hash = ? WHERE seq = 4", [forged])
    check = audit.verify(store)
    assert not check.ok and check.first_bad_seq == 5 and "does not follow" in check.reason


def test_a_deleted_row_and_deleted_last_rows_are_found(store, tmp_path):
    _trail_of(store)
    last = max(r["seq"] for r in audit.rows(store))
    _tamper(store, "DELETE FROM audit_log WHERE seq = 3")
    check = audit.verify(store)
    assert not check.ok and check.first_bad_seq == 3 and "missing" in check.reason

    with Store(tmp_path / "other.db") as other:
        _trail_of(other)
        _tamper(other, "DELETE FROM audit_log WHERE seq >= ?", [last - 1])
        check = audit.verify(other)
        assert not check.ok and check.first_bad_seq == last - 1 and "removed" in check.reason


def test_six_rolling_months_are_kept_and_the_chain_still_verifies(store, clock):
    _trail_of(store, 3)
    old = len(audit.rows(store))
    clock.now = NOW + dt.timedelta(days=120)
    _trail_of(store, 2)
    clock.now = NOW + dt.timedelta(days=200)  # the first rows are now more than six months old
    assert audit.cutoff(clock.now) > NOW
    assert audit.prune(store) == old
    remaining = audit.rows(store)
    assert remaining and all(dt.datetime.fromisoformat(r["at"]) > NOW + dt.timedelta(days=100) for r in remaining)
    assert audit.verify(store).ok
    with store.transaction():
        audit.append(store, "view", "patient", "p-after")
    assert audit.verify(store).ok
    assert audit.prune(store) == 0


def test_six_months_are_calendar_months():
    assert audit.cutoff(dt.datetime(2026, 8, 31, 12, tzinfo=dt.timezone.utc)) == \
        dt.datetime(2026, 2, 28, 12, tzinfo=dt.timezone.utc)
    assert audit.cutoff(dt.datetime(2028, 8, 31, tzinfo=dt.timezone.utc)).day == 29
    assert audit.cutoff(dt.datetime(2026, 3, 15, tzinfo=dt.timezone.utc)) == \
        dt.datetime(2025, 9, 15, tzinfo=dt.timezone.utc)


def test_only_an_administrator_exports_the_trail_as_csv(store, tmp_path):
    aide = set_up_tablet(store)
    admin = store.add_staff(display_name="Alex Admin", role="administrateur", pin="975310")
    closed_session(store)
    with pytest.raises(InputError) as info:
        store.export_audit_csv(aide)
    assert (info.value.code, info.value.field) == ("audit.export.not_admin", "admin_id")
    target = tmp_path / "audit.csv"
    text = store.export_audit_csv(admin, target)
    assert target.read_bytes().decode("utf-8") == text and text.startswith("\ufeff")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert list(rows[0]) == list(audit.CSV_COLUMNS)
    assert len(rows) == len(audit.rows(store))
    assert rows[-1]["action"] == "export" and rows[-1]["staff_name"] == "Alex Admin"
    assert rows[-1]["staff_role"] == "administrateur"
    assert {r["subject_kind"] for r in rows} >= {"patient", "session", "staff", "site", "setting", "audit_log"}
    assert "Martin" not in text  # the sample patient's name


# -- retention ------------------------------------------------------------------------------------------------------
def _confirm(store: Store, outbox_id: str) -> None:
    outbox.mark_sent(store, outbox_id)


def _left_of(store: Store, session_id: str) -> dict[str, int]:
    counts = {t: store.conn.execute(f"SELECT count(*) FROM {t} WHERE session_id = ?", [session_id]).fetchone()[0]
              for t in retention.SESSION_TABLES}
    counts["sessions"] = store.conn.execute("SELECT count(*) FROM sessions WHERE id = ?", [session_id]).fetchone()[0]
    return counts


def test_a_confirmed_session_leaves_after_seven_days_keeping_its_audit_rows(store, clock):
    patient_id, session_id, outbox_id = closed_session(store)
    store.add_staff(display_name="Camille", role="infirmier")
    _confirm(store, outbox_id)
    clock.now = NOW + 7 * DAY - dt.timedelta(seconds=1)
    assert retention.purge(store).sessions == 0 and _left_of(store, session_id)["sessions"] == 1
    clock.now = NOW + 7 * DAY
    report = retention.purge(store)
    assert report.sessions == 1
    assert set(_left_of(store, session_id).values()) == {0}
    assert [r["action"] for r in audit.rows(store, subject_id=session_id)] == ["create", "change", "close", "purge"]
    assert audit.verify(store).ok
    # the identity stays for a while (the resident list), then goes too
    assert store.get_patient(patient_id)
    clock.now = NOW + 91 * DAY
    assert retention.purge(store).patients == 1
    assert not list(store.db.query("SELECT 1 FROM patients WHERE id = ?", [patient_id]))
    assert audit.rows(store, subject_id=patient_id)[-1]["action"] == "purge"


def test_never_before_the_server_confirmed_whatever_the_age(store, clock):
    _, pending, _ = closed_session(store)
    _, rejected, rejected_entry = closed_session(store, patient_id=store.add_patient(
        family_name="Durand", given_name="Paul", birth_date="1941-01-05", sex="M", birth_place_insee="75056"))
    outbox.mark_rejected(store, rejected_entry, "HTTP 422: refused")
    _, sent, sent_entry = closed_session(store, patient_id=store.add_patient(
        family_name="Petit", given_name="Anne", birth_date="1939-07-14", sex="F", birth_place_insee="75056"))
    open_session = store.open_session(store.add_patient(
        family_name="Roux", given_name="Léa", birth_date="1945-03-03", sex="F", birth_place_insee="75056"))
    _confirm(store, sent_entry)
    clock.now = NOW + 3650 * DAY
    assert retention.purge(store).sessions == 1
    for kept in (pending, rejected, open_session):
        assert _left_of(store, kept)["sessions"] == 1
    assert _left_of(store, sent)["sessions"] == 0
    # and no code path can: the database itself refuses
    for kept in (pending, rejected, open_session):
        with pytest.raises(sqlite3.IntegrityError, match="confirmed"):
            with store.transaction():
                store.conn.execute("INSERT INTO purge_queue (session_id) VALUES (?)", [kept])
        if kept != open_session:  # (it has no measurement yet)
            with pytest.raises(sqlite3.IntegrityError, match="purge"):
                with store.transaction():
                    store.conn.execute("DELETE FROM measurements WHERE session_id = ?", [kept])
        with pytest.raises(sqlite3.IntegrityError, match="purge"):
            with store.transaction():
                store.conn.execute("DELETE FROM sessions WHERE id = ?", [kept])


def test_the_delay_is_a_setting_and_abandoned_sessions_leave_after_it(store, clock):
    store.set_setting("retention_days", "2")
    patient_id = store.add_patient(family_name="Roux", given_name="Léa", birth_date="1945-03-03", sex="F",
                                   birth_place_insee="75056")
    abandoned = store.open_session(patient_id)
    store.abandon_session(abandoned)
    _, sent, entry = closed_session(store)
    clock.now = NOW + DAY
    _confirm(store, entry)
    clock.now = NOW + 2 * DAY
    assert retention.purge(store).sessions == 1  # the abandoned one (2 days); the other was confirmed a day later
    assert _left_of(store, abandoned)["sessions"] == 0 and _left_of(store, sent)["sessions"] == 1
    clock.now = NOW + 3 * DAY
    assert retention.purge(store).sessions == 1
    assert audit.verify(store).ok


def test_confirmed_by_a_real_server_then_purged_the_server_keeps_it(tmp_path, clock):
    with DevServer(tmp_path / "server.db") as server, Store(tmp_path / "relais.db", clock=clock) as store:
        _, session_id, _ = closed_session(store)
        assert Uploader(server.url).push(store).sent == 1
        clock.now = NOW + 8 * DAY
        assert retention.purge(store).sessions == 1
        assert _left_of(store, session_id)["sessions"] == 0
        bundle = requests.get(f"{server.url}/Observation", timeout=10).json()
        assert [e["resource"]["valueQuantity"]["value"] for e in bundle["entry"]] == [37.6]
        assert store.outbox_counts() == {"pending": 0, "in_flight": 0, "sent": 0, "rejected": 0}


# -- addenda: remarks after close reach the server too, after the session, and hold its purge -------------------------
def test_an_addendum_is_uploaded_after_its_session_and_appends_to_its_report(tmp_path, clock):
    with DevServer(tmp_path / "server.db") as server, Store(tmp_path / "relais.db", clock=clock) as store:
        staff_id = set_up_tablet(store)
        _, session_id, entry_id = closed_session(store)
        addendum_id = closing.add_addendum(store, session_id, staff_id=staff_id, text="Médecin traitant joint par téléphone.")
        entries = {e.addendum_id: e for e in outbox.entries(store)}
        assert set(entries) == {None, addendum_id} and entries[addendum_id].session_id == session_id
        assert store.session_sync_state(session_id) == "pending"
        # the addendum is not claimed before the session's own bundle is on the server
        assert [e.id for e in outbox.claim_batch(store, limit=10)] == [entry_id]
        outbox.unclaim(store, [entry_id])
        result = Uploader(server.url).push(store)
        assert (result.sent, result.remaining) == (2, 0)
        compositions = requests.get(f"{server.url}/Composition", timeout=10).json()["entry"]
        (addendum,) = [c["resource"] for c in compositions if c["resource"].get("relatesTo")]
        encounter = requests.get(f"{server.url}/Encounter", timeout=10).json()["entry"][0]["resource"]
        ident = addendum["encounter"]["identifier"]  # the session's Encounter, by its identifier
        assert (ident["system"], ident["value"]) in [(i["system"], i["value"]) for i in encounter["identifier"]]
        assert addendum["relatesTo"][0]["code"] == "appends"
        assert "Médecin traitant joint par téléphone." in addendum["section"][0]["text"]["div"]
        # resent (a lost reply): nothing new
        assert Uploader(server.url)._post(outbox.get_entry(store, entries[addendum_id].id).payload_bytes).status_code \
            == 200
        assert len(requests.get(f"{server.url}/Composition", timeout=10).json()["entry"]) == len(compositions)


def test_retention_waits_for_the_addenda_too(store, clock):
    staff_id = set_up_tablet(store)
    _, session_id, entry_id = closed_session(store)
    _confirm(store, entry_id)
    clock.now = NOW + 6 * DAY
    closing.add_addendum(store, session_id, staff_id=staff_id, text="Résultats du laboratoire transmis.")
    clock.now = NOW + 30 * DAY
    assert retention.purge(store).sessions == 0  # its addendum is not confirmed yet
    with pytest.raises(sqlite3.IntegrityError, match="confirmed"):
        with store.transaction():
            store.conn.execute("INSERT INTO purge_queue (session_id) VALUES (?)", [session_id])
    (pending,) = outbox.entries(store, "pending")
    _confirm(store, pending.id)
    clock.now = NOW + 36 * DAY
    assert retention.purge(store).sessions == 0  # seven days from the last confirmation
    clock.now = NOW + 37 * DAY
    assert retention.purge(store).sessions == 1 and set(_left_of(store, session_id).values()) == {0}


# -- the trail off the tablet ----------------------------------------------------------------------------------------
def _rewrite_whole_chain(store: Store, seq: int, subject_id: str) -> None:
    """What someone holding the key could do: change a row and recompute every hash after it, so the chain on the
    tablet verifies again."""
    rows_ = audit.rows(store)
    _tamper(store, "UPDATE audit_log SET subject_id = ? WHERE seq = ?", [subject_id, seq])
    prev = next(r for r in rows_ if r["seq"] == seq)["prev_hash"]
    for row in rows_:
        if row["seq"] < seq:
            continue
        subject = subject_id if row["seq"] == seq else row["subject_id"]
        digest = audit.row_hash(prev, row["seq"], row["at"], row["staff_id"], row["action"], row["subject_kind"],
                                subject, row["detail"])
        _tamper(store, "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", [prev, digest, row["seq"]])
        prev = digest


def test_the_trail_leaves_the_tablet_and_a_rewritten_chain_shows_against_the_copy(tmp_path, clock):
    with DevServer(tmp_path / "server.db") as server, Store(tmp_path / "relais.db", clock=clock) as store:
        staff_id = set_up_tablet(store)
        patient_id, _, _ = closed_session(store)
        assert audit_extracts.freeze_extract(store) == 1  # the first extract goes at once
        assert audit_extracts.freeze_extract(store) is None  # nothing new
        uploader = Uploader(server.url)
        result = uploader.push(store)
        assert (result.sent, result.audit_extracts) == (1, 1)
        store.verify_pin(staff_id, "0000")
        assert audit_extracts.freeze_extract(store) is None  # the next one waits ten minutes…
        clock.now = NOW + audit_extracts.EXTRACT_INTERVAL
        assert audit_extracts.freeze_extract(store) == 2  # …then carries on where the first ended
        assert uploader.push(store).audit_extracts == 1
        copy = uploader.fetch_audit_copy(audit_extracts.install_id(store))
        assert [(int(r["seq"]), r["hash"]) for r in copy] == [(r["seq"], r["hash"]) for r in audit.rows(store)]
        assert audit.compare(store, copy).ok
        # a lost reply: the same extract again creates nothing
        extract = store.conn.execute("SELECT payload FROM audit_outbox WHERE extract_no = 1").fetchone()[0]
        assert uploader._post(extract.encode()).status_code == 200
        assert requests.get(f"{server.url}/DocumentReference", timeout=10).json()["total"] == 2
        # the whole chain rewritten on the tablet: it verifies there, not against the server's copy
        _rewrite_whole_chain(store, 3, "someone-else")
        assert audit.verify(store).ok
        check = audit.compare(store, uploader.fetch_audit_copy(audit_extracts.install_id(store)))
        assert not check.ok and check.first_bad_seq == 3 and "differs" in check.reason
        shipped = json.dumps(uploader.fetch_audit_copy(audit_extracts.install_id(store)), ensure_ascii=False)
        assert patient_id in shipped and "Martin" not in shipped and "1938-04-02" not in shipped  # ids, not data


def test_sent_extracts_leave_with_retention_but_the_count_goes_on(store, clock):
    set_up_tablet(store)
    assert audit_extracts.freeze_extract(store) == 1
    audit_extracts.mark_extract(store, f"{audit_extracts.install_id(store)}/1", sent=True)
    clock.now = NOW + audit_extracts.EXTRACT_INTERVAL
    closed_session(store)
    assert audit_extracts.freeze_extract(store) == 2
    audit_extracts.mark_extract(store, f"{audit_extracts.install_id(store)}/2", sent=True)
    clock.now = NOW + 30 * DAY
    retention.purge(store)
    assert [r[0] for r in store.conn.execute("SELECT extract_no FROM audit_outbox")] == [2]
    store.add_staff(display_name="Lou", role="infirmier")
    assert audit_extracts.freeze_extract(store, force=True) == 3
    first = store.conn.execute("SELECT first_seq FROM audit_outbox WHERE extract_no = 3").fetchone()[0]
    last_of_2 = store.conn.execute("SELECT last_seq FROM audit_outbox WHERE extract_no = 2").fetchone()[0]
    assert first == last_of_2 + 1


def test_the_audit_check_command_compares_with_the_server(tmp_path, sync_cli):
    from sync.seed import seed_sessions
    from tests.support.servers import free_port

    path = tmp_path / "relais.db"
    with Store(path) as store:
        seed_sessions(store, 1, seed=2)
    with DevServer(tmp_path / "server.db") as server:
        def run(*argv):
            done = sync_cli(*argv, "--server", server.url, "--db", path)  # forked: the imports paid once
            return done.returncode, json.loads(done.stdout)

        code, pushed = run("push")
        assert code == 0 and pushed["audit_extracts"] == 1
        code, report = run("audit-check")
        assert code == 0 and report["local"] == report["server"] == "ok" and report["rows"] == report["server_rows"]
        with Store(path) as store:
            _rewrite_whole_chain(store, 2, "someone-else")
        code, report = run("audit-check")
        assert code == 1 and report["local"] == "ok" and report["server"] == "row 2 on the tablet differs from the " \
                                                                             "server's copy"
        unreachable = f"http://127.0.0.1:{free_port()}/fhir"
        done = sync_cli("audit-check", "--server", unreachable, "--db", path)
        assert done.returncode == 2 and json.loads(done.stdout)["server"] == "unreachable"
        assert "could not be reached" in done.stderr and "Traceback" not in done.stderr
