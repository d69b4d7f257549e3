"""The exactly-once promise against a bad network: every fault the proxy injects is classified transient (the data
stays queued, nothing is quarantined), and 300 sessions pushed through 30 % faults to the real development server
end up on it exactly once each."""
from __future__ import annotations

import collections
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from sync import batching, fhir, outbox
from sync.faultproxy import FAULT_KINDS, KINDS, FaultProxy, parse_target
from sync.seed import seed_sessions
from sync.store import Store
from sync.testing import PROJECT_ROOT, DevServer, closed_session
from sync.uploader import Uploader


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with DevServer(tmp_path_factory.mktemp("server") / "server.db") as srv:
        yield srv


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "tablet.db") as s:
        yield s


def server_observations(url: str) -> list[str]:
    """Identifier values of every Observation the server holds (read directly, not through the proxy)."""
    reply = requests.get(f"{url}/Observation", timeout=30)
    reply.raise_for_status()
    return [e["resource"]["identifier"][0]["value"] for e in reply.json().get("entry", [])]


def held(url: str, rtype: str, system: str, value: str) -> int:
    reply = requests.get(f"{url}/{rtype}", params={"identifier": f"{system}|{value}"}, timeout=10)
    return reply.json()["total"]


# -- the proxy itself ------------------------------------------------------------------------------------------------

def test_same_seed_same_faults():
    def draws(seed):
        proxy = FaultProxy("127.0.0.1:9", fault_rate=0.3, seed=seed)
        return [proxy.next_kind() for _ in range(500)]

    assert draws(42) == draws(42) != draws(43)
    kinds = collections.Counter(draws(42))
    assert set(kinds) == set(KINDS) and 100 < sum(kinds[k] for k in FAULT_KINDS) < 200
    only = FaultProxy("127.0.0.1:9", fault_rate=1.0, kinds={"lost_ack": 1}, seed=1)
    assert {only.next_kind() for _ in range(50)} == {"lost_ack"}


