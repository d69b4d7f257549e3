"""sync.outbox: oldest first, backoff, quarantine with the reason kept, and recovery after a killed upload."""
from __future__ import annotations

import datetime as dt
import random

import pytest

from sync import outbox
from sync.outbox import OutboxStateError
from sync.store import Store
from tests.support.samples import closed_session


def three_entries(store):
    return [closed_session(store, family_name=name)[2] for name in ("Alpha", "Bravo", "Charlie")]


def test_claims_oldest_first_and_counts_attempts(store):
    first, second, third = three_entries(store)
    claimed = outbox.claim_next(store)
    assert claimed.id == first and claimed.state == "in_flight" and claimed.attempts == 1
    assert store.outbox_counts() == {"pending": 2, "in_flight": 1, "sent": 0, "rejected": 0}
    outbox.mark_sent(store, first)
    assert outbox.claim_next(store).id == second
    assert outbox.claim_next(store).id == third
    assert outbox.claim_next(store) is None
    sent = outbox.get_entry(store, first)
    assert sent.state == "sent" and sent.sent_at is not None


def test_released_entry_waits_for_its_backoff(store, clock):
    first, second, _ = three_entries(store)
    entry = outbox.claim_next(store)
    delay = outbox.release(store, entry.id, "HTTP 503", delay=60)
    assert delay == 60
    released = outbox.get_entry(store, first)
    assert (released.state, released.last_error, released.attempts) == ("pending", "HTTP 503", 1)
    assert outbox.claim_next(store).id == second  # the first one is not due yet: the rest flows
    clock.advance(61)
    again = outbox.claim_next(store)
    assert again.id == first and again.attempts == 2
    assert outbox.claim_next(store, ignore_backoff=True).id != first  # already in flight, not claimed twice


def test_ignore_backoff_sends_now(store):
    (first, *_rest) = three_entries(store)
    outbox.release(store, outbox.claim_next(store).id, "timeout", delay=3600)
    assert outbox.claim_next(store, ignore_backoff=True).id == first


def test_backoff_is_exponential_with_full_jitter_and_capped():
    rng = random.Random(1)
    for attempts in range(1, 12):
        ceiling = min(outbox.BACKOFF_CAP_SECONDS, outbox.BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
        draws = [outbox.backoff_delay(attempts, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.8 * ceiling and min(draws) < 0.2 * ceiling  # spread over the whole range
    assert outbox.backoff_delay(50, rng=rng) <= outbox.BACKOFF_CAP_SECONDS


def test_default_release_delay_grows_with_attempts(store, clock):
    (first, *_rest) = three_entries(store)
    rng = random.Random(7)
    for attempts in (1, 2, 3):
        entry = outbox.claim_next(store, ignore_backoff=True)
        assert entry.id == first and entry.attempts == attempts
        delay = outbox.release(store, first, "timeout", rng=rng)
        assert 0 <= delay <= outbox.BACKOFF_BASE_SECONDS * 2 ** (attempts - 1)
        due = dt.datetime.fromisoformat(outbox.get_entry(store, first).next_attempt_at)
        assert due == clock.now + dt.timedelta(seconds=delay)


def test_rejected_keeps_the_reason_and_leaves_the_queue(store):
    first, second, _ = three_entries(store)
    outbox.mark_rejected(store, outbox.claim_next(store).id, "HTTP 400 : Observation.status is required")
    entry = outbox.get_entry(store, first)
    assert (entry.state, entry.last_error) == ("rejected", "HTTP 400 : Observation.status is required")
    assert outbox.claim_next(store).id == second
    with pytest.raises(OutboxStateError):
        outbox.mark_sent(store, first)
    outbox.requeue(store, first)
    assert outbox.get_entry(store, first).state == "pending"


def test_release_needs_an_in_flight_entry(store):
    (first, *_rest) = three_entries(store)
    with pytest.raises(OutboxStateError):
        outbox.release(store, first, "nope", delay=1)


def test_in_flight_entry_goes_back_to_pending_when_the_store_reopens(tmp_path, clock):
    path = tmp_path / "relais.db"
    store = Store(path, clock=clock)
    _, session_id, oid = closed_session(store)
    assert outbox.claim_next(store).id == oid
    store.close()  # the app was killed mid-upload
    with Store(path, clock=clock, recover_in_flight=False) as peek:
        assert peek.session_sync_state(session_id) == "in_flight"
    with Store(path, clock=clock) as reopened:
        assert reopened.session_sync_state(session_id) == "pending"
        entry = outbox.claim_next(reopened)
        assert entry.id == oid and entry.attempts == 2


def test_a_stored_diagnostic_is_a_code_with_its_parameters_read_back_as_written():
    stored = outbox.error_record("upload.rejected", status=400, reason="Patient.birthDate « invalide »")
    assert outbox.read_error(stored) == ("upload.rejected", {"status": 400, "reason": "Patient.birthDate « invalide »"})
    assert outbox.read_error(outbox.error_record("upload.deadline")) == ("upload.deadline", {})


@pytest.mark.parametrize("stored", [None, "", "HTTP 400 : Observation.status is required",
                                    "envoi interrompu (délai de la passe)", "{not json", '{"params": {}}', "[1]"])
def test_an_older_sentence_or_anything_else_is_not_read_as_a_code(stored):
    assert outbox.read_error(stored) is None


def counted_by_rows(store):
    rows = dict(store.conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    return {state: rows.get(state, 0) for state in outbox.OUTBOX_STATES}


def test_the_counts_per_state_follow_every_write_whoever_makes_it(store):
    entries = three_entries(store) + [closed_session(store, family_name=name)[2] for name in ("Delta", "Echo", "Fox")]
    assert outbox.counts(store) == counted_by_rows(store) == {"pending": 6, "in_flight": 0, "sent": 0, "rejected": 0}
    batch = outbox.claim_batch(store, limit=4)
    outbox.mark_sent_many(store, [e.id for e in batch[:2]])
    outbox.mark_rejected(store, batch[2].id, "refused")
    outbox.release(store, batch[3].id, "network", delay=0)
    assert outbox.counts(store) == counted_by_rows(store) == {"pending": 3, "in_flight": 0, "sent": 2, "rejected": 1}
    with store.transaction():   # raw SQL too: the counts are kept by triggers, not by the Python above
        store.conn.execute("UPDATE outbox SET state = 'in_flight' WHERE id = ?", [entries[-1]])
        store.conn.execute("INSERT INTO purge_queue (session_id) SELECT session_id FROM outbox WHERE state = 'sent'")
        store.conn.execute("DELETE FROM outbox WHERE state = 'sent'")   # as the retention purge does
        store.conn.execute("DELETE FROM purge_queue")
        store.conn.execute("UPDATE outbox SET attempts = attempts + 1")   # no change of state: nothing moves
    assert outbox.counts(store) == counted_by_rows(store) == {"pending": 2, "in_flight": 1, "sent": 0, "rejected": 1}
    assert outbox.counts(store, ("pending", "rejected")) == {"pending": 2, "rejected": 1}


def test_the_counts_start_from_what_a_v17_store_already_queued(tmp_path):
    from tests.support.schema import store_at

    path = tmp_path / "relais.db"
    store_at(path, 17)
    with Store(path) as upgraded:
        assert sum(counted_by_rows(upgraded).values()) >= 2
        assert outbox.counts(upgraded) == counted_by_rows(upgraded)
