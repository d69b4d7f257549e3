"""The live sends of an open session (sync.live) and the final bundle's conditional updates against Medplum's FHIR
engine (tests/medplum/server.mjs, every resource validated): one Encounter, one Task, each Observation once, the
final state winning over live sends that arrive after it."""
from __future__ import annotations

import json

import requests

from sync import closing, outbox
from sync.store import Store
from sync.uploader import Uploader
from tests.sync.test_medplum import LosesReplies, medplum, pytestmark  # noqa: F401 - the engine's fixture
from tests.support.live import add_reading, conclude, identifiers, open_session_with_staff


def search(url: str, rtype: str, ident: str) -> list[dict]:
    reply = requests.get(f"{url}/{rtype}", params={"identifier": ident}, timeout=30)
    assert reply.status_code == 200, reply.text
    return [e["resource"] for e in reply.json().get("entry", [])]


def test_request_live_measurements_and_close_land_once_on_medplum(medplum, tmp_path):  # noqa: F811
    with Store(tmp_path / "tablet.db") as store:
        session_id = open_session_with_staff(store)
        store.send_request(session_id, kind="teleconsultation")
        uploader = Uploader(medplum, http=LosesReplies({2, 6}))  # learns Medplum's 8 entries; two replies lost
        for n in (1, 2):
            for _ in range(5):
                if uploader.push(store, ignore_backoff=True).stopped is None:
                    break
            if n == 1:  # the request is on Medplum, waiting for a doctor
                (task,) = search(medplum, "Task", identifiers(store, session_id)["Task"])
                assert task["status"] == "requested"
            add_reading(store, session_id, n)
            store.queue_live_update(session_id)
        live_payloads = [r["payload"] for r in store.query("SELECT payload FROM live_outbox WHERE payload IS NOT NULL "
                                                           "ORDER BY rowid")]
        assert len(live_payloads) >= 2
        conclude(store, session_id)
        closing.close_session(store, session_id)
        for _ in range(10):
            if uploader.push(store, ignore_backoff=True).remaining == 0:
                break
        assert store.outbox_counts()["sent"] == 1 and store.live_counts()["rejected"] == 0
        ids = identifiers(store, session_id)
        # the live sends again, after the final bundle (a late network, a resend): still the final state
        for payload in live_payloads:
            for _ in range(5):
                if Uploader(medplum, max_entries=8).send(outbox.OutboxEntry(
                        id="late", session_id=session_id, idempotency_key="k", payload=payload, state="pending",
                        attempts=0, last_error=None, next_attempt_at=None, created_at="",
                        sent_at=None)).kind == "sent":
                    break
        (encounter,) = search(medplum, "Encounter", ids["Encounter"])
        assert encounter["status"] == "finished" and encounter["period"].get("end")
        (task,) = search(medplum, "Task", ids["Task"])
        assert task["status"] == "completed"
        (final,) = outbox.entries(store)
        observations = [e for e in json.loads(final.payload)["entry"] if e["resource"]["resourceType"] == "Observation"]
        assert len(observations) == 3
        for e in observations:
            ident = e["request"]["ifNoneExist"].removeprefix("identifier=")
            assert len(search(medplum, "Observation", ident)) == 1, ident
