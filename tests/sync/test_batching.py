"""Several sessions per request: merging frozen bundles (Patient entries shared between sessions deduplicated,
fullUrls unique), mapping the answer back per session, bisecting a refused batch to quarantine only the bad session,
gzip bodies, Retry-After, and no busy loop while offline."""
from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import json
import random

import pytest
import requests

from sync import batching, fhir, outbox
from sync.uploader import RETRY_AFTER_CAP_SECONDS, Uploader, parse_retry_after, retry_delay
from tests.support.http_stub import RecordedRequest, StubResponse, StubServer
from tests.support.samples import closed_session
from tests.support.servers import DevServer

OUTCOME_400 = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": "invalid", "diagnostics": "Observation.value is absurd"}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with DevServer(tmp_path_factory.mktemp("server") / "server.db") as srv:
        yield srv


def transaction_response(request: RecordedRequest, status: str = "201 Created") -> StubResponse:
    count = len(json.loads(request.body)["entry"])
    return StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                              "entry": [{"response": {"status": status}} for _ in range(count)]})


NAMES = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliett", "Kilo",
         "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo", "Sierra", "Tango"]


def sessions(store, n, start=0, **kw):
    """n closed sessions, each of a new patient (names from `start` on)."""
    return [closed_session(store, family_name=NAMES[i % len(NAMES)], given_name="Zoé" + "e" * (i // len(NAMES)),
                           **kw)[2] for i in range(start, start + n)]


def obs_key(store, entry_id):
    return outbox.get_entry(store, entry_id).idempotency_key


# -- outbox operations on several entries --------------------------------------------------------------------------

def test_claim_batch_takes_the_oldest_due_entries_up_to_the_limits(store, clock):
    ids = sessions(store, 6)
    outbox.release(store, outbox.claim_next(store).id, "timeout", delay=60)  # the oldest waits for its backoff
    batch = outbox.claim_batch(store, limit=3)
    assert [e.id for e in batch] == ids[1:4] and {e.state for e in batch} == {"in_flight"}
    assert {e.attempts for e in batch} == {1}
    size = len(outbox.get_entry(store, ids[4]).payload_bytes)
    assert [e.id for e in outbox.claim_batch(store, limit=5, max_bytes=size)] == [ids[4]]
    assert [e.id for e in outbox.claim_batch(store, limit=5, max_bytes=1)] == [ids[5]]  # one always goes
    assert outbox.claim_batch(store, limit=5) == []
    assert [e.id for e in outbox.claim_batch(store, limit=5, ignore_backoff=True)] == [ids[0]]
    with pytest.raises(ValueError):
        outbox.claim_batch(store, limit=0)


def test_batch_transitions_leave_entries_another_process_moved(store):
    ids = sessions(store, 3)
    outbox.claim_batch(store, limit=3)
    outbox.mark_sent(store, ids[0])  # confirmed elsewhere meanwhile
    assert outbox.release_many(store, ids, "HTTP 503", delay=30) == 2
    assert [outbox.get_entry(store, i).state for i in ids] == ["sent", "pending", "pending"]
    outbox.claim_batch(store, limit=3)
    outbox.unclaim(store, [ids[2]])  # deferred to the next batch: attempt not counted
    assert (outbox.get_entry(store, ids[2]).state, outbox.get_entry(store, ids[2]).attempts) == ("pending", 1)
    assert outbox.mark_sent_many(store, ids) == 2
    assert store.outbox_counts()["sent"] == 3


# -- merge ----------------------------------------------------------------------------------------------------------

def test_single_session_is_sent_as_its_frozen_bytes(store):
    (oid,) = sessions(store, 1)
    entry = outbox.get_entry(store, oid)
    batch = batching.merge([entry])
    assert batch.body == entry.payload_bytes
    assert (batch.entry_count, dict(batch.positions)) == (4, {oid: (0, 1, 2, 3)})  # Patient, Obs, Encounter, Device


def test_merge_shares_the_patient_entry_and_keeps_observation_full_urls_distinct(store):
    patient_id, _, first = closed_session(store, value="36.90")
    _, _, second = closed_session(store, patient_id=patient_id, value="38.20")
    _, _, third = closed_session(store, family_name="Autre")
    entries = [outbox.get_entry(store, i) for i in (first, second, third)]
    batch = batching.merge(entries)
    bundle = fhir.loads(batch.body)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    # 2 patients + 3 observations + 3 encounters + the thermometer's Device, shared by the three sessions
    assert len(urls) == len(set(urls)) == batch.entry_count == 9
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == \
        ["Patient", "Observation", "Encounter", "Device", "Observation", "Encounter", "Patient", "Observation",
         "Encounter"]
    assert batch.positions[first] == (0, 1, 2, 3) and batch.positions[second] == (0, 4, 5, 3)  # Patient shared
    assert batch.positions[third] == (6, 7, 8, 3)
    assert bundle["type"] == "transaction" and batch.deferred == ()
    assert b'"value":36.90' in batch.body  # decimals keep their digits through the merge
    # every entry of the merged bundle is byte-identical to the one frozen in its session
    for entry in entries:
        frozen = fhir.loads(entry.payload)["entry"]
        assert [fhir.dumps(bundle["entry"][i]) for i in batch.positions[entry.id]] == [fhir.dumps(e) for e in frozen]
    # the frozen payloads themselves are untouched
    assert [outbox.get_entry(store, e.id).payload for e in entries] == [e.payload for e in entries]


def test_same_full_url_with_other_content_is_deferred_to_the_next_batch(store):
    patient_id, _, first = closed_session(store)
    _, _, second = closed_session(store, patient_id=patient_id, value="38.00")
    _, _, third = closed_session(store, family_name="Autre")
    a, b, c = (outbox.get_entry(store, i) for i in (first, second, third))
    edited = fhir.loads(b.payload)
    edited["entry"][0]["resource"]["name"][0]["family"] = "Nom-Corrigé"  # identity edited between two sessions
    b = outbox.OutboxEntry(**{**b.__dict__, "payload": fhir.dumps(edited)})
    batch = batching.merge([a, b, c])
    assert batch.ids == [first, third] and [e.id for e in batch.deferred] == [second]


def test_response_mapping_needs_every_entry_of_a_session(store):
    patient_id, _, first = closed_session(store)
    _, _, second = closed_session(store, patient_id=patient_id, value="38.00")
    _, _, third = closed_session(store, family_name="Autre")
    batch = batching.merge([outbox.get_entry(store, i) for i in (first, second, third)])
    statuses, problem = batching.response_statuses(
        {"resourceType": "Bundle", "type": "transaction-response",
         "entry": [{"response": {"status": s}} for s in ("200 OK", "201 Created", "201", "200 OK",
                                                         "400 Bad Request", "201", "201", "201", "201")]},
        batch.entry_count)  # the second session's Observation refused
    assert problem is None
    assert batching.confirmed_sessions(batch, statuses) == [first, third]
    assert batching.response_statuses({"resourceType": "Bundle", "type": "transaction-response", "entry": []},
                                      5)[0] is None


def test_partial_answer_marks_sent_only_the_fully_confirmed_sessions(store):
    first, second, third = sessions(store, 3)
    bad_key = obs_key(store, second)

    def respond(request):
        bundle = json.loads(request.body)
        statuses = ["400 Bad Request" if bad_key in json.dumps(e) else "201 Created" for e in bundle["entry"]]
        return StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                                  "entry": [{"response": {"status": s}} for s in statuses]})

    with StubServer(respond) as stub:
        result = Uploader(stub.url).push(store)
    assert (result.sent, result.rejected, result.remaining, result.stopped) == (2, 0, 1, "transient")
    assert [outbox.get_entry(store, i).state for i in (first, second, third)] == ["sent", "pending", "sent"]


