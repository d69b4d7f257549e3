"""Edited residents go up in the push pass, after the sessions: a transaction of conditional updates carrying the
whole record and its field stamps; a transient failure waits with the outbox back-off and loses nothing; a
refused resident is set aside alone; a resident never edited rides up with its first session."""
from __future__ import annotations

import json

import pytest
import requests

from sync import closing, fhir
from sync.fhir.patient_fields import FIELD_STAMPS_EXTENSION, ROOM_EXTENSION
from sync.residents import MAX_RESIDENTS_PER_REQUEST, resident_transaction
from sync.store import patient_outbox
from sync.uploader import Uploader
from tests.support.http_stub import StubResponse, StubServer
from tests.support.servers import DevServer

TRAITS = dict(family_name="Démo-Tilleul", given_name="Lucette", birth_date="1935-04-02", sex="F",
              birth_place_insee="75056")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with DevServer(tmp_path_factory.mktemp("server") / "server.db") as srv:
        yield srv


def on_server(url: str, patient_id: str) -> list[dict]:
    reply = requests.get(f"{url}/Patient", params={"identifier": f"{fhir.PATIENT_ID_SYSTEM}|{patient_id}"},
                         timeout=10)
    return [e["resource"] for e in reply.json().get("entry") or ()]


def state(store, patient_id: str) -> str:
    return store.query("SELECT state FROM patient_outbox WHERE patient_id = ?", [patient_id])[0]["state"]


def answer_all(request, status: str = "200 OK") -> StubResponse:
    count = len(json.loads(request.body)["entry"])
    return StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                              "entry": [{"response": {"status": status, "etag": 'W/"7"'}} for _ in range(count)]})


def test_an_edited_resident_goes_up_as_a_conditional_update_with_its_stamps(server, store, clock):
    patient_id = store.add_patient(**TRAITS, room="12")
    result = Uploader(server.url).push(store)
    assert (result.residents, result.stopped) == (1, None) and state(store, patient_id) == "sent"
    clock.advance(60)
    store.update_patient(patient_id, room="14")
    assert Uploader(server.url).push(store).residents == 1
    [stored] = on_server(server.url, patient_id)
    assert stored["meta"]["versionId"] == "2" and store.get_patient(patient_id)["server_version"] == "2"
    assert [e["valueString"] for e in stored["extension"] if e["url"] == ROOM_EXTENSION] == ["14"]
    stamps = next(e for e in stored["extension"] if e["url"] == FIELD_STAMPS_EXTENSION)["extension"]
    assert {"url": "room", "valueInstant": store.stamp(clock.now)} in stamps


def test_the_update_is_a_put_on_the_patient_id_and_batches_stay_under_medplums_cap(store):
    ids = [store.add_patient(**{**TRAITS, "given_name": name}) for name in ("Anne", "Berthe", "Carla")]
    bundle = resident_transaction(store, ids)
    requests_ = [e["request"] for e in bundle["entry"]]
    assert requests_ == [{"method": "PUT", "url": "Patient?" + fhir.if_none_exist(fhir.PATIENT_ID_SYSTEM, i)}
                         for i in ids]
    assert MAX_RESIDENTS_PER_REQUEST + 1 <= 8  # with the site's Organization: Medplum's 8 entries


def test_a_resident_never_edited_rides_up_with_its_first_session(server, store):
    patient_id = store.add_patient(**TRAITS)
    session_id = store.open_session(patient_id)
    store.add_measurement(session_id, code="8310-5", value="37.2", unit="Cel", source="manual")
    closing.close_session(store, session_id)
    result = Uploader(server.url).push(store)
    assert (result.sent, result.residents, result.requests) == (1, 0, 1)
    assert state(store, patient_id) == "sent" and len(on_server(server.url, patient_id)) == 1


def test_a_transient_failure_keeps_the_resident_queued_with_a_backoff(store, clock):
    patient_id = store.add_patient(**TRAITS)
    with StubServer(StubResponse(503)) as stub:
        result = Uploader(stub.url).push(store)
    assert (result.residents, result.stopped) == (0, "transient")
    row = store.query("SELECT * FROM patient_outbox WHERE patient_id = ?", [patient_id])[0]
    assert (row["state"], row["attempts"]) == ("pending", 1) and row["next_attempt_at"] > store.stamp(clock.now)
    with StubServer(answer_all) as stub:
        assert Uploader(stub.url).push(store).requests == 0  # still waiting its back-off
        clock.advance(400)
        assert Uploader(stub.url).push(store).residents == 1
    assert state(store, patient_id) == "sent"


def test_a_refused_resident_is_set_aside_alone_and_the_others_go(store):
    refused_id = store.add_patient(**TRAITS)
    fine_id = store.add_patient(**{**TRAITS, "given_name": "Berthe"})

    def respond(request):
        if refused_id in request.body.decode():
            return StubResponse(422, {"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "business-rule", "diagnostics": "identity kept"}]})
        return answer_all(request)

    with StubServer(respond) as stub:
        result = Uploader(stub.url, gzip=False).push(store)
    assert (result.residents, result.stopped) == (1, None)
    assert result.requests == 3  # the two together, refused; then each alone
    assert (state(store, refused_id), state(store, fine_id)) == ("rejected", "sent")
    assert "identity kept" in store.query("SELECT last_error FROM patient_outbox WHERE patient_id = ?",
                                          [refused_id])[0]["last_error"]
    store.update_patient(refused_id, room="2")  # the next edit is tried again
    assert [q.patient_id for q in patient_outbox.due(store, limit=10)] == [refused_id]
