"""Every local change of a resident is stamped per field and queued to go up; the identity of a retrieved or
qualified resident is kept by the store and, behind it, by the schema."""
from __future__ import annotations

import json
import sqlite3

import pytest

from sync import audit
from sync.store import IdentityError
from sync.store import patient_outbox
from sync.store.patient_stamps import FIELDS, stamps_of

INS = "235047505612347"  # fictitious (born 1935-04 in Paris), valid key
TRAITS = dict(family_name="Démo-Tilleul", given_name="Lucette", birth_date="1935-04-02", sex="F",
              birth_place_insee="75056")


def _queue(store, patient_id):
    rows = store.query("SELECT * FROM patient_outbox WHERE patient_id = ?", [patient_id])
    return rows[0] if rows else None


def test_a_new_resident_has_every_field_stamped_and_is_queued(store, clock):
    patient_id = store.add_patient(**TRAITS, room="12")
    stamps = stamps_of(store.get_patient(patient_id))
    assert set(stamps) == set(FIELDS) and set(stamps.values()) == {store.stamp(clock.now)}
    queued = _queue(store, patient_id)
    assert (queued["state"], queued["generation"]) == ("pending", 1)


def test_an_edit_stamps_only_the_fields_it_changed_and_traces_their_names_not_their_values(store, clock):
    patient_id = store.add_patient(**TRAITS, room="12")
    created = stamps_of(store.get_patient(patient_id))
    clock.advance(60)
    assert store.update_patient(patient_id, room="14", usual_name=None) == ["room"]
    stamps = stamps_of(store.get_patient(patient_id))
    assert stamps["room"] == store.stamp(clock.now)
    assert {k: v for k, v in stamps.items() if k != "room"} == {k: v for k, v in created.items() if k != "room"}
    assert _queue(store, patient_id)["generation"] == 2
    detail = audit.rows(store, subject_id=patient_id)[-1]["detail"]
    assert detail == "edit: room" and "14" not in detail


def test_the_doctor_of_a_resident_is_stamped_as_one_field(store, clock):
    patient_id = store.add_patient(**TRAITS)
    clock.advance(30)
    store.set_patient_gp(patient_id, name="Dr Démo", address="dr.demo@medecin.mssante.test", rpps="10000000001")
    assert stamps_of(store.get_patient(patient_id))["gp"] == store.stamp(clock.now)
    assert _queue(store, patient_id)["generation"] == 2


def test_a_qualified_identity_keeps_its_traits_but_not_its_room(store):
    patient_id = store.add_patient(**TRAITS, identity_status="QUAL", ins=INS)
    with pytest.raises(IdentityError) as refused:
        store.update_patient(patient_id, family_name="Autre")
    assert refused.value.code == "identity.locked" and refused.value.field == "family_name"
    with pytest.raises(IdentityError):
        store.set_identity_status(patient_id, "VALI", ins=None, identity_document="CN")
    assert store.update_patient(patient_id, room="3") == ["room"]
    assert store.get_patient(patient_id)["family_name"] == "Démo-Tilleul"


@pytest.mark.parametrize("sql", ["UPDATE patients SET family_name = 'Autre'", "UPDATE patients SET birth_date = "
                                 "'1936-01-01'", "UPDATE patients SET ins = NULL, identity_status = 'VALI'",
                                 "UPDATE patients SET identity_status = 'PROV', ins = NULL"])
def test_the_schema_refuses_a_change_of_a_qualified_identity_behind_the_stores_back(store, sql):
    store.add_patient(**TRAITS, identity_status="QUAL", ins=INS)
    with pytest.raises(sqlite3.IntegrityError, match="identity traits"):
        with store.transaction():
            store.conn.execute(sql)


def test_a_retrieved_identity_is_qualified_with_its_ins_and_the_national_traits(store):
    patient_id = store.add_patient(**TRAITS, identity_status="RECUP")
    with pytest.raises(IdentityError):
        store.update_patient(patient_id, given_name="Lucie")
    changed = store.set_identity_status(patient_id, "QUAL", ins=INS, identity_document="CN", given_name="Lucie")
    assert changed == ["given_name", "reliability"]
    row = store.get_patient(patient_id)
    assert (row["identity_status"], row["ins"], row["given_name"]) == ("QUAL", INS, "Lucie")


def test_an_edit_made_while_the_resident_was_in_flight_is_not_lost(store):
    patient_id = store.add_patient(**TRAITS)
    (in_flight,) = patient_outbox.due(store, limit=10)
    store.update_patient(patient_id, room="7")  # while the request is on its way
    patient_outbox.mark_sent(store, in_flight, "2")
    assert _queue(store, patient_id)["state"] == "pending"
    (again,) = patient_outbox.due(store, limit=10)
    patient_outbox.mark_sent(store, again, "3")
    assert _queue(store, patient_id)["state"] == "sent"
    assert store.get_patient(patient_id)["server_version"] == "3"


def test_a_transient_failure_waits_its_backoff_and_keeps_the_resident(store, clock):
    patient_id = store.add_patient(**TRAITS)
    queued = patient_outbox.due(store, limit=10)
    patient_outbox.release(store, queued, json.dumps({"code": "upload.http"}), delay=30)
    assert patient_outbox.due(store, limit=10) == []
    clock.advance(31)
    (again,) = patient_outbox.due(store, limit=10)
    assert again.patient_id == patient_id and again.attempts == 1


def test_residents_imported_from_the_care_software_are_stamped_and_queued_too(store, clock, tmp_path):
    from sync.residents_csv import import_residents

    export = tmp_path / "export.csv"
    header = "Nom de naissance;Premier prénom de naissance;Date de naissance;Sexe;Code INSEE du lieu de naissance;Chambre\n"
    export.write_text(header + "Démo-Tilleul;Lucette;02/04/1935;F;75056;12\n", encoding="utf-8")
    assert import_residents(store, export).applied
    (patient,) = store.find_patients("")
    assert set(stamps_of(patient)) == set(FIELDS) and _queue(store, patient["id"])["generation"] == 1
    clock.advance(60)
    export.write_text(header + "Démo-Tilleul;Lucette;02/04/1935;F;75056;14\n", encoding="utf-8")
    assert import_residents(store, export).applied
    assert stamps_of(store.get_patient(patient["id"]))["room"] == store.stamp(clock.now)
    assert _queue(store, patient["id"])["generation"] == 2


def test_a_resident_created_here_that_is_probably_someone_already_known_is_recorded_for_an_administrator(store):
    first = store.add_patient(**TRAITS)
    second = store.add_patient(**{**TRAITS, "given_name": "Lucette Marie"})  # the same first given name at birth
    (pair,) = store.open_duplicates()
    assert {pair["a"]["id"], pair["b"]["id"]} == {first, second} and pair["reason"] == "traits"
    store.add_patient(**{**TRAITS, "given_name": "Marie"})
    assert len(store.open_duplicates()) == 1