# -- batches through the uploader ----------------------------------------------------------------------------------

def test_a_backlog_goes_several_sessions_per_request(store):
    ids = sessions(store, 45)
    with StubServer(transaction_response) as stub:
        result = Uploader(stub.url, token="tok", batch_size=20).push(store)
    assert (result.sent, result.remaining, result.requests) == (45, 0, 3)
    # per session Patient, Observation, Encounter; the thermometer's Device once per request
    assert [len(json.loads(r.body)["entry"]) for r in stub.requests] == [61, 61, 16]
    for request in stub.requests:
        assert request.headers["Content-Encoding"] == "gzip" and request.headers["Authorization"] == "Bearer tok"
        assert gzip.decompress(request.wire_body) == request.body
    assert {outbox.get_entry(store, i).state for i in ids} == {"sent"}
    assert {outbox.get_entry(store, i).attempts for i in ids} == {1}


def test_the_byte_cap_limits_a_batch(store):
    sessions(store, 6)
    size = len(outbox.entries(store)[0].payload_bytes)
    with StubServer(transaction_response) as stub:
        result = Uploader(stub.url, batch_size=20, max_batch_bytes=int(size * 2.5)).push(store)
    assert (result.sent, result.requests) == (6, 3)


def test_bisect_isolates_one_bad_session_among_many(store):
    ids = sessions(store, 16)
    bad = ids[11]
    bad_key = obs_key(store, bad).encode()

    def respond(request):
        return StubResponse(400, OUTCOME_400) if bad_key in request.body else transaction_response(request)

    with StubServer(respond) as stub:
        result = Uploader(stub.url, batch_size=16).push(store)
    assert (result.sent, result.rejected, result.remaining, result.stopped) == (15, 1, 0, None)
    # log2(16) levels, two requests each at most, plus one: the very first refusal came before the server was seen
    # reading gzip, so that body was tried once more plain before being judged; and one for the resident of the
    # refused session, who goes up on their own (sync.residents)
    assert result.requests <= 2 + 2 * 4 + 1 and result.residents == 1
    rejected = outbox.get_entry(store, bad)
    assert rejected.state == "rejected" and "Observation.value is absurd" in rejected.last_error
    # the bad session was finally sent alone, as its own frozen bytes
    assert stub.requests[-1].body == rejected.payload_bytes or any(
        r.body == rejected.payload_bytes for r in stub.requests)
    assert {outbox.get_entry(store, i).state for i in ids if i != bad} == {"sent"}


