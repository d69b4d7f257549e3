"""Schema v6 on patients: the usual name (search and duplicates see it), the room or bed, and the high-trust
document a validated identity was checked against; and how they leave the tablet as FHIR (a second, "usual"
HumanName; the FR Core identity-reliability validationMode)."""
from __future__ import annotations

import sqlite3

import pytest
from fhir.resources.R4B.patient import Patient

from sync import fhir
from sync.store import IdentityError, Store
from tests.support.samples import SAMPLE_TRAITS
from tests.support.schema import store_at


def test_the_usual_name_finds_the_resident_staff_call_by_it(store):
    patient_id = store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Martin", "given_name": "Germaine",
                                      "usual_name": "Durand-Lefèvre", "room": "  12   B "})
    row = store.get_patient(patient_id)
    assert (row["family_name"], row["usual_name"], row["room"]) == ("Martin", "Durand-Lefèvre", "12 B")
    assert [p["id"] for p in store.find_patients("durand")] == [patient_id]
    assert [p["id"] for p in store.find_patients("lefevre germ")] == [patient_id]
    assert [p["id"] for p in store.find_patients("martin")] == [patient_id]  # the birth name still finds her
    assert store.find_patients("dupont") == []


def test_a_birth_name_typed_as_someone_elses_usual_name_is_the_same_identity(store):
    store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Martin", "usual_name": "Durand"})
    with pytest.raises(IdentityError) as refused:  # staff typed the married name in the birth-name field
        store.add_patient(**{**SAMPLE_TRAITS, "family_name": "DURAND"})
    assert refused.value.code == "identity.duplicate"
    with pytest.raises(IdentityError):
        store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Petit", "usual_name": "durand"})
    store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Durand", "given_name": "Paul", "sex": "M"})  # another one


def test_the_document_is_one_of_the_list_and_only_for_a_checked_identity(store):
    validated = store.add_patient(**SAMPLE_TRAITS, identity_status="VALI", identity_document="pa")
    assert store.get_patient(validated)["identity_document"] == "PA"
    bad = {**SAMPLE_TRAITS, "given_name": "Paule"}
    for status, document, code in (("VALI", "permis", "identity.identity_document.invalid"),
                                   ("PROV", "CN", "identity.identity_document.status"),
                                   ("RECUP", "CN", "identity.identity_document.status")):
        with pytest.raises(IdentityError) as refused:
            store.add_patient(**bad, identity_status=status, identity_document=document)
        assert (refused.value.code, refused.value.field) == (code, "identity_document")
    with pytest.raises(IdentityError) as refused:
        store.add_patient(**bad, room="x" * 31)
    assert refused.value.code == "identity.room.too_long" and refused.value.params == {"max_length": 30}
    # identities that come from a server already qualified are still accepted by the store
    store.add_patient(**{**SAMPLE_TRAITS, "given_name": "Odile"}, identity_status="QUAL", identity_document="CN")


def test_the_schema_refuses_what_the_python_refuses(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("INSERT INTO patients (id, family_name, given_name, birth_date, sex, birth_place_insee, "
                           "identity_status, identity_document, created_at) VALUES ('p', 'A', 'B', '1940-01-01', "
                           "'F', '75056', 'PROV', 'CN', 'now')")
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("INSERT INTO patients (id, family_name, given_name, birth_date, sex, birth_place_insee, "
                           "identity_status, identity_document, created_at) VALUES ('p', 'A', 'B', '1940-01-01', "
                           "'F', '75056', 'VALI', 'permis', 'now')")


def test_a_v5_store_gains_the_columns_empty(tmp_path):
    path = tmp_path / "relais.db"
    store_at(path, 5)
    with Store(path) as store:
        rows = store.find_patients("")
        assert rows and all(p["usual_name"] is None and p["room"] is None and p["identity_document"] is None
                            for p in rows)


PATIENT = {"id": "0b5f5c1e-8d1c-4c3e-9a49-1f0c2f0e7a11", "family_name": "Martin", "given_name": "Germaine",
           "birth_date": "1931-02-14", "sex": "F", "birth_place_insee": "75056", "identity_status": "VALI"}


def test_the_usual_name_and_the_document_in_the_fhir_patient():
    plain = fhir.patient_resource(PATIENT, ins_system=fhir.INS_DEMO_SYSTEM)
    assert plain["name"] == [{"use": "official", "family": "Martin", "given": ["Germaine"]}]
    assert [e["url"] for e in plain["extension"][0]["extension"]] == ["identityStatus"]

    full = fhir.patient_resource({**PATIENT, "usual_name": "Durand", "identity_document": "LECV",
                                  "room": "Aile B 12"},
                                 ins_system=fhir.INS_DEMO_SYSTEM)
    assert full["name"] == [{"use": "official", "family": "Martin", "given": ["Germaine"]},
                            {"use": "usual", "family": "Durand", "given": ["Germaine"]}]
    reliability = {e["url"]: e["valueCoding"] for e in full["extension"][0]["extension"]}
    assert reliability["validationMode"] == {
        "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-mode-validation-identity", "code": "LECV"}
    # the room goes with the resident, so another tablet of the site finds them in it (the product's extension)
    assert {"url": fhir.ROOM_EXTENSION, "valueString": "Aile B 12"} in full["extension"]
    assert "Aile B" not in fhir.dumps(plain)
    Patient.model_validate(full)