def test_loopback_only():
    assert parse_target("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_target("http://localhost:80/fhir") == ("localhost", 80)
    for bad in ("10.0.0.5:80", "example.org:443", "192.168.1.1:8080", "8080"):
        with pytest.raises(ValueError):
            parse_target(bad)


def test_pass_through_relays_requests_and_counts_them(server):
    with FaultProxy(server.url, latency_ms=30) as proxy:
        http = requests.Session()
        started = time.monotonic()
        for _ in range(3):  # one keep-alive connection, three exchanges
            reply = http.get(f"{proxy.url_for(server.url)}/metadata", timeout=10)
            assert reply.status_code == 200 and reply.json()["resourceType"] == "CapabilityStatement"
        assert time.monotonic() - started >= 0.09  # the added latency, once per exchange
        stats = proxy.stats()
    assert stats["counts"]["pass"] == 3 and stats["faults"] == 0 and stats["connections"] == 1
    assert stats["bytes_up"] > 0 and stats["bytes_down"] > 0


# -- each fault kind → transient, and nothing lost or duplicated afterwards -----------------------------------------

@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_is_transient_and_the_retry_stores_exactly_once(server, store, kind):
    _, _, first = closed_session(store, family_name="Faute", given_name="Ana" + "a" * FAULT_KINDS.index(kind))
    patient_id = store.find_patients()[0]["id"]
    _, _, second = closed_session(store, patient_id=patient_id, value="38.10")
    obs_values = batching.observation_identifiers(outbox.get_entry(store, i).payload for i in (first, second))
    with FaultProxy(server.url, retry_after=120) as proxy:
        proxy.script([kind])
        uploader = Uploader(proxy.url_for(server.url), connect_timeout=1, read_timeout=0.5)
        before = store.now()
        result = uploader.push(store)
        assert (result.sent, result.rejected, result.remaining, result.stopped, result.requests) == \
            (0, 0, 2, "transient", 1)
        entry = outbox.get_entry(store, first)
        assert (entry.state, entry.attempts) == ("pending", 1) and entry.last_error
        due = dt.datetime.fromisoformat(entry.next_attempt_at)
        if kind in ("http503", "http429"):  # the proxy's Retry-After: 120 is honoured
            assert before + dt.timedelta(seconds=119) <= due <= before + dt.timedelta(seconds=140)
        committed = [held(server.url, "Observation", fhir.OBSERVATION_ID_SYSTEM, v) for v in obs_values]
        # the server saw the request only for these faults; for the others it never reached it
        assert committed == ([1, 1] if kind in ("lost_ack", "truncate") else [0, 0])

        retry = uploader.push(store, ignore_backoff=True)  # no fault scripted now: the retry passes
        assert (retry.sent, retry.remaining, retry.requests) == (2, 0, 1)
        assert proxy.counts[kind] == 1 and proxy.counts["pass"] == 1
    assert [held(server.url, "Observation", fhir.OBSERVATION_ID_SYSTEM, v) for v in obs_values] == [1, 1]
    assert held(server.url, "Patient", fhir.PATIENT_ID_SYSTEM, patient_id) == 1


def test_server_down_behind_the_proxy_is_transient(store, tmp_path):
    closed_session(store)
    with DevServer(tmp_path / "server.db") as srv:
        url = srv.url
    with FaultProxy(url) as proxy:  # the proxy is up, the server behind it is not: 502
        result = Uploader(proxy.url_for(url), read_timeout=2).push(store)
        assert proxy.upstream_errors == 1
    assert (result.sent, result.rejected, result.stopped) == (0, 0, "transient")
    assert "502" in outbox.entries(store)[0].last_error


# -- the big one -----------------------------------------------------------------------------------------------------

@pytest.mark.timeout(90)
def test_300_sessions_through_30_percent_faults_arrive_exactly_once(tmp_path):
    with Store(tmp_path / "tablet.db") as store:
        seeded = seed_sessions(store, 300, seed=2024)
        payloads = [e.payload for e in outbox.entries(store)]
        expected_obs = batching.observation_identifiers(payloads)
        # complete seeded sessions: temperature, SpO2, pulse and one blood pressure panel each
        assert len(expected_obs) == len(set(expected_obs)) == 4 * 300
        with DevServer(tmp_path / "server.db") as srv, \
                FaultProxy(srv.url, fault_rate=0.3, seed=7, retry_after=1) as proxy:
            uploader = Uploader(proxy.url_for(srv.url), connect_timeout=1, read_timeout=1, batch_size=4)
            deadline = time.monotonic() + 60
            passes = 0
            while outbox.remaining(store) and time.monotonic() < deadline:
                uploader.push(store, ignore_backoff=True)  # "send now": keeps the test fast despite Retry-After
                passes += 1
            stats = proxy.stats()
            counts = store.outbox_counts()
            observations = server_observations(srv.url)
            patients = requests.get(f"{srv.url}/Patient", timeout=30).json()
        assert counts == {"pending": 0, "in_flight": 0, "sent": 300, "rejected": 0}, (counts, stats)
        # every kind of fault happened, the dangerous ones (server committed, client never heard) included
        assert all(stats["counts"][k] >= 1 for k in FAULT_KINDS), stats
        assert stats["faults"] >= 30 and passes > stats["faults"] // 2
        per_obs = collections.Counter(observations)
        assert len(observations) == 4 * 300 and set(per_obs) == set(expected_obs) and max(per_obs.values()) == 1
        patient_ids = [next(i["value"] for i in p["resource"]["identifier"] if i["system"] == fhir.PATIENT_ID_SYSTEM)
                       for p in patients["entry"]]
        assert patients["total"] == len(seeded.patients) == len(set(patient_ids))
        assert set(patient_ids) == set(seeded.patients)
        assert len(seeded.patients) < 300  # some residents had several sessions


# -- the command line ------------------------------------------------------------------------------------------------

def test_proxy_command_line(server):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    host_port = server.url.split("//")[1].split("/")[0]
    proc = subprocess.Popen([sys.executable, "-m", "sync", "proxy", "--listen", "0", "--target", host_port,
                             "--fault-rate", "1", "--kinds", "http503", "--seed", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT)
    try:
        banner = proc.stdout.readline()
        assert banner.startswith("proxying on http://127.0.0.1:"), banner + proc.stderr.read()
        address = banner.split()[2]
        reply = requests.get(f"{address}/fhir/metadata", timeout=10)
        assert reply.status_code == 503 and reply.headers["Retry-After"] == "1"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["counts"]["http503"] == 1 and stats["seed"] == 5
    bad = subprocess.run([sys.executable, "-m", "sync", "proxy", "--listen", "0", "--target", "10.1.2.3:80"],
                         capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=30)
    assert bad.returncode == 2 and "loopback" in bad.stderr