def test_a_transient_failure_during_bisect_keeps_everything_unsent_queued(store):
    ids = sessions(store, 8)
    bad_key = obs_key(store, ids[0]).encode()
    replies = []

    def respond(request):
        replies.append(1)
        if len(replies) == 3:
            return StubResponse(503, "busy", "text/plain", {"Retry-After": "30"})
        return StubResponse(400, OUTCOME_400) if bad_key in request.body else transaction_response(request)

    with StubServer(respond) as stub:
        result = Uploader(stub.url, batch_size=8).push(store)
    # 1: all 8 refused; 2: first half refused; 3: first quarter → 503: nothing is rejected, nothing lost
    assert (result.sent, result.rejected, result.remaining, result.stopped) == (0, 0, 8, "transient")
    assert store.outbox_counts() == {"pending": 8, "in_flight": 0, "sent": 0, "rejected": 0}
    with StubServer(lambda r: StubResponse(400, OUTCOME_400) if bad_key in r.body else transaction_response(r)) as s2:
        again = Uploader(s2.url, batch_size=8).push(store, ignore_backoff=True)
    assert (again.sent, again.rejected, again.remaining) == (7, 1, 0)


def test_bisect_on_the_real_server_with_a_deliberately_invalid_session(store, server):
    ids = sessions(store, 12)
    # one more session whose frozen payload the server must refuse: the ifNoneExist written as a URL
    patient_id = store.add_patient(family_name="Invalide", given_name="Zoé", birth_date="1940-01-01", sex="F",
                                   birth_place_insee="75056")
    session_id = store.open_session(patient_id)
    store.add_measurement(session_id, code="8310-5", value="37.10", unit="Cel",
                          received_at="2024-05-01T08:00:00+00:00")
    good = fhir.session_bundle(store.get_patient(patient_id), {**store.get_session(session_id)},
                               store.measurements(session_id))
    good["entry"][1]["request"]["ifNoneExist"] = "Observation?" + good["entry"][1]["request"]["ifNoneExist"]
    with store.transaction():
        store.conn.execute("UPDATE sessions SET state = 'closed', closed_at = ? WHERE id = ?",
                           ["2024-05-01T08:01:00+00:00", session_id])
        store.conn.execute("INSERT INTO outbox (id, session_id, idempotency_key, payload, state, attempts, created_at)"
                           " VALUES ('bad-entry', ?, ?, ?, 'pending', 0, '2024-05-01T08:01:00+00:00')",
                           [session_id, store.get_session(session_id)["idempotency_key"], fhir.dumps(good)])
    ids.append("bad-entry")
    ids.extend(sessions(store, 3, start=12, value="36.40"))
    result = Uploader(server.url, batch_size=8).push(store)
    assert (result.sent, result.rejected, result.remaining) == (15, 1, 0)
    bad = outbox.get_entry(store, "bad-entry")
    assert bad.state == "rejected" and "query part" in bad.last_error
    found = requests.get(f"{server.url}/Observation", timeout=10).json()["entry"]
    keys = {outbox.get_entry(store, i).idempotency_key for i in ids if i != "bad-entry"}
    stored = [o["resource"]["identifier"][0]["value"].split("/obs/")[0] for o in found]
    assert keys <= set(stored) and len([k for k in stored if k in keys]) == 15  # each good one exactly once
    assert good["entry"][1]["resource"]["identifier"][0]["value"].split("/obs/")[0] not in stored


