"""The live outbox in the store (sync.store.live, sync.live) with a real SQLite file: who may send a request, one
request per session, at most one live send waiting, the close and the abandon superseding it, the retention purge
removing it; and the uploader sending live sends first, with a server's refusal or a transient failure settled."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from sync import closing, live, outbox, retention
from sync.store import SessionStateError
from sync.store.errors import InputError
from sync.uploader import Uploader
from tests.support.http_stub import StubResponse, StubServer
from tests.support.live import add_reading, open_session_with_staff
from tests.support.samples import SAMPLE_TRAITS, closed_session
from tests.sync.test_uploader import transaction_response


def live_rows(store):
    return store.query("SELECT * FROM live_outbox ORDER BY rowid")


def test_a_request_needs_an_open_session_with_staff(store):
    session_id = open_session_with_staff(store)
    with pytest.raises(InputError) as unknown:
        store.send_request(session_id, kind="visio")
    assert unknown.value.code == "live.request.kind_unknown"
    anonymous = store.open_session(store.add_patient(**{**SAMPLE_TRAITS, "given_name": "Anne"}))
    with pytest.raises(SessionStateError) as no_staff:
        store.send_request(anonymous, kind="teleconsultation")
    assert no_staff.value.code == "live.request.no_staff"
    closing.close_session(store, session_id)
    with pytest.raises(SessionStateError) as closed:
        store.send_request(session_id, kind="teleconsultation")
    assert closed.value.code == "session.closed"
    assert live_rows(store) == []


def test_a_second_request_queues_an_update_not_a_second_request(store, clock):
    session_id = open_session_with_staff(store)
    assert store.queue_live_update(session_id) is None  # no request: nothing goes live
    first = store.send_request(session_id, kind="teleexpertise")
    asked = store.get_session(session_id)["requested_at"]
    clock.advance(60)
    second = store.send_request(session_id, kind="teleconsultation")
    session = store.get_session(session_id)
    assert (session["request_kind"], session["requested_at"]) == ("teleexpertise", asked)
    assert [(r["id"], r["state"]) for r in live_rows(store)] == [(first, "superseded"), (second, "pending")]
    tasks = [e["resource"] for e in json.loads(live.freeze(store, second).payload)["entry"]
             if e["resource"]["resourceType"] == "Task"]
    assert len(tasks) == 1 and tasks[0]["code"]["coding"][0]["code"] == "teleexpertise"
    state = store.live_state(session_id)
    assert (state["request_kind"], state["requested_at"], state["pending"], state["last_sent_at"]) == (
        "teleexpertise", asked, 1, None)


def test_the_session_so_far_is_all_conditional_creates_with_the_final_bundles_urls(store):
    session_id = open_session_with_staff(store)
    store.send_request(session_id, kind="teleconsultation")
    add_reading(store, session_id, 1)
    sent = json.loads(live.freeze(store, store.queue_live_update(session_id)).payload)["entry"]
    assert all(e["request"]["method"] == "POST" and e["request"]["ifNoneExist"] for e in sent)
    by_type = {e["resource"]["resourceType"]: e for e in sent}
    assert by_type["Encounter"]["resource"]["status"] == "in-progress"
    assert "end" not in by_type["Encounter"]["resource"]["period"]
    assert by_type["Task"]["resource"]["status"] == "requested"
    assert "Composition" not in by_type
    closing.close_session(store, session_id)
    final = json.loads(outbox.entries(store)[0].payload)["entry"]
    final_urls = {e["fullUrl"]: e for e in final}
    assert {e["fullUrl"] for e in sent} <= set(final_urls)  # nothing the live sends created is created again
    for rtype in ("Encounter", "Task"):
        (entry,) = [e for e in final if e["resource"]["resourceType"] == rtype]
        assert entry["request"]["method"] == "PUT" and entry["request"]["url"].startswith(f"{rtype}?identifier=")
    assert [e["resource"]["status"] for e in final if e["resource"]["resourceType"] == "Task"] == ["cancelled"]


def test_close_and_abandon_supersede_the_waiting_send(store):
    closed = open_session_with_staff(store)
    store.send_request(closed, kind="teleconsultation")
    closing.close_session(store, closed)
    abandoned = store.open_session(store.get_session(closed)["patient_id"], staff_id=store.get_session(closed)[
        "staff_id"])
    add_reading(store, abandoned, 0)
    store.send_request(abandoned, kind="teleexpertise")
    store.abandon_session(abandoned)
    assert [r["state"] for r in live_rows(store)] == ["superseded", "superseded"]
    assert store.live_counts()["pending"] == 0


def test_the_sync_indicator_counts_a_live_send_still_to_go_as_waiting(store):
    session_id = open_session_with_staff(store)
    assert store.sync_counts()["pending"] == 0
    store.send_request(session_id, kind="teleconsultation")
    assert (store.sync_counts()["pending"], store.outbox_counts()["pending"]) == (1, 0)
    closing.close_session(store, session_id)  # the live send superseded, the session's bundle waits instead
    assert store.sync_counts() == {"pending": 1, "in_flight": 0, "rejected": 0}  # what waits, not what was sent


def test_the_retention_purge_removes_the_sessions_live_sends(store, clock):
    session_id = open_session_with_staff(store)
    store.send_request(session_id, kind="teleconsultation")
    closing.close_session(store, session_id)
    entry = outbox.claim_next(store)
    outbox.mark_sent(store, entry.id)
    retention.purge(store, now=clock() + dt.timedelta(days=30))
    assert live_rows(store) == []


def test_live_sends_go_before_closed_sessions_and_a_refusal_is_kept_with_its_code(store):
    closed_session(store, given_name="Closed")
    session_id = open_session_with_staff(store)
    store.send_request(session_id, kind="teleconsultation")
    refusal = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid",
                                                              "diagnostics": "Task.owner invalide"}]}

    def respond(request):
        body = json.loads(request.body)
        if any(e["resource"]["resourceType"] == "Task" for e in body["entry"]):
            return StubResponse(422, refusal)
        return transaction_response(request)

    with StubServer(respond) as stub:
        result = Uploader(stub.url).push(store)
        first_types = {e["resource"]["resourceType"] for e in json.loads(stub.requests[0].body)["entry"]}
    assert "Task" in first_types  # the live send went first
    assert (result.sent, result.live) == (1, 0)
    (row,) = live_rows(store)
    assert row["state"] == "rejected"
    assert outbox.read_error(row["last_error"]) == ("upload.rejected", {"status": 422,
                                                                        "reason": "Task.owner invalide"})
    assert store.queue_live_update(session_id)  # a refused send does not stop the next one
    assert store.live_counts()["pending"] == 1


def test_a_transient_failure_keeps_the_send_with_a_backoff_and_stops_the_pass(store):
    closed_session(store, given_name="Closed")
    session_id = open_session_with_staff(store)
    store.send_request(session_id, kind="teleconsultation")
    with StubServer(StubResponse(503, "busy", content_type="text/plain")) as stub:
        result = Uploader(stub.url).push(store)
        assert len(stub.requests) == 1  # the closed session's bundle was not tried behind a failed live send
    assert result.stopped == "transient" and result.sent == 0
    (row,) = live_rows(store)
    assert (row["state"], row["attempts"]) == ("pending", 1) and row["next_attempt_at"]
    assert outbox.read_error(row["last_error"]) == ("upload.http", {"status": 503})
    add_reading(store, session_id, 1)
    store.queue_live_update(session_id)  # the newer send supersedes the one waiting for its backoff
    assert [r["state"] for r in live_rows(store)] == ["superseded", "pending"]


def test_a_send_left_in_flight_goes_back_unless_a_newer_one_waits(tmp_path):
    from sync.store import Store
    import sync.store.live as rows

    path = tmp_path / "tablet.db"
    with Store(path) as store:
        alone = open_session_with_staff(store)
        store.send_request(alone, kind="teleconsultation")
        overtaken = open_session_with_staff(store)
        store.send_request(overtaken, kind="teleconsultation")
        first, second = rows.claim_next(store), rows.claim_next(store)   # both in flight when the app is killed
        assert {first.session_id, second.session_id} == {alone, overtaken}
        add_reading(store, overtaken, 1)
        newer = store.queue_live_update(overtaken)
    with Store(path) as store:  # reopening recovers what the dead process held
        states = {r["id"]: r["state"] for r in live_rows(store)}
        alone_send = first if first.session_id == alone else second
        overtaken_send = second if alone_send is first else first
        assert states == {alone_send.id: "pending", overtaken_send.id: "superseded", newer: "pending"}
