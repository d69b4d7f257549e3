"""The development FHIR server as a real subprocess: conditional creates store exactly once, transactions are
all-or-nothing, references are rewritten, the token is enforced, the HTML page escapes, logs hold no patient data."""
from __future__ import annotations

import json
import threading

import pytest
import requests

from sync import fhir, outbox
from sync.uploader import Uploader
from tests.support.samples import closed_session
from tests.support.servers import DevServer

FHIR = {"Content-Type": "application/fhir+json"}


def search(url, rtype, **params):
    reply = requests.get(f"{url}/{rtype}", params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    return [e["resource"] for e in body.get("entry", [])]


def by_identifier(url, rtype, system, value):
    return search(url, rtype, identifier=f"{system}|{value}")


def post(url, payload, **kw):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return requests.post(url, data=data, headers={**FHIR, **kw.pop("headers", {})}, timeout=10, **kw)


def patient_entry(family="Test", pid="p-1"):
    system = fhir.PATIENT_ID_SYSTEM
    return {"fullUrl": f"urn:uuid:{fhir.resource_uuid(system, pid)}",
            "resource": {"resourceType": "Patient", "identifier": [{"system": system, "value": pid}],
                         "name": [{"family": family, "given": ["X"]}]},
            "request": {"method": "POST", "url": "Patient", "ifNoneExist": fhir.if_none_exist(system, pid)}}


def test_metadata_is_a_capability_statement(server):
    reply = requests.get(f"{server.url}/metadata", timeout=10)
    assert reply.status_code == 200
    assert reply.json()["resourceType"] == "CapabilityStatement"
    assert reply.json()["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in reply.json()["rest"][0]["resource"]}
    # what the doctors' application and the tablets exchange around a session is declared too
    assert {"status", "encounter", "patient"} <= {p["name"] for p in resources["Task"]["searchParam"]}
    assert resources["ClinicalImpression"]["conditionalUpdate"] is True


def test_upload_once_stores_one_patient_and_one_observation(server, store):
    patient_id, session_id, oid = closed_session(store)
    result = Uploader(server.url).push(store)
    assert (result.sent, result.rejected, result.remaining) == (1, 0, 0)
    assert store.session_sync_state(session_id) == "sent"
    [patient] = by_identifier(server.url, "Patient", fhir.PATIENT_ID_SYSTEM, patient_id)
    key = store.get_session(session_id)["idempotency_key"]
    [obs] = by_identifier(server.url, "Observation", fhir.OBSERVATION_ID_SYSTEM, f"{key}/obs/1-8310-5")
    assert obs["subject"] == {"reference": f"Patient/{patient['id']}"}  # urn:uuid rewritten to the server id
    assert search(server.url, "Observation", patient=patient["id"]) == [obs]
    assert search(server.url, "Observation", subject=f"Patient/{patient['id']}") == [obs]
    read = requests.get(f"{server.url}/Observation/{obs['id']}", timeout=10)
    assert read.status_code == 200 and '"value":37.60' in read.text  # precision kept on the server


def test_same_upload_twice_stores_nothing_new(server, store):
    patient_id, session_id, oid = closed_session(store)
    payload = outbox.get_entry(store, oid).payload_bytes
    first = post(server.url, payload)
    assert first.status_code == 200
    # Patient, Observation, Encounter created; the thermometer's Device may already be there (shared server)
    statuses = [e["response"]["status"] for e in first.json()["entry"]]
    assert statuses[:3] == ["201 Created"] * 3 and statuses[3] in ("201 Created", "200 OK")
    again = post(server.url, payload)  # the reply was lost: the very same bytes again
    assert again.status_code == 200
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 4
    assert [e["response"]["location"] for e in again.json()["entry"]] == \
        [e["response"]["location"] for e in first.json()["entry"]]
    [patient] = by_identifier(server.url, "Patient", fhir.PATIENT_ID_SYSTEM, patient_id)
    assert len(search(server.url, "Observation", patient=patient["id"])) == 1
    # a second session for the same patient: the Patient and the Device are matched, its new Observation (and
    # Encounter) point to them
    closed_session(store, patient_id=patient_id, value="38.20")
    for entry in outbox.entries(store, "pending"):
        if entry.id != oid:
            reply = post(server.url, entry.payload_bytes)
            assert [e["response"]["status"] for e in reply.json()["entry"]] == \
                ["200 OK", "201 Created", "201 Created", "200 OK"]
    assert len(by_identifier(server.url, "Patient", fhir.PATIENT_ID_SYSTEM, patient_id)) == 1
    values = sorted(o["valueQuantity"]["value"] for o in search(server.url, "Observation", patient=patient["id"]))
    assert values == [37.6, 38.2]


def test_concurrent_identical_uploads_store_exactly_once(server, store):
    patient_id, _, oid = closed_session(store, family_name="Concurrent")
    payload = outbox.get_entry(store, oid).payload_bytes
    statuses, barrier = [], threading.Barrier(6)

    def send():
        barrier.wait()
        statuses.append(post(server.url, payload).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 6
    [patient] = by_identifier(server.url, "Patient", fhir.PATIENT_ID_SYSTEM, patient_id)
    assert len(search(server.url, "Observation", patient=patient["id"])) == 1


@pytest.mark.parametrize("mutate,expected", [
    (lambda b: b.update(resourceType="Patient"), "resourceType"),
    (lambda b: b.update(type="batch"), "transaction"),
    (lambda b: b["entry"][1]["request"].update(method="DELETE"), "POST"),
    (lambda b: b["entry"][1]["request"].update(method="PUT"), "conditional update"),
    (lambda b: b["entry"][1].pop("request"), "request"),
    (lambda b: b["entry"][1].pop("resource"), "resource"),
    (lambda b: b["entry"][1]["request"].update(url="Patient"), "does not match"),
    (lambda b: b["entry"][1]["request"].update(ifNoneExist="Observation?identifier=a|b"), "query part"),
    (lambda b: b["entry"][1]["request"].update(ifNoneExist="name=x"), "identifier=system|value"),
    (lambda b: b["entry"][1]["resource"]["subject"].update(reference="urn:uuid:00000000-0000-0000-0000-000000000000"),
     "resolve"),
])
def test_malformed_bundle_is_refused_and_nothing_is_stored(server, store, mutate, expected):
    patient_id, _, oid = closed_session(store)
    bundle = json.loads(outbox.get_entry(store, oid).payload)
    mutate(bundle)
    reply = post(server.url, bundle)
    assert reply.status_code == 400
    body = reply.json()
    assert body["resourceType"] == "OperationOutcome"
    assert expected in body["issue"][0]["diagnostics"]
    # the Patient entry was fine, but the transaction is all or nothing
    assert by_identifier(server.url, "Patient", fhir.PATIENT_ID_SYSTEM, patient_id) == []


@pytest.mark.parametrize("body,content_type,status", [
    (b"not json", "application/fhir+json", 400),
    (b"[1, 2]", "application/fhir+json", 400),
    (b"<html></html>", "text/html", 415),
])
def test_unparseable_bodies(server, body, content_type, status):
    reply = requests.post(server.url, data=body, headers={"Content-Type": content_type}, timeout=10)
    assert reply.status_code == status
    assert reply.json()["resourceType"] == "OperationOutcome"


def test_read_unknown_resource_is_404(server):
    reply = requests.get(f"{server.url}/Patient/does-not-exist", timeout=10)
    assert reply.status_code == 404 and reply.json()["resourceType"] == "OperationOutcome"
    assert requests.get(f"{server.url}/Patient", params={"name": "x"}, timeout=10).status_code == 400


def test_the_root_leads_to_the_doctors_sign_in(server):
    """`/` is no longer a page of patient data: it sends the browser to the doctors' application, which asks for a
    signed-in doctor first (tests/server/doctors)."""
    reply = requests.get(server.url.removesuffix("/fhir") + "/", timeout=10, allow_redirects=False)
    assert reply.status_code == 303 and reply.content == b""
    signin = requests.get(reply.headers["Location"], timeout=10)
    assert signin.status_code == 200 and signin.url.endswith("/signin") and "Connexion des médecins" in signin.text


def test_logs_hold_no_patient_data(server, store):
    patient_id, _, _ = closed_session(store, family_name="Confidentiel", given_name="Secret",
                                      birth_date="1931-07-14", value="36.95")
    Uploader(server.url).push(store)
    [patient] = search(server.url, "Patient", identifier=f"{fhir.PATIENT_ID_SYSTEM}|{patient_id}")
    log = server.log_text()
    assert "POST /fhir 200" in log  # requests are logged…
    for secret in ("Confidentiel", "Secret", "1931-07-14", "36.95", patient_id, "identifier="):
        assert secret not in log  # …without bodies or query strings


def test_token_is_required_when_configured(tmp_path, store):
    closed_session(store)
    with DevServer(tmp_path / "server.db", token="s3cret") as srv:
        assert requests.get(f"{srv.url}/metadata", timeout=10).status_code == 200  # capabilities stay public
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            reply = requests.get(f"{srv.url}/Patient", headers=headers, timeout=10)
            assert reply.status_code == 401
            assert reply.json()["resourceType"] == "OperationOutcome"
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        root = requests.get(srv.url.removesuffix("/fhir") + "/", timeout=10, allow_redirects=False)
        assert root.status_code == 303  # to the doctors' sign-in: no patient data without a signed-in doctor
        big = requests.post(srv.url, data=b" " * 4_000_000, headers=FHIR, timeout=10)  # refused before parsing
        assert big.status_code == 401

        no_token = Uploader(srv.url).push(store)
        assert (no_token.sent, no_token.rejected, no_token.stopped) == (0, 0, "auth")
        assert store.outbox_counts()["pending"] == 1  # an auth problem never quarantines data

        good = Uploader(srv.url, token="s3cret").push(store, ignore_backoff=True)
        assert (good.sent, good.remaining) == (1, 0)
        ok = requests.get(f"{srv.url}/Patient", headers={"Authorization": "Bearer s3cret"}, timeout=10)
        assert ok.status_code == 200 and ok.json()["total"] == 1
    assert "s3cret" not in srv.log_text()


def test_conditional_references_resolve_to_exactly_one_resource(server):
    """FHIR R4 transaction rules: `Type?identifier=…` in a reference is replaced by the one resource it matches;
    none or several fail the whole transaction."""
    assert post(server.url, {"resourceType": "Bundle", "type": "transaction",
                             "entry": [patient_entry("Conditionnel", "cond-1")]}).status_code == 200
    [patient] = by_identifier(server.url, "Patient", fhir.PATIENT_ID_SYSTEM, "cond-1")

    def observation(ref: str, ident: str) -> dict:
        return {"resourceType": "Bundle", "type": "transaction", "entry": [{
            "fullUrl": f"urn:uuid:{fhir.resource_uuid('urn:test', ident)}",
            "resource": {"resourceType": "Observation", "status": "final", "identifier": [{"system": "urn:test",
                                                                                           "value": ident}],
                         "code": {"text": "x"}, "subject": {"reference": ref}},
            "request": {"method": "POST", "url": "Observation", "ifNoneExist": f"identifier=urn:test|{ident}"}}]}

    ok = post(server.url, observation(f"Patient?{fhir.if_none_exist(fhir.PATIENT_ID_SYSTEM, 'cond-1')}", "o-c1"))
    assert ok.status_code == 200
    [stored] = search(server.url, "Observation", identifier="urn:test|o-c1")
    assert stored["subject"]["reference"] == f"Patient/{patient['id']}"
    missing = post(server.url, observation(f"Patient?{fhir.if_none_exist(fhir.PATIENT_ID_SYSTEM, 'nobody')}", "o-c2"))
    assert missing.status_code == 404 and "matches 0 resources" in missing.text
    assert search(server.url, "Observation", identifier="urn:test|o-c2") == []