def test_an_auth_failure_releases_the_whole_batch(store):
    sessions(store, 5)
    with StubServer(StubResponse(401, {"resourceType": "OperationOutcome", "issue": []})) as stub:
        result = Uploader(stub.url).push(store)
    assert (result.sent, result.rejected, result.remaining, result.stopped, result.requests) == (0, 0, 5, "auth", 1)
    assert store.outbox_counts()["pending"] == 5


# -- gzip ------------------------------------------------------------------------------------------------------------

def test_server_takes_gzip_and_plain_bodies(server, store):
    first, second = sessions(store, 2, value="36.70")
    plain = outbox.get_entry(store, first).payload_bytes
    zipped = outbox.get_entry(store, second).payload_bytes
    headers = {"Content-Type": "application/fhir+json"}
    assert requests.post(server.url, data=plain, headers=headers, timeout=10).status_code == 200
    reply = requests.post(server.url, data=gzip.compress(zipped), headers={**headers, "Content-Encoding": "gzip"},
                          timeout=10)
    assert reply.status_code == 200 and reply.json()["type"] == "transaction-response"
    broken = requests.post(server.url, data=gzip.compress(zipped)[:-9],
                           headers={**headers, "Content-Encoding": "gzip"}, timeout=10)
    assert broken.status_code == 400 and broken.json()["resourceType"] == "OperationOutcome"
    other = requests.post(server.url, data=zipped, headers={**headers, "Content-Encoding": "br"}, timeout=10)
    assert other.status_code == 415


