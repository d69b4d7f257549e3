"""The conclusions received in the store (schema v14): an accepted version is kept as it was accepted (the schema
refuses a change), accepting stores the doctor's words exactly (nothing else is taken), only the version waiting can
be accepted, and the retention purge takes the rows with their session."""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from sync import closing, retention
from sync.store import SessionStateError, Store
from sync.store import conclusions as conclusion_rows
from tests.support.clocks import SettableClock

SIGNED = {"resource_id": "ci-1", "version": "1", "doctor_name": "Dr Claire Démo-Martin",
          "doctor_rpps": "10101010101", "conclusion": "Bronchite probable.", "orientation": None,
          "orientation_detail": "", "prescriptions": "Paracétamol 1 g.", "written_at": "2026-11-22T08:10:00+01:00"}
NOTES = {"remote_doctor_conclusion": "Bronchite probable.", "prescription": "Paracétamol 1 g."}


@pytest.fixture
def opened(tmp_path):
    clock = SettableClock(dt.datetime(2026, 11, 22, 7, 0, tzinfo=dt.timezone.utc))
    with Store(tmp_path / "relais.db", clock=clock) as store:
        staff = store.add_staff(display_name="Camille Soignante", role="aide_soignant")
        patient = store.add_patient(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F",
                                    birth_place_insee="75056")
        session = store.open_session(patient, staff_id=staff)
        with store.transaction():
            conclusion_rows.receive(store, store.get_session(session)["idempotency_key"], SIGNED, now=clock())
        yield store, session, staff, clock


def test_only_the_doctors_words_are_accepted_and_an_accepted_version_is_kept(opened):
    store, session, staff, _ = opened
    waiting = store.waiting_conclusions(session)
    with pytest.raises(ValueError):  # a word changed on the way: refused, nothing stored
        conclusion_rows.accept(store, session, waiting["id"], staff_id=staff,
                               notes={**NOTES, "remote_doctor_conclusion": "Bronchite."})
    with pytest.raises(SessionStateError):
        conclusion_rows.accept(store, session, "another-version", staff_id=staff, notes=NOTES)
    assert store.notes(session) == [] and store.accepted_conclusions(session) is None
    conclusion_rows.accept(store, session, waiting["id"], staff_id=staff, notes=NOTES)
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction():
            store.conn.execute("UPDATE received_conclusions SET conclusion = 'autre' WHERE id = ?", [waiting["id"]])
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction():
            store.conn.execute("DELETE FROM received_conclusions WHERE id = ?", [waiting["id"]])
    assert store.accepted_conclusions(session)["conclusion"] == "Bronchite probable."


def test_the_purge_takes_the_conclusions_with_their_session(opened):
    store, session, staff, clock = opened
    conclusion_rows.accept(store, session, store.waiting_conclusions(session)["id"], staff_id=staff, notes=NOTES)
    store.add_measurement(session, code="8310-5", value="37.0", unit="Cel", source="manual")
    closing.close_session(store, session)
    with store.transaction():
        store.conn.execute("UPDATE outbox SET state = 'sent', sent_at = ? WHERE session_id = ?",
                           [store.stamp(), session])
    clock.advance(30 * 24 * 3600)
    assert retention.purge(store).sessions == 1
    assert store.query("SELECT count(*) AS n FROM received_conclusions")[0]["n"] == 0


def test_a_doctors_name_the_session_cannot_hold_is_refused_at_reception(opened):
    store, session, _, clock = opened
    key = store.get_session(session)["idempotency_key"]
    with pytest.raises(ValueError):  # the pull counts it as skipped, nothing stored
        with store.transaction():
            conclusion_rows.receive(store, key, {**SIGNED, "doctor_name": "Dr " + "x" * 98, "version": "2",
                                                 "written_at": "2026-11-22T09:00:00+01:00"}, now=clock())
    assert store.waiting_conclusions(session)["version"] == "1"
