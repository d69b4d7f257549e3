"""The doctor's answer reaching the tablet, end to end on the real development server process: the session so far
is on the server, the doctor signs conclusions there (a conditional update of a ClinicalImpression, as their
application does), the tablet's pull stores them beside its session, staff accept them, and the closed session's
bundle holds exactly the doctor's words, marked as the doctor's. A newer version replaces one not accepted yet and
waits beside one accepted; what cannot be read is skipped, another tablet's session ignored; conclusions typed by
staff are marked as transcribed."""
from __future__ import annotations

import html
import json

import pytest

from mobile.workflow import SessionWorkflow
from sync import outbox
from sync.fhir.exchange import CONCLUSIONS_ID_SYSTEM, ORIENTATIONS_FR, conclusions_value
from sync.pull import SearchClient, pull
from sync.pull.conclusions import pull_conclusions
from sync.store import Store
from tests.support.doctor_side import SIGNED, doctor_signs, encounter_of, send_session_so_far
from tests.support.servers import DevServer
from tests.support.workflow import DEMO, NOW, begin, refused

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with DevServer(tmp_path_factory.mktemp("server") / "server.db") as running:
        yield running.url


@pytest.fixture
def tablet(tmp_path, server):
    """A tablet in a call with a resident, the session so far on the server: (workflow, session key, Encounter)."""
    store = Store(tmp_path / "tablet.db")
    wf = SessionWorkflow(store, None, clock=lambda: NOW)
    begin(wf, DEMO)
    wf.enter_manual_temperature("38,2")
    wf.accept()
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="18", consciousness="A", on_oxygen=False)
    key = store.get_session(wf.state.session_id)["idempotency_key"]
    send_session_so_far(server, store, wf.state.session_id)
    yield wf, key, encounter_of(server, key)
    store.close()


def composition(bundle: dict) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Composition")


def section(bundle: dict, title: str) -> str:
    return next(s["text"]["div"] for s in composition(bundle)["section"] if s["title"] == title)


def test_the_doctors_conclusions_are_pulled_accepted_and_land_unchanged_in_the_report(server, tablet):
    wf, key, encounter = tablet
    wf.start_call(doctor_name="Dr Tapé Autrement")
    assert wf.received_conclusions()["waiting"] is None
    doctor_signs(server, key, encounter=encounter)
    counts = pull_conclusions(wf.store, SearchClient(server))
    assert counts == {"created": 1}
    assert pull_conclusions(wf.store, SearchClient(server)) == {}  # nothing new: nothing stored, nothing counted
    received = wf.received_conclusions()
    assert received["accepted"] is None and not received["newer"]
    assert (received["waiting"]["doctor_name"], received["waiting"]["conclusion"]) == (SIGNED.doctor_name,
                                                                                      SIGNED.conclusion)
    wf.accept_conclusions()
    assert wf.state.step == "summary" and wf.state.call_ended_at == NOW
    assert SIGNED.conclusion in wf.state.summary_draft
    notes = {n["kind"]: n for n in wf.store.notes(wf.state.session_id)}
    assert notes["remote_doctor_conclusion"]["text"] == SIGNED.conclusion
    assert notes["prescription"]["text"] == SIGNED.prescriptions
    assert notes["orientation"]["text"] == f"{ORIENTATIONS_FR['gp']} — sous 48 h"
    assert {(n["written_by"], n["author"], n["author_rpps"]) for n in notes.values()} == {
        ("doctor", SIGNED.doctor_name, SIGNED.doctor_rpps)}
    accepted = wf.store.accepted_conclusions(wf.state.session_id)
    assert accepted["accepted_by"] == wf.state.staff["id"] and wf.received_conclusions()["waiting"] is None
    session_id = wf.close(summary=wf.state.summary_draft)
    [entry] = [e for e in outbox.entries(wf.store) if e.session_id == session_id]
    bundle = json.loads(entry.payload)
    words = section(bundle, "Conclusion du médecin téléconsultant")
    assert words == ('<div xmlns="http://www.w3.org/1999/xhtml"><p>Conclusions rédigées par le Dr Claire Démo-Martin '
                     f'(RPPS 10101010101)</p><p>{html.escape(SIGNED.conclusion, quote=False)}</p></div>')
    assert html.escape(SIGNED.prescriptions, quote=False) in section(bundle, "Prescriptions")
    session = wf.store.get_session(session_id)
    assert (session["remote_doctor_name"], session["remote_doctor_rpps"]) == (SIGNED.doctor_name,
                                                                               SIGNED.doctor_rpps)