def test_server_replies_gzip_when_the_client_accepts_it(server, store):
    sessions(store, 5, start=15)
    assert Uploader(server.url).push(store).sent == 5
    zipped = requests.get(f"{server.url}/Observation", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert zipped.headers.get("Content-Encoding") == "gzip"
    assert zipped.json()["resourceType"] == "Bundle"
    plain = requests.get(f"{server.url}/Observation", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in plain.headers and plain.json()["entry"] == zipped.json()["entry"]
    small = requests.get(f"{server.url}/Patient/unknown", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert "Content-Encoding" not in small.headers  # not worth it under 1 KB


def test_a_server_refusing_gzip_gets_plain_bodies(store):
    sessions(store, 2)

    def respond(request):
        if request.headers.get("Content-Encoding") == "gzip":
            return StubResponse(415, {"resourceType": "OperationOutcome", "issue": [{"diagnostics": "no gzip"}]})
        return transaction_response(request)

    with StubServer(respond) as stub:
        uploader = Uploader(stub.url)
        result = uploader.push(store)
    assert (result.sent, result.rejected, result.requests) == (2, 0, 2)
    assert uploader.gzip is False and "Content-Encoding" not in stub.requests[-1].headers


# -- Retry-After -----------------------------------------------------------------------------------------------------

def test_parse_retry_after():
    now = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Wed, 01 May 2024 08:02:00 GMT", now=now) == 120.0
    assert parse_retry_after("Wed, 01 May 2024 07:00:00 GMT", now=now) == 0.0  # already past
    # a date is read against the server's Date header, not the (possibly wrong) tablet clock
    assert parse_retry_after("Wed, 01 May 2024 08:02:00 GMT", now=now + dt.timedelta(hours=3),
                             server_date="Wed, 01 May 2024 08:01:30 GMT") == 30.0
    for garbage in (None, "", "soon", "-5", "1.5", "Wed, 99 Foo 2024"):
        assert parse_retry_after(garbage, now=now) is None, garbage
    rng = random.Random(3)
    assert all(120 <= retry_delay(120, rng) <= 132 for _ in range(100))
    assert retry_delay(86_400, rng) == RETRY_AFTER_CAP_SECONDS


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_sets_when_the_entry_is_due(store, clock, status, form):
    """The tablet's clock (the store's, here in 2024) disagrees with the server's Date header (now): the wait is
    still the 120 s the server meant."""
    ids = sessions(store, 2)
    header = "120" if form == "seconds" else email.utils.format_datetime(
        dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=121), usegmt=True)
    reply = StubResponse(status, "busy", "text/plain", {"Retry-After": header})
    with StubServer(reply) as stub:
        result = Uploader(stub.url).push(store)
    assert (result.sent, result.remaining, result.stopped, result.requests) == (0, 2, "transient", 1)
    for entry_id in ids:
        due = dt.datetime.fromisoformat(outbox.get_entry(store, entry_id).next_attempt_at)
        assert clock.now + dt.timedelta(seconds=119) <= due <= clock.now + dt.timedelta(seconds=135)
    assert outbox.claim_batch(store, limit=5) == []  # not due before then


def test_retry_after_is_what_the_pass_sleeps_between_tries(store):
    sessions(store, 1)
    replies = iter([StubResponse(503, "", "text/plain", {"Retry-After": "7"})])
    slept = []
    with StubServer(lambda r: next(replies, None) or transaction_response(r)) as stub:
        uploader = Uploader(stub.url)
        uploader._sleep = slept.append
        result = uploader.push(store, max_attempts_per_entry=2, ignore_backoff=True)
    assert (result.sent, result.remaining) == (1, 0)
    assert len(slept) == 1 and 7 <= slept[0] <= 7.7


# -- offline ---------------------------------------------------------------------------------------------------------

def test_offline_costs_one_attempt_then_nothing_until_the_backoff_expires(store, clock):
    sessions(store, 30)
    posts = []

    class Offline(requests.Session):
        def post(self, url, **kwargs):
            posts.append(kwargs)
            raise requests.ConnectionError("network unreachable")

    uploader = Uploader("https://fhir.example.org/fhir", http=Offline(), token="tok")
    first = uploader.push(store)
    assert (first.sent, first.remaining, first.stopped, first.requests) == (0, 30, "transient", 1)
    for _ in range(20):  # the background loop comes back: the network failed, so no request at all
        again = uploader.push(store)
        assert (again.requests, again.stopped, again.remaining) == (0, "backoff", 30)
    assert len(posts) == 1
    assert posts[0]["verify"] is True and posts[0]["headers"]["Authorization"] == "Bearer tok"
    tried = [e for e in outbox.entries(store) if e.attempts]
    assert len(tried) == 20 and len({e.next_attempt_at for e in tried}) == 1  # the batch stays due together
    clock.now += dt.timedelta(seconds=outbox.BACKOFF_BASE_SECONDS + 0.001)
    assert uploader.push(store).requests == 1
    assert len(posts) == 2


def test_a_conditional_update_is_referred_to_by_its_own_query():
    """A part sent after the Encounter's conditional update refers to it by its query when the server gave no
    location (FHIR R4 conditional reference)."""
    put = {"fullUrl": "urn:uuid:e", "resource": {"resourceType": "Encounter"},
           "request": {"method": "PUT", "url": "Encounter?identifier=urn:s|k"}}
    post = {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient"},
            "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:s|p"}}
    assert batching.conditional_reference(put) == "Encounter?identifier=urn:s|k"
    assert batching.conditional_reference(post) == "Patient?identifier=urn:s|p"
