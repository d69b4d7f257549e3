"""The development server as the tablets' gatekeeper: one token per tablet bound to its sites, a brake on token
guessing, and bad or oversized input refused with a clear answer while what was stored before stays intact."""
from __future__ import annotations

import gzip
import json
import socket
import stat
import threading

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync import outbox
from sync.seed import seed_sessions
from sync.server import tablets
from sync.server.handler import base_url, make_server
from sync.server.tablets import AuthLimiter, TabletRegistry
from sync.server.outcome import FhirError
from sync.server.wire import MAX_BODY_BYTES, decode_body
from sync.store import Store
from sync.uploader import Uploader
from tests.support.servers import DevServer
from sync import closing

FHIR = {"Content-Type": "application/fhir+json"}
DEMO_FINESS = "000000018"  # sync.seed's demo EHPAD


def _pharmacy_session(store: Store) -> str:
    """A session at a pharmacy without FINESS (identified by its local site id); returns the site id."""
    site_id = store.add_site(kind="pharmacie", name="Pharmacie du Port")
    patient_id = store.add_patient(family_name="Durand", given_name="Paul", birth_date="1941-01-05", sex="M",
                                   birth_place_insee="75056")
    session_id = store.open_session(patient_id, site_id=site_id)
    store.add_measurement(session_id, code="8310-5", value="37.10", unit="Cel", source="manual")
    closing.close_session(store, session_id)
    return site_id


