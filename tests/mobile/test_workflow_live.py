"""The session goes to the remote doctor while it is open, as plain Python with the real store: starting the call
sends the teleconsultation request (once), asking for advice sends a téléexpertise request and leaves the session
open and marked waiting on the patient list, every value stored after a request queues the session so far, and
each send wakes the sync loop (the `on_saved` hook the runtime wires to it)."""
from __future__ import annotations

import json

import pytest

from mobile.workflow import SessionWorkflow
from sync import live
from tests.support.workflow import DEMO, NOW, ScriptedThermometer, begin, refused, set_up_tablet


@pytest.fixture
def store(store):
    set_up_tablet(store)
    return store


class Wakes:
    def __init__(self) -> None:
        self.sessions: list[str] = []

    def __call__(self, session_id: str) -> None:
        self.sessions.append(session_id)


def make(store, wakes):
    return SessionWorkflow(store, ScriptedThermometer(), clock=lambda: NOW, on_saved=wakes)


def to_the_call(wf):
    begin(wf, DEMO)
    wf.enter_manual_temperature("38,2")
    wf.accept()
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="18", consciousness="A", on_oxygen=False)
    return wf.state.session_id


def live_rows(store, session_id):
    return store.query("SELECT * FROM live_outbox WHERE session_id = ? ORDER BY rowid", [session_id])


def payload(store, row):
    """The send's bundle, as the uploader freezes it when it takes the send."""
    return json.loads(live.freeze(store, row["id"]).payload)


def task_of(store, row):
    (task,) = [e["resource"] for e in payload(store, row)["entry"] if e["resource"]["resourceType"] == "Task"]
    return task


def test_no_request_before_the_call_and_starting_it_sends_the_teleconsultation_request(store):
    wakes = Wakes()
    wf = make(store, wakes)
    session_id = to_the_call(wf)
    assert live_rows(store, session_id) == [] and wakes.sessions == []  # stored values alone go nowhere live
    wf.start_call(doctor_name="Dr Marc Téléconsultant")
    (row,) = live_rows(store, session_id)
    assert task_of(store, row)["code"]["coding"][0]["code"] == "teleconsultation"
    assert wakes.sessions == [session_id] and wf.state.request_kind == "teleconsultation"
    assert store.live_state(session_id)["request_kind"] == "teleconsultation"


def test_asking_for_advice_sends_a_teleexpertise_request_and_the_session_waits(store):
    wakes = Wakes()
    wf = make(store, wakes)
    session_id = to_the_call(wf)
    wf.request_advice()
    (row,) = live_rows(store, session_id)
    task = task_of(store, row)
    assert task["code"]["coding"][0]["code"] == "teleexpertise" and task["status"] == "requested"
    assert wf.state.request_kind == "teleexpertise" and wakes.sessions == [session_id]
    assert store.get_session(session_id)["state"] == "open"
    wf.leave_session()                                   # back to the list: the session is marked waiting
    (listed,) = wf.open_sessions()
    assert (listed["session_id"], listed["waiting_advice"], listed["request_kind"]) == (session_id, True,
                                                                                      "teleexpertise")
    wf.resume_session(session_id)
    assert (wf.state.step, wf.state.request_kind) == ("teleconsult", "teleexpertise")
    wf.request_advice()                                  # asking again: no second request, the session so far again
    assert [r["state"] for r in live_rows(store, session_id)] == ["superseded", "pending"]
    assert store.get_session(session_id)["request_kind"] == "teleexpertise"


def test_advice_is_asked_before_the_call_only(store):
    wf = make(store, Wakes())
    to_the_call(wf)
    wf.start_call(doctor_name="Dr Marc Téléconsultant")
    with refused("call.already_started"):
        wf.request_advice()


def test_values_stored_after_a_request_queue_the_session_so_far_once_each(store):
    wakes = Wakes()
    wf = make(store, wakes)
    session_id = to_the_call(wf)
    wf.start_call(doctor_name="Dr Marc Téléconsultant")
    (request,) = live_rows(store, session_id)
    sent_with_the_request = payload(store, request)     # the uploader took it at once
    before = len(store.measurements(session_id))
    wf.enter_manual("oximeter", {"spo2": "93", "pulse_rate": "90"})   # the doctor asks for the SpO2 during the call
    wf.accept()
    wf.finish_measurements()
    assert len(store.measurements(session_id)) == before + 2          # the temperature is not stored twice
    rows = live_rows(store, session_id)
    assert [r["state"] for r in rows] == ["superseded", "pending"]
    def observations(bundle):
        return {e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"}

    first, update = observations(sent_with_the_request), observations(payload(store, rows[1]))
    assert first < update and len(update - first) == 2
    assert wakes.sessions == [session_id, session_id]


async def test_the_call_wakes_the_sync_loop_and_the_request_reaches_the_server(tmp_path):
    """The app's loop waits an hour between passes; starting the call wakes it, and the request is on the real
    development server at once."""
    import asyncio

    import requests

    from sync.background import SyncLoop
    from sync.store import Store
    from tests.support.live import identifiers
    from tests.support.servers import DevServer

    path = tmp_path / "tablet.db"
    with Store(path) as store, DevServer(tmp_path / "server.db") as server:
        set_up_tablet(store)
        loop = SyncLoop(path, server.url, interval_seconds=3600)
        wf = make(store, lambda _sid: loop.trigger())
        session_id = to_the_call(wf)
        loop.start()
        try:
            for _ in range(200):
                if loop.passes >= 1:
                    break
                await asyncio.sleep(0.05)
            wf.start_call(doctor_name="Dr Marc Téléconsultant")
            for _ in range(200):
                if store.live_counts()["sent"] == 1:
                    break
                await asyncio.sleep(0.05)
        finally:
            await loop.stop()
        assert store.live_counts()["sent"] == 1
        found = requests.get(f"{server.url}/Task", params={"identifier": identifiers(store, session_id)["Task"]},
                             timeout=10).json().get("entry", [])
        assert [e["resource"]["status"] for e in found] == ["requested"]


def test_abandoning_after_asking_wakes_the_sync_loop_to_withdraw_the_request(store):
    wakes = Wakes()
    wf = make(store, wakes)
    session_id = to_the_call(wf)
    wf.request_advice()
    with store.transaction():  # the request reached the server: its send settled as sent
        store.conn.execute("UPDATE live_outbox SET state = 'sent' WHERE session_id = ?", [session_id])
    wf.abandon()
    assert wakes.sessions == [session_id, session_id]
    (withdrawal,) = [r for r in live_rows(store, session_id) if r["state"] == "pending"]
    assert task_of(store, withdrawal)["status"] == "cancelled"
