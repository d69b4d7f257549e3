"""sync.ids: the store's new ids, sessions' idempotency keys included, sort in the order they were made (their rows
and the server's identifier index entries are appended, not scattered) and stay version 7 UUIDs, unique."""
from __future__ import annotations

import time
import uuid

from sync.ids import new_id
from tests.support.samples import SAMPLE_TRAITS


def test_ids_sort_in_the_order_they_are_made_and_are_unique_version_7_uuids():
    made = []
    for _ in range(5):
        made.append([new_id() for _ in range(200)])
        time.sleep(0.002)
    for earlier, later in zip(made, made[1:]):
        assert max(earlier) < min(later)
    ids = [i for group in made for i in group]
    assert len(set(ids)) == len(ids)
    assert {uuid.UUID(i).version for i in ids} == {7} and {uuid.UUID(i).variant for i in ids} == {uuid.RFC_4122}
    assert all(str(uuid.UUID(i)) == i for i in ids)


def test_sessions_opened_one_after_another_have_keys_in_that_order(store):
    patient = store.add_patient(**SAMPLE_TRAITS)
    sessions = []
    for _ in range(8):  # random keys would come in this order once in 40,320 tries
        session_id = store.open_session(patient)
        sessions.append(store.get_session(session_id))
        store.abandon_session(session_id)
        time.sleep(0.002)
    keys = [s["idempotency_key"] for s in sessions]
    assert keys == sorted(keys) and [s["id"] for s in sessions] == sorted(s["id"] for s in sessions)