def _count(url: str, rtype: str, token: str) -> int:
    reply = requests.get(f"{url}/{rtype}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["total"]


def test_each_tablet_uploads_only_for_its_own_sites(tmp_path):
    ehpad, pharmacy = Store(tmp_path / "ehpad.db"), Store(tmp_path / "pharmacy.db")
    seed_sessions(ehpad, 2, seed=3)
    pharmacy_site = _pharmacy_session(pharmacy)
    registry = tmp_path / "tablets.json"
    ehpad_token = tablets.add_tablet(registry, "ehpad-1", [DEMO_FINESS])
    pharmacy_token = tablets.add_tablet(registry, "pharmacie-1", [pharmacy_site])
    text = registry.read_text()
    assert ehpad_token not in text and pharmacy_token not in text  # hashes only
    assert stat.S_IMODE(registry.stat().st_mode) == 0o600

    with DevServer(tmp_path / "server.db", tablets=registry) as server:
        # the pharmacy's tablet holds the EHPAD's token (a mix-up): refused, nothing stored, nothing lost
        wrong = Uploader(server.url, token=ehpad_token).push(pharmacy)
        assert (wrong.sent, wrong.rejected, wrong.stopped) == (0, 0, "auth")
        assert pharmacy.outbox_counts()["pending"] == 1
        assert _count(server.url, "Patient", ehpad_token) == 0
        # each with its own token: accepted, also when a session goes as several transactions whose later parts
        # point at the Organization already stored (Organization/id)
        assert Uploader(server.url, token=pharmacy_token).push(pharmacy, ignore_backoff=True).sent == 1
        split = Uploader(server.url, token=ehpad_token, max_entries=8).push(ehpad)
        assert (split.sent, split.remaining) == (2, 0)
        # each token sees its own site only
        assert _count(server.url, "Organization", ehpad_token) == 1
        assert _count(server.url, "Organization", pharmacy_token) == 1
        # a forged bundle naming the EHPAD, sent with the pharmacy's token: 403 before anything is stored
        bundle = json.loads(outbox.entries(ehpad)[0].payload)
        reply = requests.post(server.url, data=json.dumps(bundle), timeout=10,
                              headers={**FHIR, "Authorization": f"Bearer {pharmacy_token}"})
        assert reply.status_code == 403 and "not registered for" in reply.text
        # removing a lost tablet's token does not touch the other
    assert tablets.remove_tablet(registry, "pharmacie-1")
    with DevServer(tmp_path / "server.db", tablets=registry) as server:
        assert requests.get(f"{server.url}/Patient", timeout=10,
                            headers={"Authorization": f"Bearer {pharmacy_token}"}).status_code == 401
        assert _count(server.url, "Patient", ehpad_token) == 2  # its own residents, not the pharmacy's
    assert pharmacy_token not in server.log_text() and ehpad_token not in server.log_text()
    ehpad.close()
    pharmacy.close()


def test_the_tablets_command_prints_a_token_once(tmp_path, sync_cli):
    registry = tmp_path / "tablets.json"
    # each command a real process, forked from an interpreter that imported the commands once
    run = sync_cli("tablets", "add", "--file", registry, "--id", "t1", "--site", DEMO_FINESS)
    assert run.returncode == 0, run.stderr
    token = run.stdout.strip()
    assert len(token) >= 40 and TabletRegistry.load(registry).authenticate(f"Bearer {token}").id == "t1"
    assert TabletRegistry.load(registry).authenticate("Bearer nope") is None
    gone = sync_cli("tablets", "remove", "--file", registry, "--id", "t9")
    assert gone.returncode == 2 and "no tablet 't9'" in gone.stderr
    registry.write_text("{not json")
    bad = sync_cli("serve", "--port", "0", "--db", tmp_path / "s.db", "--tablets", registry)
    assert bad.returncode == 2 and "malformed" in bad.stderr


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def in_process_server(tmp_path):
    """The server in this process (so its brake's clock can be moved), still real HTTP over loopback."""
    clock = FakeClock()
    registry = tmp_path / "tablets.json"
    token = tablets.add_tablet(registry, "t1", [DEMO_FINESS])
    server = make_server("127.0.0.1", 0, tmp_path / "server.db", registry=TabletRegistry.load(registry),
                         limiter=AuthLimiter(clock))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base_url(server), token, clock
    finally:
        server.shutdown()
        server.server_close()


def test_failed_authentication_is_rate_limited(in_process_server):
    url, token, clock = in_process_server

    def get(secret: str) -> requests.Response:
        return requests.get(f"{url}/Patient", headers={"Authorization": f"Bearer {secret}"}, timeout=10)

    assert [get(f"guess-{i}").status_code for i in range(5)] == [401] * 5
    locked = get(token)  # even the right token waits: the lock-out says nothing about which guess was right
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "30"
    assert locked.json()["issue"][0]["code"] == "throttled"
    assert requests.get(f"{url}/metadata", timeout=10).status_code == 200  # capabilities stay public
    clock.now += 31
    assert [get(f"again-{i}").status_code for i in range(5)] == [401] * 5
    assert get(token).headers["Retry-After"] == "60"  # the second lock-out lasts twice as long
    clock.now += 61
    assert get(token).status_code == 200  # and a success clears the count
    assert [get(f"later-{i}").status_code for i in range(4)] == [401] * 4
    assert get(token).status_code == 200


def test_the_uploader_waits_out_a_lock_out_and_loses_nothing(in_process_server, tmp_path):
    url, token, clock = in_process_server
    with Store(tmp_path / "tablet.db") as store:
        seed_sessions(store, 1, seed=1)
        for i in range(5):
            requests.get(f"{url}/Patient", headers={"Authorization": f"Bearer x{i}"}, timeout=10)
        result = Uploader(url, token=token).push(store)
        assert result.sent == 0 and store.outbox_counts()["pending"] == 1
        clock.now += 31
        assert Uploader(url, token=token).push(store, ignore_backoff=True).sent == 1


# -- bad input --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """An open development server (no tokens) already holding one session: bad input must not disturb it."""
    path = tmp_path_factory.mktemp("fuzz")
    server = make_server("127.0.0.1", 0, path / "server.db")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = base_url(server)
    with Store(path / "tablet.db") as store:
        seed_sessions(store, 1, seed=5)
        assert Uploader(url).push(store).sent == 1
        good = json.loads(outbox.entries(store)[0].payload)
    yield url, good
    server.shutdown()
    server.server_close()


def test_decompression_is_size_limited():
    bomb = gzip.compress(b"0" * 100_000)
    assert len(bomb) < 1000
    with pytest.raises(FhirError) as too_big:
        decode_body(bomb, "gzip", limit=50_000)
    assert too_big.value.status == 413
    assert decode_body(bomb, "gzip", limit=100_000) == b"0" * 100_000
    assert decode_body(b"{}", None) == b"{}" and decode_body(b"{}", "identity") == b"{}"
    assert MAX_BODY_BYTES >= 1024 * 1024


def _holdings(url: str) -> dict[str, int]:
    return {t: requests.get(f"{url}/{t}", timeout=10).json()["total"]
            for t in ("Patient", "Observation", "Encounter", "Organization")}


def _raw_request(url: str, head: bytes, body: bytes = b"") -> bytes:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_oversized_and_broken_bodies_get_a_clear_answer(open_server):
    url, _ = open_server
    before = _holdings(url)
    # announced too large: refused from the headers, without reading the body
    answer = _raw_request(url, b"POST /fhir HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\n"
                               b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (MAX_BODY_BYTES + 1))
    assert answer.startswith(b"HTTP/1.1 413") and b"OperationOutcome" in answer
    # a gzip bomb: 1 MB on the wire, 40 MB once inflated
    bomb = gzip.compress(b" " * (2 * MAX_BODY_BYTES))
    reply = requests.post(url, data=bomb, headers={**FHIR, "Content-Encoding": "gzip"}, timeout=30)
    assert reply.status_code == 413 and "decompressed" in reply.text
    cases = [
        (b"{\"resourceType\": \"Bundle\", \"type\": \"transaction\", \"entry\": [", {}, 400),  # cut short
        (b"\xff\xfe\x00garbage", {}, 400),
        (gzip.compress(b"{}")[:-4], {"Content-Encoding": "gzip"}, 400),  # truncated gzip
        (b"{}", {"Content-Encoding": "br"}, 415),
        (json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": "nope"}).encode(), {}, 400),
        (json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [None, 3]}).encode(), {}, 400),
        (b"[" * 100_000 + b"]" * 100_000, {}, 413),  # deep nesting must not crash the parser (too costly)…
        (b"[" * 10_000 + b"]" * 10_000, {}, 400),  # (too deep)…
        (json.dumps({"resourceType": "Patient", "extension": json.loads("[" * 900 + "]" * 900)}).encode(), {},
         400),  # …nor the steps after it (this one parses, then exhausted the recursion of the copy: a 500)
    ]
    for body, headers, status in cases:
        reply = requests.post(url, data=body, headers={**FHIR, **headers}, timeout=10)
        assert reply.status_code == status, (body[:40], reply.text)
        assert reply.json()["resourceType"] == "OperationOutcome"
    # no Content-Length, a negative one
    for head in (b"POST /fhir HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\n"
                 b"Connection: close\r\n\r\n",
                 b"POST /fhir HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\nConnection: close\r\n\r\n"):
        answer = _raw_request(url, head)
        assert answer.split(b" ", 2)[1] in (b"411", b"413"), answer[:60]
    # an empty chunked body is read (and is no JSON), a malformed one is refused
    for chunks in (b"0\r\n\r\n", b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n"):
        answer = _raw_request(url, b"POST /fhir HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\n"
                                   b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks)
        assert answer.startswith(b"HTTP/1.1 400") and b"OperationOutcome" in answer, answer[:60]
    assert _holdings(url) == before


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10),
                                                                                          children, max_size=4),
                     max_leaves=20)


def _paths(value, prefix=()):
    """Every place inside a JSON value, to mutate one of them."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_bundles_never_break_the_server_nor_what_it_holds(open_server, data):
    """One random place of a real session bundle replaced by random JSON (or removed): the server answers 200
    (the change was harmless) or a 4xx OperationOutcome — never a 5xx, never a half-stored transaction."""
    url, good = open_server
    bundle = json.loads(json.dumps(good))
    places = [p for p in _paths(bundle) if p]
    where = data.draw(st.sampled_from(places))
    parent = bundle
    for key in where[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        parent.pop(where[-1])
    else:
        parent[where[-1]] = data.draw(_json)
    before = _holdings(url)
    reply = requests.post(url, data=json.dumps(bundle), headers=FHIR, timeout=10)
    assert reply.status_code == 200 or 400 <= reply.status_code < 500, reply.text
    body = reply.json()
    if reply.status_code != 200:
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["diagnostics"]
        assert _holdings(url) == before  # all or nothing
    else:
        assert body["resourceType"] == "Bundle"
