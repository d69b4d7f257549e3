"""sync.uploader, the CLI and the background loop: only a real transaction-response counts as sent; transient
failures keep the entry queued with a backoff and end the pass; a FHIR 4xx quarantines just that entry."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from sync import outbox
from sync.background import SyncLoop
from sync.store import Store
from sync.uploader import Uploader
from tests.support.http_stub import RecordedRequest, StubResponse, StubServer
from tests.support.samples import closed_session
from tests.support.servers import PROJECT_ROOT, DevServer, free_port


def transaction_response(request: RecordedRequest, status: str = "201 Created") -> StubResponse:
    """What a FHIR server answers: one response entry per request entry."""
    count = len(json.loads(request.body)["entry"])
    return StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                              "entry": [{"response": {"status": status}} for _ in range(count)]})


def fill(store, n=3):
    return [closed_session(store, family_name=name)[2] for name in ("Alpha", "Bravo", "Charlie")[:n]]


def test_success_posts_the_frozen_bytes_unchanged(store):
    """One session per request (batch_size=1): the body, once un-gzipped, is exactly the frozen payload."""
    first, second = fill(store, 2)
    with StubServer(transaction_response) as stub:
        result = Uploader(stub.url, token="tok", batch_size=1).push(store)
    assert (result.sent, result.rejected, result.remaining, result.stopped, result.requests) == (2, 0, 0, None, 2)
    assert [r.body for r in stub.requests] == [outbox.get_entry(store, first).payload_bytes,
                                               outbox.get_entry(store, second).payload_bytes]
    request = stub.requests[0]
    assert (request.method, request.path) == ("POST", "/fhir")
    assert request.headers["Content-Type"] == "application/fhir+json"
    assert request.headers["Content-Encoding"] == "gzip" and len(request.wire_body) < len(request.body)
    assert request.headers["Authorization"] == "Bearer tok"
    assert store.outbox_counts() == {"pending": 0, "in_flight": 0, "sent": 2, "rejected": 0}


CAPTIVE_PORTAL = StubResponse(200, "<html><body>Wi-Fi EHPAD : acceptez les conditions</body></html>", "text/html")


@pytest.mark.parametrize("reply", [
    StubResponse(500, {"resourceType": "OperationOutcome", "issue": [{"diagnostics": "db down"}]}),
    StubResponse(503, "busy", "text/plain"),
    StubResponse(429, "slow down", "text/plain"),
    StubResponse(408, "", "text/plain"),
    CAPTIVE_PORTAL,
    StubResponse(302, "", "text/html", {"Location": "http://portal.example/login"}),
    StubResponse(404, "<h1>Not Found</h1>", "text/html"),  # not a FHIR verdict on the payload
    StubResponse(200, {"resourceType": "OperationOutcome", "issue": []}),
    StubResponse(200, {"resourceType": "Bundle", "type": "batch-response", "entry": [{}, {}]}),
    StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                       "entry": [{"response": {"status": "201 Created"}}]}),  # one reply for two entries
    StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                       "entry": [{"response": {"status": "201 Created"}}, {"response": {"status": "400"}}]}),
], ids=["500", "503", "429", "408", "captive-portal-200", "redirect", "404-html", "200-oo", "batch-response",
        "missing-entry", "entry-400"])
def test_transient_failures_keep_the_entry_and_end_the_pass(store, reply):
    first, *_ = fill(store)
    with StubServer(reply) as stub:
        result = Uploader(stub.url).push(store)
    assert len(stub.requests) == 1  # no busy loop, no parallel sends, redirects not followed
    assert (result.sent, result.rejected, result.remaining, result.stopped) == (0, 0, 3, "transient")
    entry = outbox.get_entry(store, first)
    assert (entry.state, entry.attempts) == ("pending", 1)
    assert entry.last_error and entry.next_attempt_at is not None


def test_fhir_400_quarantines_only_that_entry_with_its_reason(store, tmp_path):
    """The three sessions go in one batch; the server refuses any request holding the first one: the batch is
    bisected until that session is alone, and only it is quarantined."""
    first, second, third = fill(store)
    outcome = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": "invalid", "diagnostics": "Observation.code unknown"}]}
    bad_key = outbox.get_entry(store, first).idempotency_key.encode()

    def respond(request):
        if bad_key in request.body:
            return StubResponse(400, outcome)
        return transaction_response(request, "200 OK")

    with StubServer(respond) as stub:
        result = Uploader(stub.url).push(store)
    assert (result.sent, result.rejected, result.remaining) == (2, 1, 0)
    rejected = outbox.get_entry(store, first)
    assert rejected.state == "rejected" and "Observation.code unknown" in rejected.last_error
    assert {outbox.get_entry(store, e).state for e in (second, third)} == {"sent"}
    status = json.loads(run_cli("status", "--db", str(tmp_path / "relais.db")).stdout)
    assert status["rejected"] == 1
    assert status["rejected_reasons"] == [{"session_id": rejected.session_id, "reason": rejected.last_error}]


def test_auth_failure_stops_without_rejecting(store):
    fill(store)
    with StubServer(StubResponse(401, {"resourceType": "OperationOutcome", "issue": []})) as stub:
        result = Uploader(stub.url).push(store)
    assert (result.sent, result.rejected, result.remaining, result.stopped) == (0, 0, 3, "auth")
    assert len(stub.requests) == 1


def test_read_timeout_is_transient(store):
    fill(store, 1)

    def slow(request):
        time.sleep(1.0)
        return transaction_response(request)

    with StubServer(slow) as stub:
        started = time.monotonic()
        result = Uploader(stub.url, read_timeout=0.3).push(store)
        assert time.monotonic() - started < 0.9
    assert (result.sent, result.remaining, result.stopped) == (0, 1, "transient")
    assert "Timeout" in outbox.entries(store)[0].last_error


def test_retries_within_a_pass_when_allowed(store):
    fill(store, 1)
    replies = iter([StubResponse(503), StubResponse(503)])
    slept = []
    with StubServer(lambda r: next(replies, None) or transaction_response(r)) as stub:
        uploader = Uploader(stub.url)
        uploader._sleep = slept.append
        result = uploader.push(store, max_attempts_per_entry=3, ignore_backoff=True)
    assert (result.sent, result.remaining) == (1, 0)
    assert len(stub.requests) == 3 and len(slept) == 2
    assert outbox.entries(store)[0].attempts == 3


def test_deadline_passed_sends_nothing(store):
    fill(store, 1)
    with StubServer(transaction_response) as stub:
        result = Uploader(stub.url).push(store, deadline=time.monotonic() - 1)
    assert (result.sent, result.remaining, result.stopped) == (0, 1, "deadline")
    assert stub.requests == []


def test_deadline_reached_between_two_halves_of_a_refused_batch_releases_both(store):
    """The deadline passes after a batch was refused and split: the halves are not sent, and both sessions go back
    to the queue at once (pending, due now), none left in flight."""
    fill(store, 2)
    refusal = StubResponse(400, {"resourceType": "OperationOutcome", "issue": [{"diagnostics": "bad"}]})
    uploader = Uploader("http://127.0.0.1:9/fhir", gzip=False)
    clock = iter([0.0, 0.0, 100.0, 100.0])  # the pass starts, the batch goes, then the deadline is gone
    uploader._monotonic = lambda: next(clock)
    with StubServer(refusal) as stub:
        uploader.base_url = stub.url
        result = uploader.push(store, deadline=50.0)
    assert (result.sent, result.rejected, result.remaining, result.stopped, result.requests) == (0, 0, 2, "deadline", 1)
    assert [(e.state, e.next_attempt_at is not None) for e in outbox.entries(store)] == [("pending", True)] * 2
    assert store.outbox_counts()["in_flight"] == 0


def test_unexpected_error_does_not_leave_the_entry_in_flight(store, monkeypatch):
    fill(store, 1)
    uploader = Uploader("http://127.0.0.1:9/fhir")
    monkeypatch.setattr(uploader, "send", lambda entry: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        uploader.push(store)
    assert store.outbox_counts()["in_flight"] == 0 and store.outbox_counts()["pending"] == 1


def test_tls_verification_cannot_be_disabled(store):
    with pytest.raises(TypeError):
        Uploader("https://fhir.example.org/fhir", ca_bundle=False)
    fill(store, 1)
    seen = {}

    class FakeSession(requests.Session):
        def post(self, url, **kwargs):
            seen.update(kwargs, url=url)
            raise requests.ConnectionError("offline")

    Uploader("https://fhir.example.org/fhir", http=FakeSession()).push(store)
    assert seen["verify"] is True and seen["url"] == "https://fhir.example.org/fhir"
    assert seen["timeout"] == (5, 30) and seen["allow_redirects"] is False
    Uploader("https://fhir.example.org/fhir", ca_bundle="/etc/relais/ca.pem", http=FakeSession()).push(
        store, ignore_backoff=True)
    assert seen["verify"] == "/etc/relais/ca.pem"


def test_server_down_first_then_started(tmp_path, store):
    _, session_id, _ = closed_session(store)
    port = free_port()
    url = f"http://127.0.0.1:{port}/fhir"
    first = Uploader(url, connect_timeout=1).push(store)  # nothing listening: no exception for the caller
    assert (first.sent, first.remaining, first.stopped) == (0, 1, "transient")
    assert store.session_sync_state(session_id) == "pending"
    with DevServer(tmp_path / "server.db", port=port) as server:
        result = Uploader(server.url).push(store, ignore_backoff=True)  # "send now": skip the backoff wait
        assert store.session_sync_state(session_id) == "sent"
        assert result.remaining == 0
        assert requests.get(f"{server.url}/Observation", timeout=10).json()["total"] == 1


# -- command line ---------------------------------------------------------------------------------------------------

def run_cli(*args, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "sync", *args], capture_output=True, text=True, env=env,
                          cwd=PROJECT_ROOT, timeout=60)


def test_cli_status_and_push(tmp_path, sync_cli):
    db = tmp_path / "home" / "relais.db"
    with Store(db) as s:
        closed_session(s)
    status = run_cli("status", env_extra={"RELAIS_HOME": str(db.parent)})  # default --db: $RELAIS_HOME/relais.db
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == {"in_flight": 0, "pending": 1, "rejected": 0, "sent": 0,
                                         "rejected_reasons": [], "reports": {"pending": 0, "sent": 0, "refused": 0},
                                         "transaction_limits": {}, "pull": [],
                                         "residents": {"pending": 1, "sent": 0, "rejected": 0},
                                         "live": {"pending": 0, "in_flight": 0, "sent": 0, "superseded": 0,
                                                  "rejected": 0}}
    # the next commands run forked from an interpreter that imported them once: the same processes, started faster
    down = sync_cli("push", "--server", f"http://127.0.0.1:{free_port()}/fhir", "--db", db)
    assert down.returncode == 1 and json.loads(down.stdout)["remaining"] == 1

    with DevServer(tmp_path / "server.db", token="t0k") as server:
        pushed = sync_cli("push", "--server", server.url, "--token", "t0k", "--db", db)
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["sent"] == 1
    after = json.loads(sync_cli("status", "--db", db).stdout)
    assert after["sent"] == 1 and after["residents"]["pending"] == 0  # the resident went up with its session
    assert sync_cli("status", "--db", tmp_path / "missing.db").returncode == 2


# -- background loop ------------------------------------------------------------------------------------------------

async def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


async def test_sync_loop_pushes_at_start_and_when_triggered(tmp_path):
    path = tmp_path / "tablet.db"
    store = Store(path)
    _, first, _ = closed_session(store)
    with StubServer(transaction_response) as stub:
        loop = SyncLoop(path, stub.url, interval_seconds=60)
        loop.start()
        try:
            await wait_for(lambda: store.session_sync_state(first) == "sent")
            await wait_for(lambda: loop.passes == 1)  # that pass is over: only the trigger can send the next one
            _, second, _ = closed_session(store, patient_id=store.find_patients()[0]["id"])
            loop.trigger()  # a session was just saved: no need to wait a minute
            await wait_for(lambda: store.session_sync_state(second) == "sent", timeout=5)
        finally:
            await loop.stop()
    assert loop.last_error is None and loop.passes >= 2
    store.close()
