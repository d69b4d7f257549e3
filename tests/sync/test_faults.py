"""The exactly-once promise against a bad network: every fault the proxy injects is classified transient (the data
stays queued, nothing is quarantined), and 100 sessions pushed in pairs through 30 % faults to the real development
server end up on it exactly once each. The proxy's draws are seeded: those 50 transactions meet every kind of fault."""
from __future__ import annotations

import collections
import datetime as dt
import time

import pytest
import requests

from sync import batching, fhir, outbox
from sync.server.faultproxy import FAULT_KINDS, FaultProxy
from sync.seed import seed_sessions
from sync.store import Store
from sync.uploader import Uploader
from tests.support.samples import closed_session
from tests.support.servers import DevServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with DevServer(tmp_path_factory.mktemp("server") / "server.db") as srv:
        yield srv


def server_observations(url: str) -> list[str]:
    """Identifier values of every Observation the server holds (read directly, not through the proxy)."""
    reply = requests.get(f"{url}/Observation", timeout=30)
    reply.raise_for_status()
    return [e["resource"]["identifier"][0]["value"] for e in reply.json().get("entry", [])]


def held(url: str, rtype: str, system: str, value: str) -> int:
    reply = requests.get(f"{url}/{rtype}", params={"identifier": f"{system}|{value}"}, timeout=10)
    return reply.json()["total"]


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

SESSIONS = 100  # in pairs: 50 transactions, enough draws at 30 % for every fault kind to happen

@pytest.mark.timeout(90)
def test_100_sessions_through_30_percent_faults_arrive_exactly_once(tmp_path):
    with Store(tmp_path / "tablet.db") as store:
        seeded = seed_sessions(store, SESSIONS, seed=2024)
        payloads = [e.payload for e in outbox.entries(store)]
        expected_obs = batching.observation_identifiers(payloads)
        # complete seeded sessions: temperature, SpO2, pulse and one blood pressure panel each
        assert len(expected_obs) == len(set(expected_obs)) == 4 * SESSIONS
        with DevServer(tmp_path / "server.db") as srv, \
                FaultProxy(srv.url, fault_rate=0.3, seed=7, retry_after=1) as proxy:
            uploader = Uploader(proxy.url_for(srv.url), connect_timeout=1, read_timeout=1, batch_size=2)
            deadline = time.monotonic() + 60
            passes = 0
            while outbox.remaining(store) and time.monotonic() < deadline:
                uploader.push(store, ignore_backoff=True)  # "send now": keeps the test fast despite Retry-After
                passes += 1
            stats = proxy.stats()
            counts = store.outbox_counts()
            observations = server_observations(srv.url)
            patients = requests.get(f"{srv.url}/Patient", timeout=30).json()
        assert counts == {"pending": 0, "in_flight": 0, "sent": SESSIONS, "rejected": 0}, (counts, stats)
        # every kind of fault happened, the dangerous ones (server committed, client never heard) included
        assert all(stats["counts"][k] >= 1 for k in FAULT_KINDS), stats
        assert stats["faults"] >= 25 and passes > stats["faults"] // 2
        per_obs = collections.Counter(observations)
        assert len(observations) == 4 * SESSIONS and set(per_obs) == set(expected_obs) and max(per_obs.values()) == 1
        patient_ids = [next(i["value"] for i in p["resource"]["identifier"] if i["system"] == fhir.PATIENT_ID_SYSTEM)
                       for p in patients["entry"]]
        assert patients["total"] == len(seeded.patients) == len(set(patient_ids))
        assert set(patient_ids) == set(seeded.patients)
        assert len(seeded.patients) < SESSIONS  # some residents had several sessions
