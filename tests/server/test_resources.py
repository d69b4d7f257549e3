"""The FHIR engine's transaction rules: a fullUrl twice in one Bundle is refused (bdl-7) while the same conditional
create under two fullUrls resolves to one resource, and `POST [base]/[type]` has the same conditional-create
semantics as a transaction entry."""
from __future__ import annotations

import time
import uuid

import pytest
import requests

from sync import fhir
from sync.server.bundles import RESOURCE_ID
from sync.server.outcome import FhirError
from sync.server.resources import ResourceDB


def test_server_refuses_a_full_url_twice_but_matches_a_repeated_conditional_create(tmp_path):
    """Why the client dedupes: bdl-7 forbids a fullUrl twice in a Bundle, and the server says so. The same
    conditional create under two different fullUrls is resolved to one resource."""
    db = ResourceDB(tmp_path / "server.db")
    system = fhir.PATIENT_ID_SYSTEM
    patient = {"resourceType": "Patient", "identifier": [{"system": system, "value": "p-1"}]}
    entry = {"fullUrl": "urn:uuid:" + fhir.resource_uuid(system, "p-1"), "resource": patient,
             "request": {"method": "POST", "url": "Patient", "ifNoneExist": fhir.if_none_exist(system, "p-1")}}
    with pytest.raises(FhirError) as refused:
        db.transaction({"resourceType": "Bundle", "type": "transaction", "entry": [entry, entry]})
    assert refused.value.status == 400 and "fullUrl" in refused.value.diagnostics
    twin = {**entry, "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001"}
    reply = db.transaction({"resourceType": "Bundle", "type": "transaction", "entry": [entry, twin]})
    first, second = (e["response"] for e in reply["entry"])
    assert (first["status"], second["status"]) == ("201 Created", "200 OK")
    assert first["location"] == second["location"]
    assert db.counts() == {"Patient": 1}


def test_server_type_level_conditional_create(server):
    """POST [base]/[type] (what a one-resource-per-request client does), conditional by If-None-Exist or by
    fhirpy's `?identifier=` form: the same conditional-create semantics as inside a transaction."""
    system = fhir.PATIENT_ID_SYSTEM
    patient = {"resourceType": "Patient", "identifier": [{"system": system, "value": "type-level-1"}],
               "name": [{"family": "Seul", "given": ["Un"]}]}
    headers = {"Content-Type": "application/fhir+json", "If-None-Exist": fhir.if_none_exist(system, "type-level-1")}
    first = requests.post(f"{server.url}/Patient", json=patient, headers=headers, timeout=10)
    assert first.status_code == 201 and first.headers["Location"].startswith(f"Patient/{first.json()['id']}/")
    again = requests.post(f"{server.url}/Patient", json=patient, headers=headers, timeout=10)
    query = requests.post(f"{server.url}/Patient", params={"identifier": f"{system}|type-level-1"}, json=patient,
                          timeout=10)
    assert (again.status_code, query.status_code) == (200, 200)
    assert again.json()["id"] == query.json()["id"] == first.json()["id"]
    wrong = requests.post(f"{server.url}/Patient", json=patient, timeout=10,
                          headers={**headers, "If-None-Exist": "Patient?identifier=a|b"})
    assert wrong.status_code == 400 and "query part" in wrong.json()["issue"][0]["diagnostics"]
    mismatch = requests.post(f"{server.url}/Observation", json=patient, timeout=10)
    assert mismatch.status_code == 400


def test_one_connection_serves_request_after_request_and_a_failed_one_leaves_nothing(tmp_path, monkeypatch):
    db = ResourceDB(tmp_path / "server.db")
    opened = []
    real_connect = db._connect
    monkeypatch.setattr(db, "_connect", lambda: opened.append(1) or real_connect())

    def bundle(*resources):
        return {"resourceType": "Bundle", "type": "transaction",
                "entry": [{"resource": r, "request": {"method": "POST", "url": r["resourceType"]}} for r in resources]}

    for _ in range(3):
        db.transaction(bundle({"resourceType": "Patient"}))
    broken = {"resourceType": "Observation", "subject": {"reference": "urn:uuid:not-in-this-bundle"}}
    with pytest.raises(FhirError):   # refused half-way, inside the transaction
        db.transaction(bundle({"resourceType": "Patient"}, broken))
    db.transaction(bundle({"resourceType": "Patient"}))
    assert db.counts() == {"Patient": 4}   # nothing of the refused bundle
    assert len(opened) == 1


def test_new_ids_sort_in_creation_order_and_are_version_7_uuids(tmp_path):
    """Ids made later sort later (their rows are appended to the indexes, not scattered over them)."""
    db = ResourceDB(tmp_path / "server.db")
    made = []
    for _ in range(4):
        reply = db.transaction({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}}
            for _ in range(3)]})
        made.append([e["response"]["location"].split("/")[1] for e in reply["entry"]])
        time.sleep(0.003)
    for earlier, later in zip(made, made[1:]):
        assert max(earlier) < min(later)
    ids = [i for batch in made for i in batch]
    assert len(set(ids)) == 12 and all(RESOURCE_ID.fullmatch(i) for i in ids)
    assert {uuid.UUID(i).version for i in ids} == {7} and {uuid.UUID(i).variant for i in ids} == {uuid.RFC_4122}


def test_replacing_a_resource_finds_its_rows_by_index(tmp_path):
    """A conditional update deletes the resource's identifier and search rows: by an index on the resource, not by
    reading every row of its type (which grew with the file)."""
    db = ResourceDB(tmp_path / "server.db")
    with db._connection() as conn:
        for table, column in (("identifiers", "resource_id"), ("search_index", "id")):
            plan = " ".join(row[3] for row in conn.execute(
                f"EXPLAIN QUERY PLAN DELETE FROM {table} WHERE type = ? AND {column} = ?", ("Patient", "x")))
            assert f"type=? AND {column}=?" in plan, plan


def test_the_log_is_copied_back_in_large_steps(tmp_path):
    """About 6 MB of resources in small transactions: SQLite's default would copy the log back into the file
    (and restart it) every 1,000 pages (4 MB); the server lets it grow to WAL_CHECKPOINT_PAGES first."""
    db = ResourceDB(tmp_path / "server.db")
    text = "x" * 100_000
    for _ in range(60):
        db.transaction({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Patient", "text": {"status": "generated", "div": text}},
             "request": {"method": "POST", "url": "Patient"}}]})
    wal = tmp_path / "server.db-wal"
    assert wal.stat().st_size > 5 * 1024 * 1024
    assert db.counts() == {"Patient": 60}
