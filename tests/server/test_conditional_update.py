"""Conditional update on the development server (HL7 FHIR R4 RESTful API, "conditional update", in a transaction):
created without a match, replaced with a new version and a renewed lastUpdated with one, 412 with several; the
identity of a Patient stored as retrieved or qualified is kept (422); a tablet replaces only its own sites' records."""
from __future__ import annotations

import json
import time

import pytest
import requests

from sync import fhir
from sync.fhir.patient_fields import resident_resource
from sync.server import tablets
from sync.server.outcome import FhirError
from sync.server.resources import ResourceDB
from tests.support.servers import DevServer

INS = "235047505612347"  # fictitious (born 1935-04 in Paris), valid key
ROW = dict(id="p-1", family_name="Démo-Tilleul", given_name="Lucette", birth_date="1935-04-02", sex="F",
           birth_place_insee="75056", identity_status="PROV", ins=None, room="12")


def patient(**changed) -> dict:
    return resident_resource({**ROW, **changed}, {"room": "2024-05-01T08:00:00.000000+00:00"},
                             ins_system=fhir.INS_DEMO_SYSTEM)


def put(resource: dict, patient_id: str = "p-1") -> dict:
    return {"resource": resource, "request": {"method": "PUT", "url": "Patient?" + fhir.if_none_exist(
        fhir.PATIENT_ID_SYSTEM, patient_id)}}


def transaction(*entries) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


@pytest.fixture
def db(tmp_path):
    return ResourceDB(tmp_path / "server.db")


def test_two_updates_of_one_resource_in_one_transaction_are_refused_and_nothing_is_stored(db):
    """FHIR R4 transaction processing: entries whose resolved identities overlap fail the whole transaction."""
    for existing in (False, True):
        if existing:
            db.transaction(transaction(put(patient())))
        with pytest.raises(FhirError) as refused:
            db.transaction(transaction(put(patient(room="14")), put(patient(room="15"))))
        assert refused.value.status == 400 and "earlier entry" in refused.value.diagnostics
        stored = db.search("Patient", [])
        assert len(stored) == (1 if existing else 0)
        assert all(p["meta"]["versionId"] == "1" for p in stored)


def test_no_match_creates_then_one_match_is_replaced_with_a_new_version(db):
    created = db.transaction(transaction(put(patient())))["entry"][0]["response"]
    assert created["status"].startswith("201") and created["etag"] == 'W/"1"'
    resource_id = created["location"].split("/")[1]
    first = db.read("Patient", resource_id)
    time.sleep(0.002)
    updated = db.transaction(transaction(put(patient(room="14"))))["entry"][0]["response"]
    assert updated["status"].startswith("200") and updated["location"] == f"Patient/{resource_id}/_history/2"
    stored = db.read("Patient", resource_id)
    assert stored["meta"]["versionId"] == "2" and stored["meta"]["lastUpdated"] > first["meta"]["lastUpdated"]
    assert [e["valueString"] for e in stored["extension"] if e["url"].endswith("/room")] == ["14"]
    assert db.counts() == {"Patient": 1}
    # the same update again (a retry after a lost reply): still one Patient, and no new version
    again = db.transaction(transaction(put(patient(room="14"))))["entry"][0]["response"]
    assert again["location"] == f"Patient/{resource_id}/_history/2"
    assert db.counts() == {"Patient": 1} and db.read("Patient", resource_id) == stored


def test_several_matches_are_refused_with_412(db):
    for _ in range(2):  # two records carrying the same identifier, as a faulty client could make them
        db.transaction(transaction({"resource": patient(), "request": {"method": "POST", "url": "Patient"}}))
    with pytest.raises(FhirError) as refused:
        db.transaction(transaction(put(patient(room="3"))))
    assert refused.value.status == 412


def test_the_identity_of_a_qualified_patient_is_kept(db):
    db.transaction(transaction(put(patient(identity_status="QUAL", ins=INS))))
    with pytest.raises(FhirError) as refused:
        db.transaction(transaction(put(patient(identity_status="QUAL", ins=INS, family_name="Autre"))))
    assert refused.value.status == 422 and refused.value.code == "business-rule"
    with pytest.raises(FhirError):
        db.transaction(transaction(put(patient(identity_status="PROV"))))
    db.transaction(transaction(put(patient(identity_status="QUAL", ins=INS, room="5"))))  # not an identity trait


def test_a_retrieved_identity_may_be_qualified_by_an_update(db):
    db.transaction(transaction(put(patient(identity_status="RECUP"))))
    reply = db.transaction(transaction(put(patient(identity_status="QUAL", ins=INS, given_name="Lucie"))))
    assert reply["entry"][0]["response"]["status"].startswith("200")


def test_a_put_must_carry_the_identifier_it_is_found_by(db):
    with pytest.raises(FhirError) as refused:
        db.transaction(transaction(put(patient(), patient_id="p-2")))
    assert refused.value.status == 400 and "identifier" in refused.value.diagnostics


def test_a_tablet_replaces_only_its_own_sites_records(tmp_path):
    registry = tmp_path / "tablets.json"
    mine = tablets.add_tablet(registry, "ehpad-1", ["site-a"])
    theirs = tablets.add_tablet(registry, "ehpad-2", ["site-b"])
    organization = {"resourceType": "Organization", "identifier": [{"system": fhir.SITE_ID_SYSTEM, "value": "site-b"}]}
    with DevServer(tmp_path / "server.db", tablets=registry) as server:
        def send(token: str, resource: dict) -> requests.Response:
            org = {"fullUrl": "urn:uuid:7c1c2f4e-0000-4000-8000-000000000001", "resource": organization,
                   "request": {"method": "POST", "url": "Organization",
                               "ifNoneExist": fhir.if_none_exist(fhir.SITE_ID_SYSTEM, "site-b")}}
            return requests.post(server.url, data=json.dumps(transaction(org, put(resource))), timeout=10,
                                 headers={"Content-Type": "application/fhir+json", "Authorization": f"Bearer {token}"})

        managed = {**patient(), "managingOrganization": {"reference": "urn:uuid:7c1c2f4e-0000-4000-8000-000000000001"}}
        assert send(theirs, managed).status_code == 200
        # the other site's tablet tries to take the record over, with no organization of its own in the bundle
        reply = requests.post(server.url, data=json.dumps(transaction(put(patient(room="9")))), timeout=10,
                              headers={"Content-Type": "application/fhir+json", "Authorization": f"Bearer {mine}"})
        assert reply.status_code == 403
        stored = requests.get(f"{server.url}/Patient", headers={"Authorization": f"Bearer {theirs}"}, timeout=10)
        [entry] = stored.json()["entry"]
        assert [e["valueString"] for e in entry["resource"]["extension"] if e["url"].endswith("/room")] == ["12"]


def test_an_updated_resource_is_found_by_what_it_says_now(db):
    db.transaction(transaction(put({**patient(), "managingOrganization": {"reference": "Organization/site-a"}})))
    db.transaction(transaction(put({**patient(), "managingOrganization": {"reference": "Organization/site-b"}})))
    assert db.search("Patient", [("organization", "Organization/site-a")]) == []
    [found] = db.search("Patient", [("organization", "Organization/site-b")])
    assert found["meta"]["versionId"] == "2"
