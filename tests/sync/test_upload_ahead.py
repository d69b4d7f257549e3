"""sync.upload_pass: the next batch is claimed and merged while a request is on the network, still one request at
a time, oldest first; the claim made ahead goes back untouched (its attempt not counted, no backoff) when the pass
does not send it."""
from __future__ import annotations

import json
import threading

from sync import closing, outbox
from sync.seed import seed_sessions
from sync import uploader as uploader_module
from sync.uploader import Uploader
from tests.support.http_stub import RecordedRequest, StubResponse, StubServer
from tests.support.samples import closed_session

WAIT = 10.0  # seconds a stub waits for the claim made ahead before answering anyway (never reached when it works)


def transaction_response(request: RecordedRequest) -> StubResponse:
    count = len(json.loads(request.body)["entry"])
    return StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                              "entry": [{"response": {"status": "201 Created"}} for _ in range(count)]})


def sessions(store, n):
    names = ("Alpha", "Bravo", "Charlie", "Delta")
    return [closed_session(store, family_name=name)[2] for name in names[:n]]


class Tally:
    """Things that happen in one thread, counted for another: `past(k)` is the count once it passes k (waiting at
    most WAIT seconds for it; `wait=False`: the count now)."""

    def __init__(self) -> None:
        self.items: list = []
        self.changed = threading.Condition()

    def add(self, item=None) -> None:
        with self.changed:
            self.items.append(item)
            self.changed.notify_all()

    def past(self, k: int, wait: bool = True) -> int:
        with self.changed:
            if wait:
                self.changed.wait_for(lambda: len(self.items) > k, timeout=WAIT)
            return len(self.items)


class ClaimWatch(Tally):
    """Counts the claims; `claims_while_answering(k)`, during the answer to request k: how many claims had been
    made by then (waiting for one more than the requests received so far)."""

    def __init__(self, monkeypatch) -> None:
        super().__init__()
        real = outbox.claim_batch

        def counted(*args, **kwargs):
            claimed = real(*args, **kwargs)
            self.add()
            return claimed

        monkeypatch.setattr(outbox, "claim_batch", counted)

    @property
    def claims(self) -> int:
        return len(self.items)

    def claims_while_answering(self, received: int) -> int:
        return self.past(received)


def test_the_next_batch_is_claimed_while_the_request_is_on_the_network(store, monkeypatch):
    ids = sessions(store, 3)
    watch = ClaimWatch(monkeypatch)
    seen = []

    def respond(request):
        seen.append(watch.claims_while_answering(len(seen) + 1))
        return transaction_response(request)

    with StubServer(respond) as stub:
        result = Uploader(stub.url, batch_size=1).push(store)
    assert (result.sent, result.requests, result.stopped) == (3, 3, None)
    assert seen == [2, 3, 4]  # during request k, claim k + 1 was already made (the last one found nothing)
    assert [r.body for r in stub.requests] == [outbox.get_entry(store, i).payload_bytes for i in ids]  # in order
    assert store.outbox_counts() == {"pending": 0, "in_flight": 0, "sent": 3, "rejected": 0}


def test_the_claim_made_ahead_goes_back_untouched_when_the_request_fails(store, monkeypatch):
    first, second, third = sessions(store, 3)
    watch = ClaimWatch(monkeypatch)

    def respond(request):
        watch.claims_while_answering(1)  # the next one is claimed before this answer is given
        return StubResponse(503, "busy", "text/plain")

    with StubServer(respond) as stub:
        result = Uploader(stub.url, batch_size=2).push(store)
    assert (result.sent, result.requests, result.stopped) == (0, 1, "transient")
    assert watch.claims == 2
    failed = [outbox.get_entry(store, i) for i in (first, second)]
    untouched = outbox.get_entry(store, third)
    assert all(e.state == "pending" and e.attempts == 1 and e.next_attempt_at for e in failed)
    assert (untouched.state, untouched.attempts, untouched.next_attempt_at, untouched.last_error) == (
        "pending", 0, None, None)


def test_nothing_is_left_in_flight_when_sending_raises(store, monkeypatch):
    sessions(store, 3)
    uploader = Uploader("http://127.0.0.1:9/fhir", batch_size=1)
    monkeypatch.setattr(uploader, "send", lambda batch: 1 / 0)
    try:
        uploader.push(store)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("the error inside the pass is not swallowed")
    assert store.outbox_counts()["in_flight"] == 0
    assert sorted(e.attempts for e in outbox.entries(store)) == [0, 0, 1]  # only the one tried counts a try


