"""The live sends of an open session to the remote doctor (sync.live) against the real development server over
HTTP: the request, then the session so far after each measurement, then the final bundle; the server ends with one
Encounter (finished, with its end), one Task (completed, or cancelled when nobody concluded), each Observation once,
whatever was lost, repeated, or arrived late."""
from __future__ import annotations

import json

import pytest
import requests

import sync.store.live as live_rows
from sync import closing, live, outbox
from sync.store import Store
from sync.uploader import Uploader
from tests.support.live import add_reading, conclude, identifiers, open_session_with_staff
from tests.support.servers import DevServer, free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with DevServer(tmp_path_factory.mktemp("live") / "server.db") as running:
        yield running.url


def search(url: str, rtype: str, ident: str) -> list[dict]:
    reply = requests.get(f"{url}/{rtype}", params={"identifier": ident}, timeout=10)
    assert reply.status_code == 200
    return [e["resource"] for e in reply.json().get("entry", [])]


def observation_idents(payload: str) -> list[str]:
    return [e["resource"]["identifier"][0]["system"] + "|" + e["resource"]["identifier"][0]["value"]
            for e in json.loads(payload)["entry"] if e["resource"]["resourceType"] == "Observation"]


def assert_final_state(url: str, store: Store, session_id: str, task_status: str) -> None:
    ids = identifiers(store, session_id)
    (encounter,) = search(url, "Encounter", ids["Encounter"])
    assert encounter["status"] == "finished" and encounter["period"].get("end")
    (task,) = search(url, "Task", ids["Task"])
    assert task["status"] == task_status
    (final,) = outbox.entries(store)
    idents = observation_idents(final.payload)
    assert len(idents) == len(store.measurements(session_id))
    for ident in idents:
        assert len(search(url, "Observation", ident)) == 1, ident


def test_request_then_two_live_measurements_then_close(server, tmp_path):
    with Store(tmp_path / "tablet.db") as store:
        session_id = open_session_with_staff(store)
        store.send_request(session_id, kind="teleconsultation")
        uploader = Uploader(server)
        assert uploader.push(store).live == 1
        ids = identifiers(store, session_id)
        (encounter,) = search(server, "Encounter", ids["Encounter"])
        assert encounter["status"] == "in-progress"
        (task,) = search(server, "Task", ids["Task"])
        assert task["status"] == "requested" and task["code"]["coding"][0]["code"] == "teleconsultation"
        assert task["meta"]["tag"][0]["code"] == "750712184"  # found by the site's tag like the Encounter
        for n in (1, 2):
            add_reading(store, session_id, n)
            assert store.queue_live_update(session_id)
            assert uploader.push(store).live == 1
            latest = store.query("SELECT payload FROM live_outbox ORDER BY rowid DESC LIMIT 1")[0]["payload"]
            idents = observation_idents(latest)
            assert len(idents) == n + 1  # the reading just accepted is on the server, each one once
            assert all(len(search(server, "Observation", ident)) == 1 for ident in idents)
        conclude(store, session_id)
        closing.close_session(store, session_id)
        result = uploader.push(store)
        assert (result.sent, result.live) == (1, 0)
        assert store.live_counts() == {"pending": 0, "in_flight": 0, "sent": 3, "superseded": 0, "rejected": 0}
        assert_final_state(server, store, session_id, "completed")
        assert len(search(server, "Encounter", ids["Encounter"])) == 1


def test_lost_acknowledgements_repeats_and_live_sends_after_the_final_bundle(server, tmp_path):
    """Every live send and the final bundle reach the server twice, the live ones also AFTER the final bundle:
    the final state still wins and nothing is created twice."""
    with Store(tmp_path / "tablet.db") as store:
        session_id = open_session_with_staff(store)
        # each send's bundle as the uploader would freeze it when it takes the send, the session growing between
        live_payloads = [live.freeze(store, store.send_request(session_id, kind="teleexpertise")).payload]
        for n in (1, 2):
            add_reading(store, session_id, n)
            live_payloads.append(live.freeze(store, store.queue_live_update(session_id)).payload)
        assert len(set(live_payloads)) == 3
        closing.close_session(store, session_id)
        (final,) = outbox.entries(store)
        post = dict(headers={"Content-Type": "application/fhir+json"}, timeout=10)
        # acknowledgements "lost": the live sends, the final bundle twice, then the live sends again, late
        for body in [*live_payloads, final.payload, final.payload, *live_payloads]:
            reply = requests.post(server, data=body.encode("utf-8"), **post)
            assert reply.status_code == 200, reply.text
        assert Uploader(server).push(store).sent == 1
        assert_final_state(server, store, session_id, "cancelled")  # nobody concluded: the request is cancelled


