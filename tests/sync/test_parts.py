"""A session larger than the server's transaction limit goes as several transactions in dependency order
(sync.batching.dependency_parts, Uploader(max_entries=...)), still exactly once; and a server that does not read
gzip bodies gets the same body plain before any data is quarantined."""
from __future__ import annotations

import gzip
import json

import pytest
import requests

from sync import batching, outbox
from sync.seed import seed_sessions
from sync.store import Store
from sync.uploader import Uploader
from tests.support.http_stub import StubResponse, StubServer
from tests.support.servers import DevServer


def entry(url, rtype, *refs):
    resource = {"resourceType": rtype, "identifier": [{"system": "urn:t", "value": url}]}
    if refs:
        resource["focus"] = [{"reference": r} for r in refs]
    return {"fullUrl": url, "resource": resource,
            "request": {"method": "POST", "url": rtype, "ifNoneExist": f"identifier=urn:t|{url}"}}


def test_dependency_parts_put_every_referenced_entry_in_an_earlier_or_the_same_part():
    # Composition first in the bundle, referencing everything: it must move to the end
    entries = [entry("c", "Composition", "p", "o1", "o2"), entry("o1", "Observation", "p", "e"),
               entry("p", "Patient"), entry("e", "Encounter", "p"), entry("o2", "Observation", "p", "e")]
    parts = batching.dependency_parts(entries, 2)
    assert [len(p) for p in parts] == [2, 2, 1]
    assert sorted(i for p in parts for i in p) == [0, 1, 2, 3, 4]
    where = {i: n for n, p in enumerate(parts) for i in p}
    for i, e in enumerate(entries):
        for ref in e["resource"].get("focus", []):
            j = next(k for k, x in enumerate(entries) if x["fullUrl"] == ref["reference"])
            assert where[j] <= where[i]
            if where[j] == where[i]:
                assert parts[where[i]].index(j) < parts[where[i]].index(i)
    assert parts[-1] == [0]


def test_dependency_parts_keep_the_order_when_nothing_constrains_it_and_refuse_cycles():
    entries = [entry(str(i), "Observation") for i in range(5)]
    assert batching.dependency_parts(entries, 8) == [[0, 1, 2, 3, 4]]
    assert batching.dependency_parts(entries, 1) == [[0], [1], [2], [3], [4]]
    with pytest.raises(ValueError, match="circular"):
        batching.dependency_parts([entry("a", "Observation", "b"), entry("b", "Observation", "a")], 8)
    with pytest.raises(ValueError):
        batching.dependency_parts(entries, 0)


@pytest.mark.parametrize("location, literal", [
    ("Patient/123/_history/2", "Patient/123"),
    ("Patient/123", "Patient/123"),
    ("https://fhir.example/fhir/Observation/ab-c/_history/1", "Observation/ab-c"),
    ("", None), ("123", None), ("fhir/patient/1", None),
])
def test_literal_reference_from_a_response_location(location, literal):
    assert batching.literal_reference(location) == literal


def test_rewrite_references_only_touches_references_that_were_sent():
    resource = {"subject": {"reference": "urn:uuid:p"}, "hasMember": [{"reference": "urn:uuid:o"}],
                "note": [{"text": "urn:uuid:p"}]}
    out = batching.rewrite_references(resource, {"urn:uuid:p": "Patient/9"})
    assert out == {"subject": {"reference": "Patient/9"}, "hasMember": [{"reference": "urn:uuid:o"}],
                   "note": [{"text": "urn:uuid:p"}]}
    assert resource["subject"]["reference"] == "urn:uuid:p"  # a copy: the frozen payload is never changed


class LosesReplies(requests.Session):
    """Forwards to the real server, but the reply to the POSTs numbered in `lose` never arrives (the server has
    committed): the worst case for a multi-part upload."""

    def __init__(self, lose: set[int]) -> None:
        super().__init__()
        self.lose, self.posts, self.bodies = lose, 0, []

    def post(self, url, data=None, **kw):
        self.posts += 1
        body = gzip.decompress(data) if kw.get("headers", {}).get("Content-Encoding") == "gzip" else data
        self.bodies.append(json.loads(body))
        response = super().post(url, data=data, **kw)
        if self.posts in self.lose:
            raise requests.ConnectionError("connection reset after the server committed")
        return response


def server_count(url, rtype, identifier):
    bundle = requests.get(f"{url}/{rtype}", params={"identifier": identifier}, timeout=10).json()
    return len(bundle.get("entry") or [])


