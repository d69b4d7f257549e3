"""A server's transaction size limit is learned, not configured: a refusal as too large (Medplum's wording, any
413) makes the uploader send the same entries in smaller dependency-ordered transactions until one is accepted,
remembers that size for the server, and never quarantines a session for it, except a single entry that no split
can help."""
from __future__ import annotations

import json

import pytest

from sync import outbox, transaction_limits
from sync.seed import seed_sessions
from sync.transaction_limits import SizeRefusal, next_size, size_refusal
from sync.uploader import Uploader
from tests.support.http_stub import RecordedRequest, StubResponse, StubServer

STRICT = "Transaction requires strict isolation but has too many entries"
UPDATES = "Transaction contains more update operations than allowed"


def outcome(text: str, where: str = "details") -> dict:
    issue = {"severity": "error", "code": "invalid"}
    issue.update({"details": {"text": text}} if where == "details" else {"diagnostics": text})
    return {"resourceType": "OperationOutcome", "issue": [issue]}


@pytest.mark.parametrize("status, body, limit", [
    (400, outcome(STRICT), 8),
    (400, outcome(UPDATES), 50),
    (400, outcome(STRICT, "diagnostics"), 8),
    (413, None, None),
    (413, outcome("body larger than 1048576 bytes"), None),
])
def test_a_refusal_as_too_large_is_recognised_with_the_limit_its_wording_stands_for(status, body, limit):
    refusal = size_refusal(status, body)
    assert refusal is not None and refusal.limit == limit and refusal.status == status


@pytest.mark.parametrize("status, body", [
    (400, outcome("Observation.status is required")), (400, None), (422, outcome(STRICT)), (500, outcome(STRICT)),
])
def test_other_refusals_are_not_about_size(status, body):
    assert size_refusal(status, body) is None


def test_next_size_takes_the_wording_s_limit_when_it_is_smaller_else_halves():
    assert next_size(SizeRefusal(400, STRICT, 8), 15) == 8
    assert next_size(SizeRefusal(400, STRICT, 8), 8) == 4  # 8 was refused: the wording does not fit this server
    assert next_size(SizeRefusal(413, ""), 15) == 7
    assert next_size(SizeRefusal(413, ""), 2) == 1
    assert next_size(SizeRefusal(413, ""), 1) is None


def capped(limit: int, refusal: StubResponse):
    """A server taking transactions of at most `limit` entries, answering `refusal` beyond."""
    def respond(request: RecordedRequest) -> StubResponse:
        entries = json.loads(request.body)["entry"]
        if len(entries) > limit:
            return refusal
        return StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response", "entry": [
            {"response": {"status": "201 Created", "location": f"{e['request']['url']}/{n}-{len(entries)}"}}
            for n, e in enumerate(entries)]})
    return respond


def sizes(stub: StubServer) -> list[int]:
    return [len(json.loads(r.body)["entry"]) for r in stub.requests]


HTML_413 = StubResponse(413, "<html>Request Entity Too Large</html>", content_type="text/html")


def test_a_413_halves_until_accepted_and_the_size_is_kept_for_that_server(store):
    seed_sessions(store, 1, seed=5)
    (entry,) = outbox.entries(store)
    total = len(json.loads(entry.payload)["entry"])
    assert total > 8
    with StubServer(capped(4, HTML_413)) as stub:
        result = Uploader(stub.url).push(store)
        assert (result.sent, result.rejected, result.remaining) == (1, 0, 0)
        first = sizes(stub)
        assert first[0] == total and first[1] == total // 2  # refused whole, then half
        learned = transaction_limits.load(store, stub.url)
        assert learned is not None and learned <= 4 and all(n <= learned for n in first[-2:])
        assert sum(n for n in first if n <= learned) == total  # each entry accepted once
        seed_sessions(store, 1, seed=6)
        stub.requests.clear()
        again = Uploader(stub.url).push(store)  # a new uploader (the next start of the app): from the first request
        assert again.sent == 1 and max(sizes(stub)) <= learned
    assert transaction_limits.learned(store) == {stub.url: learned}


def test_medplum_s_wording_tries_eight_first_then_halves_below_it(store):
    seed_sessions(store, 1, seed=5)
    with StubServer(capped(5, StubResponse(400, outcome(STRICT)))) as stub:
        result = Uploader(stub.url).push(store)
        assert (result.sent, result.rejected) == (1, 0)
        assert sizes(stub)[1:3] == [8, 4]  # the wording's 8, refused: half of it, accepted
    assert transaction_limits.load(store, stub.url) == 4


def test_a_given_limit_is_used_instead_of_the_learned_one(store):
    seed_sessions(store, 1, seed=5)
    with StubServer(capped(8, StubResponse(400, outcome(STRICT)))) as stub:
        transaction_limits.save(store, stub.url, 2)
        assert Uploader(stub.url, max_entries=6).push(store).sent == 1
        assert max(sizes(stub)) == 6  # never the learned 2, and never refused (8 at most)


def test_a_single_entry_too_large_quarantines_only_its_session(store):
    """No split can help one entry the server finds too large: its session is refused with the server's status, the
    others flow, and nothing is learned from sizes that were never accepted."""
    seed_sessions(store, 2, seed=5)
    first, second = outbox.entries(store)
    huge_url = next(e["fullUrl"] for e in json.loads(first.payload)["entry"]
                    if e["resource"]["resourceType"] == "Observation")  # its own: not shared with the other session

    def respond(request: RecordedRequest) -> StubResponse:
        if huge_url in {e.get("fullUrl") for e in json.loads(request.body)["entry"]}:
            return HTML_413
        return capped(100, HTML_413)(request)

    with StubServer(respond) as stub:
        result = Uploader(stub.url, batch_size=1).push(store)
    assert (result.sent, result.rejected, result.remaining) == (1, 1, 0)
    assert outbox.get_entry(store, second.id).state == "sent"
    quarantined = outbox.get_entry(store, first.id)
    assert outbox.read_error(quarantined.last_error) == ("upload.too_large.entry", {"status": 413, "reason": ""})
    bodies = [json.loads(r.body)["entry"] for r in stub.requests]
    tries = [len(entries) for entries in bodies if huge_url in {e.get("fullUrl") for e in entries}]
    assert tries[-1] == 1 and tries == sorted(tries, reverse=True) and len(tries) > 2  # halved down to it alone
    assert transaction_limits.load(store, stub.url) is None  # 1 was never accepted: nothing learned