def test_a_newer_version_replaces_one_not_accepted_and_waits_beside_one_accepted(server, tablet):
    wf, key, encounter = tablet
    doctor_signs(server, key, encounter=encounter)
    assert pull_conclusions(wf.store, SearchClient(server)) == {"created": 1}
    doctor_signs(server, key, encounter=encounter, conclusion="Finalement : angine.",
                 written_at="2026-11-22T08:20:00+01:00")
    assert pull_conclusions(wf.store, SearchClient(server)) == {"updated": 1}
    waiting = wf.received_conclusions()["waiting"]
    assert (waiting["conclusion"], waiting["version"]) == ("Finalement : angine.", "2")
    wf.accept_conclusions()  # an advice answered: no call was started, none is ended
    assert wf.state.call_ended_at is None and wf.state.step == "summary"
    doctor_signs(server, key, encounter=encounter, conclusion="Angine : antibiotique.",
                 written_at="2026-11-22T08:30:00+01:00")
    assert pull_conclusions(wf.store, SearchClient(server)) == {"created": 1}
    received = wf.received_conclusions()
    assert received["accepted"]["conclusion"] == "Finalement : angine." and received["newer"]
    assert received["waiting"]["conclusion"] == "Angine : antibiotique."
    [note] = [n for n in wf.store.notes(wf.state.session_id) if n["kind"] == "remote_doctor_conclusion"]
    assert note["text"] == "Finalement : angine."  # what was accepted stays until staff accept the newer one
    wf.accept_conclusions()
    [note] = [n for n in wf.store.notes(wf.state.session_id) if n["kind"] == "remote_doctor_conclusion"]
    assert note["text"] == "Angine : antibiotique."
    with refused("call.no_conclusions"):
        wf.accept_conclusions()


def test_what_cannot_be_read_is_skipped_and_another_tablets_session_ignored(server, tablet):
    wf, key, encounter = tablet
    doctor_signs(server, "a-session-of-another-tablet", encounter=encounter)
    broken = {"resourceType": "ClinicalImpression", "status": "in-progress", "subject": encounter["subject"],
              "identifier": [{"system": CONCLUSIONS_ID_SYSTEM, "value": conclusions_value(key)}],
              "meta": {"tag": encounter["meta"]["tag"]}}  # not signed yet: not a doctor's conclusions
    doctor_signs(server, key, encounter=encounter, resource=broken)
    report = pull(wf.store, SearchClient(server))
    assert report.summary()["counts"]["conclusions"] == {"created": 0, "updated": 0, "unchanged": 0, "skipped": 1,
                                                         "foreign": 1}
    assert wf.received_conclusions()["waiting"] is None
    assert wf.store.query("SELECT count(*) AS n FROM received_conclusions")[0]["n"] == 0


def test_conclusions_typed_by_staff_are_marked_transcribed(server, tablet):
    wf, key, encounter = tablet
    wf.start_call(doctor_name="Dr Jules Distant", doctor_rpps="10000000009")
    wf.end_call(conclusion="Surveillance de la température.", orientation="stay", prescriptions="Hydratation.")
    notes = wf.store.notes(wf.state.session_id)
    assert {(n["written_by"], n["staff_id"], n["author"], n["author_rpps"]) for n in notes} == {
        ("staff", wf.state.staff["id"], "Dr Jules Distant", "10000000009")}
    session_id = wf.close(summary=wf.state.summary_draft)
    [entry] = [e for e in outbox.entries(wf.store) if e.session_id == session_id]
    words = section(json.loads(entry.payload), "Conclusion du médecin téléconsultant")
    assert "<p>Conclusions du Dr Jules Distant transcrites par Camille Soignante (aide-soignant(e))</p>" in words
    assert "<p>Surveillance de la température.</p>" in words