def test_offline_live_sends_queue_and_the_close_supersedes_them(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/fhir"
    with Store(tmp_path / "tablet.db") as store:
        session_id = open_session_with_staff(store)
        store.send_request(session_id, kind="teleconsultation")
        first = Uploader(url, connect_timeout=1).push(store)
        assert (first.live, first.stopped) == (0, "transient")
        (waiting,) = [s for s in store.query("SELECT * FROM live_outbox") if s["state"] == "pending"]
        assert waiting["attempts"] == 1 and waiting["next_attempt_at"] and json.loads(waiting["last_error"])[
            "code"] == "upload.network"
        for n in (1, 2):
            add_reading(store, session_id, n)
            store.queue_live_update(session_id)
        assert store.live_counts()["pending"] == 1 and store.live_counts()["superseded"] == 2
        assert store.live_state(session_id)["pending"] == 1
        closing.close_session(store, session_id)
        assert store.live_counts()["pending"] == 0 and store.live_counts()["superseded"] == 3
        assert store.queue_live_update(session_id) is None  # closed: nothing more goes live
        with DevServer(tmp_path / "server.db", port=port) as server:
            result = Uploader(server.url).push(store, ignore_backoff=True)
            assert (result.sent, result.live) == (1, 0)
            assert_final_state(server.url, store, session_id, "cancelled")


def test_a_live_send_claimed_when_the_app_was_killed_goes_again(server, tmp_path):
    path = tmp_path / "tablet.db"
    with Store(path) as store:
        session_id = open_session_with_staff(store)
        store.send_request(session_id, kind="teleconsultation")
        claimed = live_rows.claim_next(store)  # the app died sending it
        assert claimed is not None and store.live_counts()["in_flight"] == 1
    with Store(path) as store:  # opening the store puts it back, due now
        assert store.live_counts()["pending"] == 1
        assert Uploader(server).push(store).live == 1
        assert store.query("SELECT state FROM live_outbox WHERE id = ?", [claimed.id])[0]["state"] == "sent"
        (task,) = search(server, "Task", identifiers(store, session_id)["Task"])
        assert task["status"] == "requested"


def test_final_bundles_merged_in_one_request_or_split_in_parts_land_once(server, tmp_path):
    """Two requested sessions closed: merged into one transaction (sync.batching), then two more sent in parts of
    four entries (a server's transaction limit), their conditional updates referred to by their own query."""
    with Store(tmp_path / "tablet.db") as store:
        sessions = []
        for _ in range(4):
            session_id = open_session_with_staff(store)
            store.send_request(session_id, kind="teleconsultation")
            conclude(store, session_id)
            closing.close_session(store, session_id)
            sessions.append(session_id)
        with store.transaction():  # the last two wait their turn
            store.conn.execute("UPDATE outbox SET state = 'sent' WHERE session_id IN (?, ?)", sessions[2:])
        merged = Uploader(server, batch_size=2).push(store)
        assert (merged.sent, merged.requests) == (2, 1)
        with store.transaction():
            store.conn.execute("UPDATE outbox SET state = 'pending' WHERE session_id IN (?, ?)", sessions[2:])
        in_parts = Uploader(server, batch_size=1, max_entries=4).push(store, max_attempts_per_entry=3)
        assert in_parts.sent == 2 and in_parts.requests > 2
        for session_id in sessions:
            ids = identifiers(store, session_id)
            (encounter,) = search(server, "Encounter", ids["Encounter"])
            (task,) = search(server, "Task", ids["Task"])
            assert (encounter["status"], task["status"]) == ("finished", "completed")
            assert task["focus"]["reference"] == f"Encounter/{encounter['id']}"


def test_a_push_killed_while_its_live_send_is_in_flight_loses_and_doubles_nothing(tmp_path):
    """A real `python -m sync push` process, SIGKILLed once it has claimed the live send (the request slowed by a
    proxy); the next push recovers the send and the server ends with one request, each Observation once."""
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from tests.support.servers import PROJECT_ROOT

    path = tmp_path / "tablet.db"
    with Store(path) as store:
        session_id = open_session_with_staff(store)
        for n in (1, 2):
            add_reading(store, session_id, n)
        store.send_request(session_id, kind="teleexpertise")
    with DevServer(tmp_path / "server.db") as server:
        host_port = server.url.split("//")[1].split("/")[0]
        proxy = subprocess.Popen([sys.executable, "-m", "sync", "proxy", "--listen", "0", "--target", host_port,
                                  "--latency-ms", "600"], stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
        try:
            address = proxy.stdout.readline().split()[2]
            push = [sys.executable, "-m", "sync", "push", "--server", f"{address}/fhir", "--db", str(path)]
            killed = subprocess.Popen(push, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT)
            state = None
            for _ in range(600):  # until the process has claimed the send (read without recovering anything)
                with sqlite3.connect(path) as con:
                    state = con.execute("SELECT state FROM live_outbox").fetchone()[0]
                if state == "in_flight" or killed.poll() is not None:
                    break
                time.sleep(0.02)
            killed.send_signal(signal.SIGKILL)
            killed.wait()
            assert state == "in_flight"
            for _ in range(10):  # the killed request may still be in the server's hands: the next push retries
                done = subprocess.run(push, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
                if done.returncode == 0:
                    break
            assert done.returncode == 0 and json.loads(done.stdout)["live_remaining"] == 0, done.stdout
        finally:
            proxy.send_signal(signal.SIGTERM)
            proxy.communicate(timeout=10)
        with Store(path) as store:
            assert store.live_counts()["sent"] == 1 and store.live_counts()["in_flight"] == 0
            (sent,) = store.query("SELECT payload FROM live_outbox")
            ids = identifiers(store, session_id)
        (task,) = search(server.url, "Task", ids["Task"])
        assert task["status"] == "requested"
        idents = observation_idents(sent["payload"])
        assert len(idents) == 3 and all(len(search(server.url, "Observation", i)) == 1 for i in idents)


def test_abandoning_after_the_request_reached_the_doctor_withdraws_it(server, tmp_path):
    with Store(tmp_path / "tablet.db") as store:
        session_id = open_session_with_staff(store)
        store.send_request(session_id, kind="teleexpertise")
        add_reading(store, session_id, 1)
        uploader = Uploader(server)
        assert uploader.push(store).live == 1
        add_reading(store, session_id, 2)  # measured, never sent: an abandoned session is not uploaded
        store.queue_live_update(session_id)
        store.abandon_session(session_id)
        assert uploader.push(store).live == 1
        assert uploader.push(store).live == 0  # withdrawn once
        ids = identifiers(store, session_id)
        (encounter,) = search(server, "Encounter", ids["Encounter"])
        (task,) = search(server, "Task", ids["Task"])
        assert (encounter["status"], task["status"]) == ("cancelled", "cancelled")
        (withdrawal,) = [s for s in live_rows.sends(store, session_id) if s.state == "sent"][1:]
        assert observation_idents(withdrawal.payload) == []
        sent_before = observation_idents(live_rows.sends(store, session_id)[0].payload)
        assert len(sent_before) == len(store.measurements(session_id)) - 1  # the last value stayed on the tablet
        assert all(len(search(server, "Observation", i)) == 1 for i in sent_before)


def test_abandoning_before_anything_reached_the_server_sends_nothing(tmp_path):
    with Store(tmp_path / "tablet.db") as store:
        session_id = open_session_with_staff(store)
        store.send_request(session_id, kind="teleconsultation")
        store.abandon_session(session_id)
        assert store.live_counts()["pending"] == 0
        assert Uploader(f"http://127.0.0.1:{free_port()}").push(store).live == 0