def test_a_batch_retried_in_the_same_pass_still_goes_before_the_claim_made_ahead(store, monkeypatch):
    first, second = sessions(store, 2)
    watch = ClaimWatch(monkeypatch)
    replies = iter([StubResponse(503, "busy", "text/plain")])

    def respond(request):
        watch.claims_while_answering(len(stub.requests))
        return next(replies, None) or transaction_response(request)

    with StubServer(respond) as stub:
        uploader = Uploader(stub.url, batch_size=1)
        uploader._sleep = lambda seconds: None
        result = uploader.push(store, max_attempts_per_entry=2, ignore_backoff=True)
    assert (result.sent, result.requests) == (2, 3)
    frozen = {outbox.get_entry(store, i).payload_bytes: i for i in (first, second)}  # one session: sent as frozen
    assert [frozen.get(r.body) for r in stub.requests] == [first, first, second]


def test_an_addendum_found_not_ready_ahead_still_goes_in_the_same_pass(store):
    """Claimed ahead while its session is on the network, an addendum is not ready yet (it waits for its session's
    answer): the pass claims again once the answer is settled, rather than ending."""
    (session_id,) = seed_sessions(store, 1, seed=21).sessions
    staff_id = store.get_session(session_id)["staff_id"]
    closing.add_addendum(store, session_id, staff_id=staff_id, text="Bilan biologique reçu : normal.")
    with StubServer(transaction_response) as stub:
        result = Uploader(stub.url).push(store)
    assert (result.sent, result.remaining, result.requests) == (2, 0, 2)
    assert [e.state for e in outbox.entries(store)] == ["sent", "sent"]


def test_the_next_body_is_compressed_while_the_request_is_on_the_network(store, monkeypatch):
    """Each body is compressed once, and the next one before this answer arrives: sent at once after it."""
    ids = sessions(store, 3)
    compressed = Tally()
    real = uploader_module._gzip

    def counted(body):
        compressed.add(body)
        return real(body)

    monkeypatch.setattr(uploader_module, "_gzip", counted)
    seen = []

    def respond(request):
        k = len(seen) + 1
        seen.append(compressed.past(k, wait=k < len(ids)))
        return transaction_response(request)

    with StubServer(respond) as stub:
        result = Uploader(stub.url, batch_size=1).push(store)
    assert (result.sent, result.requests) == (3, 3)
    assert seen == [2, 3, 3]  # while request k was answered, body k + 1 was already compressed
    payloads = [outbox.get_entry(store, i).payload_bytes for i in ids]
    assert compressed.items == payloads  # once each, in order
    assert [r.body for r in stub.requests] == payloads
    assert all(r.wire_body == real(p) for r, p in zip(stub.requests, payloads))  # sent as compressed ahead


def test_a_batch_taken_whole_is_recorded_while_the_next_request_travels(store, monkeypatch):
    """The next request leaves before the last batch is recorded as sent (one request still at a time); the last
    batch of the pass is recorded before the pass returns."""
    ids = sessions(store, 3)
    answered = Tally()
    real = outbox.mark_sent_many
    seen = []

    def recorded(store_, entry_ids, *args, **kwargs):
        k = len(seen) + 1
        seen.append(answered.past(k, wait=k < len(ids)))
        return real(store_, entry_ids, *args, **kwargs)

    def respond(request):
        answered.add(request)
        return transaction_response(request)

    monkeypatch.setattr(outbox, "mark_sent_many", recorded)
    with StubServer(respond) as stub:
        result = Uploader(stub.url, batch_size=1).push(store)
    assert (result.sent, result.requests, result.stopped) == (3, 3, None)
    assert seen == [2, 3, 3]  # batch k recorded once request k + 1 had reached the server
    assert [r.body for r in stub.requests] == [outbox.get_entry(store, i).payload_bytes for i in ids]
    assert store.outbox_counts() == {"pending": 0, "in_flight": 0, "sent": 3, "rejected": 0}


def test_a_batch_taken_whole_goes_back_to_pending_when_it_cannot_be_recorded(store, monkeypatch):
    """Recording fails (the store refuses): the pass stops with the error, nothing is left in flight, and the
    batches the server took are pending again (sent again they are matched by their identifiers, not duplicated)."""
    sessions(store, 3)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(outbox, "mark_sent_many", broken)
    with StubServer(transaction_response) as stub:
        try:
            Uploader(stub.url, batch_size=1).push(store)
        except OSError:
            pass
        else:
            raise AssertionError("the store's failure is not swallowed")
    assert len(stub.requests) == 2  # the second left before the first could not be recorded; no third
    assert store.outbox_counts() == {"pending": 3, "in_flight": 0, "sent": 0, "rejected": 0}