def test_complete_sessions_go_in_parts_of_at_most_max_entries_and_land_exactly_once(tmp_path):
    with DevServer(tmp_path / "server.db") as server, Store(tmp_path / "tablet.db") as store:
        seed_sessions(store, 3, seed=5)
        payloads = {e.id: json.loads(e.payload) for e in outbox.entries(store)}
        sizes = [len(p["entry"]) for p in payloads.values()]
        assert min(sizes) > 8  # complete sessions: Medplum's limit really is exceeded
        http = LosesReplies(lose={2, 7})  # the 2nd part of the 1st session; a part of a later one
        uploader = Uploader(server.url, max_entries=8, http=http, batch_size=20)
        first = uploader.push(store)
        assert first.stopped == "transient" and first.sent == 0
        while (result := uploader.push(store, ignore_backoff=True)).remaining:
            assert result.stopped in (None, "transient")
        assert store.outbox_counts()["sent"] == 3
        assert all(len(b["entry"]) <= 8 for b in http.bodies)
        # every part refers to earlier parts only by the literal ids the server gave: no dangling urn:uuid
        for body in http.bodies:
            urls = {e["fullUrl"] for e in body["entry"]}
            refs = batching._references([e["resource"] for e in body["entry"]], set())
            assert all(r in urls or not r.startswith("urn:uuid:") for r in refs)
        for payload in payloads.values():
            for e in payload["entry"]:  # the Encounter is a conditional update: its query is in its url
                rtype, _, query = (e["request"]["url"] if e["request"]["method"] == "PUT" else
                                   f"{e['request']['url']}?{e['request']['ifNoneExist']}").partition("?")
                ident = query.removeprefix("identifier=")
                assert server_count(server.url, rtype, ident) == 1, ident
        # the Composition on the server points at the Observations the server holds
        composition = requests.get(f"{server.url}/Composition", timeout=10).json()["entry"][0]["resource"]
        refs = batching._references(composition, set())
        assert refs and not any(r.startswith("urn:uuid:") for r in refs)
        for ref in refs:
            assert requests.get(f"{server.url}/{ref}", timeout=10).status_code == 200, ref


def test_small_sessions_are_still_merged_up_to_the_limit(tmp_path):
    with DevServer(tmp_path / "server.db") as server, Store(tmp_path / "tablet.db") as store:
        seed_sessions(store, 6, seed=3, complete=False)
        sizes = [len(json.loads(e.payload)["entry"]) for e in outbox.entries(store)]
        http = LosesReplies(lose=set())
        result = Uploader(server.url, max_entries=8, http=http).push(store)
        assert (result.sent, result.remaining) == (6, 0)
        assert all(len(b["entry"]) <= 8 for b in http.bodies)
        assert result.requests < len(sizes) or max(sizes) > 4  # merged where two sessions fit together


OUTCOME_400 = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": "invalid", "diagnostics": "Unexpected token in JSON"}]}


def test_a_server_that_does_not_read_gzip_gets_the_body_plain_instead_of_quarantining_it(tmp_path):
    def respond(request):
        if request.headers.get("Content-Encoding") == "gzip":  # reads the raw bytes as JSON, and fails
            return StubResponse(400, OUTCOME_400)
        count = len(json.loads(request.body)["entry"])
        return StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                                  "entry": [{"response": {"status": "201 Created"}} for _ in range(count)]})

    with Store(tmp_path / "tablet.db") as store, StubServer(respond) as stub:
        seed_sessions(store, 3, seed=1, complete=False)
        uploader = Uploader(stub.url, batch_size=1)
        result = uploader.push(store)
        assert (result.sent, result.rejected) == (3, 0)
        assert uploader.gzip is False
        encodings = [r.headers.get("Content-Encoding") for r in stub.requests]
        assert encodings == ["gzip", None, None, None]  # one wasted request, then plain


def test_a_plain_refusal_after_a_gzip_one_is_the_servers_verdict(tmp_path):
    with Store(tmp_path / "tablet.db") as store, StubServer(StubResponse(400, OUTCOME_400)) as stub:
        seed_sessions(store, 1, seed=1, complete=False)
        uploader = Uploader(stub.url)
        result = uploader.push(store)
        # the session gzip then plain, and the same for the resident's own record (its only session was refused)
        assert result.rejected == 1 and len(stub.requests) == 4
        assert uploader.gzip is True  # the plain body was refused too: gzip was not the problem
        (entry,) = outbox.entries(store)
        assert "Unexpected token" in entry.last_error


def test_once_the_server_read_gzip_a_refusal_is_not_retried_plain(tmp_path):
    calls = []

    def respond(request):
        calls.append(request)
        if len(calls) == 1:
            count = len(json.loads(request.body)["entry"])
            return StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                                      "entry": [{"response": {"status": "201 Created"}} for _ in range(count)]})
        return StubResponse(400, OUTCOME_400)

    with Store(tmp_path / "tablet.db") as store, StubServer(respond) as stub:
        seed_sessions(store, 2, seed=1, complete=False)
        result = Uploader(stub.url, batch_size=1).push(store)
        # and the resident whose session was refused goes up on its own (refused once more, not retried plain)
        assert (result.sent, result.rejected) == (1, 1) and len(stub.requests) == 3
