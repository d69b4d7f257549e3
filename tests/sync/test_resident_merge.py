"""Merging a resident's server copy at pull (sync.residents.apply_remote_patient): created when unknown, the latest
edit per field otherwise, a qualified identity never lowered or changed, a qualification made elsewhere taken,
each change in the audit trail, newer local fields queued again, merges made elsewhere followed, and probable
duplicates recorded once per pair."""
from __future__ import annotations

import datetime as dt

import pytest

from sync import audit, fhir
from sync.fhir.patient_fields import read_resident, resident_resource
from sync.residents import apply_remote_patient
from sync.store import Store
from sync.store.patient_stamps import field_of, stamps_of

INS = "235047505612347"  # fictitious (born 1935-04 in Paris), valid key
TRAITS = dict(family_name="Démo-Tilleul", given_name="Lucette", birth_date="1935-04-02", sex="F",
              birth_place_insee="75056")
NOW = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def other(tmp_path, clock):
    """Another tablet of the site, on the same clock."""
    with Store(tmp_path / "other.db", clock=clock) as s:
        yield s


def server_copy(store: Store, patient_id: str, version: str = "3", **changed) -> dict:
    """The Patient as the server holds it after `store` sent it (what the pull brings down); `changed`: columns
    the server copy holds otherwise (stamped an hour later)."""
    row = {**store.get_patient(patient_id), **changed}
    stamps = {**stamps_of(row), **{key: store.stamp(NOW + dt.timedelta(hours=1)) for key in changed_fields(changed)}}
    resource = resident_resource(row, stamps, ins_system=fhir.INS_DEMO_SYSTEM,
                                 replaces=tuple(r["id"] for r in store.query(
                                     "SELECT id FROM patients WHERE merged_into = ?", [patient_id])))
    resource["id"] = "srv-" + patient_id[:8]
    resource["meta"] = {**resource.get("meta", {}), "versionId": version, "lastUpdated": "2024-05-01T09:00:00Z"}
    return resource


def changed_fields(changed: dict) -> set[str]:
    return {field_of(column) for column in changed}


def mark_all_sent(store: Store) -> None:
    with store.transaction():
        store.conn.execute("UPDATE patient_outbox SET state = 'sent'")


def pull(store: Store, resource: dict) -> str:
    return apply_remote_patient(store, resource, now=NOW)


def queued(store: Store, patient_id: str) -> bool:
    return bool(store.query("SELECT 1 FROM patient_outbox WHERE patient_id = ? AND state = 'pending'", [patient_id]))


def test_the_patient_read_back_is_the_record_that_was_sent(other):
    patient_id = other.add_patient(**TRAITS, identity_status="QUAL", ins=INS, identity_method="INSI",
                                   identity_document="CN", birth_given_names="Lucette Marie", usual_name="Martin",
                                   room="12 B", resident_id="R-7")
    other.set_patient_gp(patient_id, name="Dr Démo", address="dr.demo@medecin.mssante.test", rpps="10000000001")
    row = other.get_patient(patient_id)
    read = read_resident(server_copy(other, patient_id))
    assert read["patient_id"] == patient_id and read["version"] == "3"
    assert read["values"] == {column: row[column] for column in read["values"]}
    assert read["stamps"] == stamps_of(row)


def test_an_unknown_resident_is_created_as_pulled_and_not_sent_back(store, other):
    patient_id = other.add_patient(**TRAITS, room="12")
    assert pull(store, server_copy(other, patient_id)) == "created"
    row = store.get_patient(patient_id)
    assert (row["origin"], row["room"], row["server_version"]) == ("pulled", "12", "3")
    assert not queued(store, patient_id)
    assert pull(store, server_copy(other, patient_id)) == "unchanged"


def test_each_field_takes_the_latest_edit_and_newer_local_fields_go_up_again(store, other, clock):
    patient_id = other.add_patient(**TRAITS, room="12")
    pull(store, server_copy(other, patient_id))
    clock.advance(60)
    store.update_patient(patient_id, usual_name="Martin")      # here, first
    clock.advance(60)
    other.update_patient(patient_id, room="14")                # there, later
    mark_all_sent(store)
    assert pull(store, server_copy(other, patient_id, version="4")) == "updated"
    row = store.get_patient(patient_id)
    assert (row["room"], row["usual_name"]) == ("14", "Martin")  # theirs, and ours
    assert queued(store, patient_id)  # ours is newer than the server's: it goes up again
    trail = audit.rows(store, subject_id=patient_id)[-1]
    assert trail["detail"] == "pulled from server version 4: room" and "14" not in trail["detail"]


def test_an_older_server_value_does_not_overwrite_a_newer_local_edit(store, other, clock):
    patient_id = other.add_patient(**TRAITS, room="12")
    pull(store, server_copy(other, patient_id))
    clock.advance(60)
    store.update_patient(patient_id, room="20")
    assert pull(store, server_copy(other, patient_id, version="4")) == "unchanged"
    assert store.get_patient(patient_id)["room"] == "20"


def test_a_tie_goes_to_the_servers_value_so_every_tablet_settles_on_it(store, other):
    patient_id = other.add_patient(**TRAITS, room="12")
    pull(store, server_copy(other, patient_id))
    moment = store.stamp()
    for tablet, room in ((store, "1"), (other, "2")):
        with tablet.transaction():
            tablet.conn.execute("UPDATE patients SET room = ?, field_stamps = json_set(field_stamps, '$.room', ?)",
                                [room, moment])
    pull(store, server_copy(other, patient_id, version="4"))
    assert store.get_patient(patient_id)["room"] == "2"


def test_a_pull_never_changes_or_lowers_a_qualified_identity(store, other, clock):
    patient_id = store.add_patient(**TRAITS, identity_status="QUAL", ins=INS)
    mark_all_sent(store)
    # the server copy says otherwise, and later (other software, an old tablet)
    lowered = server_copy(store, patient_id, version="4", identity_status="PROV", ins=None, family_name="Autre")
    assert pull(store, lowered) == "unchanged"
    row = store.get_patient(patient_id)
    assert (row["family_name"], row["identity_status"], row["ins"]) == ("Démo-Tilleul", "QUAL", INS)
    assert queued(store, patient_id)  # the server's copy is put right by ours


def test_a_qualification_made_on_another_tablet_is_taken_whatever_the_stamps(store, other, clock):
    patient_id = other.add_patient(**TRAITS)
    pull(store, server_copy(other, patient_id))
    clock.advance(60)
    store.update_patient(patient_id, given_name="Lucie")  # a typing fix here, later than the qualification below
    with other.transaction():
        other.conn.execute("UPDATE patients SET identity_status = 'QUAL', ins = ?, identity_method = 'INSI'", [INS])
    assert pull(store, server_copy(other, patient_id, version="5")) == "updated"
    row = store.get_patient(patient_id)
    assert (row["identity_status"], row["ins"], row["given_name"]) == ("QUAL", INS, "Lucette")


def test_the_same_person_created_on_two_tablets_is_a_probable_duplicate_recorded_once(store, other):
    here = store.add_patient(**TRAITS, room="12")
    there = other.add_patient(**{**TRAITS, "family_name": "DEMO-TILLEUL"}, room="3")
    assert pull(store, server_copy(other, there)) == "duplicate"
    assert pull(store, server_copy(other, there, version="4")) == "unchanged"
    pairs = store.open_duplicates()
    assert len(pairs) == 1 and {pairs[0]["a"]["id"], pairs[0]["b"]["id"]} == {here, there}
    assert pairs[0]["reason"] == "traits"


def test_the_same_ins_on_two_records_is_a_probable_duplicate(store, other):
    store.add_patient(**TRAITS, identity_status="QUAL", ins=INS)
    there = other.add_patient(**{**TRAITS, "given_name": "Lucie"}, identity_status="QUAL", ins=INS)
    assert pull(store, server_copy(other, there)) == "duplicate"
    assert store.open_duplicates()[0]["reason"] == "ins"


def test_a_different_person_is_no_duplicate(store, other):
    store.add_patient(**TRAITS)
    there = other.add_patient(**{**TRAITS, "birth_date": "1935-04-03"})
    assert pull(store, server_copy(other, there)) == "created" and store.open_duplicates() == []


def test_an_administrator_merges_into_the_qualified_record_and_both_go_up(store, other, clock):
    older = store.add_patient(**TRAITS)
    session_id = store.open_session(older)
    clock.advance(60)
    qualified = other.add_patient(**TRAITS, identity_status="QUAL", ins=INS)
    pull(store, server_copy(other, qualified))
    mark_all_sent(store)
    (pair,) = store.open_duplicates()
    assert store.merge_duplicates(pair["id"]) == qualified
    assert store.get_patient(older)["merged_into"] == qualified
    assert [p["id"] for p in store.find_patients("")] == [qualified]
    assert store.get_session(session_id)["patient_id"] == older  # its sessions keep their patient
    assert store.open_duplicates() == [] and queued(store, older) and queued(store, qualified)
    merged = server_copy(store, older)
    assert merged["active"] is False and merged["link"] == [
        {"other": {"identifier": {"system": fhir.PATIENT_ID_SYSTEM, "value": qualified}}, "type": "replaced-by"}]
    assert server_copy(store, qualified)["link"][0]["type"] == "replaces"
    assert "merged into" in audit.rows(store, subject_id=older)[-1]["detail"]
    with pytest.raises(ValueError):
        store.merge_duplicates(pair["id"])


def test_without_a_qualified_record_the_older_one_survives(store, other, clock):
    older = store.add_patient(**TRAITS)
    clock.advance(60)
    newer = other.add_patient(**TRAITS)
    pull(store, server_copy(other, newer))
    assert store.merge_duplicates(store.open_duplicates()[0]["id"]) == older


def test_a_merge_made_on_another_tablet_is_followed_here(store, other, clock):
    first = store.add_patient(**TRAITS)
    clock.advance(60)
    second = other.add_patient(**TRAITS)
    pull(other, server_copy(store, first))
    pull(store, server_copy(other, second))
    assert len(store.open_duplicates()) == 1
    other.merge_duplicates(other.open_duplicates()[0]["id"])
    assert pull(store, server_copy(other, second, version="6")) == "updated"
    assert store.get_patient(second)["merged_into"] == first
    assert store.open_duplicates() == [] and [p["id"] for p in store.find_patients("")] == [first]


def test_a_patient_no_tablet_made_is_left_alone(store):
    assert pull(store, {"resourceType": "Patient", "id": "x", "name": [{"family": "Autre"}]}) == "unchanged"
    assert store.find_patients("") == []


def test_a_copy_without_stamps_as_a_session_bundle_makes_it_counts_as_older_than_any_edit(store, other):
    patient_id = other.add_patient(**TRAITS, room="12")
    copy = server_copy(other, patient_id)
    copy["extension"] = [e for e in copy["extension"] if not e["url"].endswith("/field-stamps")]
    assert pull(store, copy) == "created"
    assert store.get_patient(patient_id)["created_at"] == store.stamp(NOW)
    store.update_patient(patient_id, room="20")
    mark_all_sent(store)
    assert pull(store, copy) == "unchanged"
    assert store.get_patient(patient_id)["room"] == "20" and queued(store, patient_id)


def test_a_copy_the_tablet_would_refuse_is_refused_whole(store, other):
    patient_id = other.add_patient(**TRAITS)
    copy = server_copy(other, patient_id)
    copy["birthDate"] = "2999-01-01"
    with pytest.raises(ValueError):
        pull(store, copy)
    assert store.find_patients("") == [] and not store.conn.in_transaction


def test_a_pull_may_merge_inside_the_transaction_of_its_page(store, other):
    patient_id = other.add_patient(**TRAITS)
    with store.transaction():
        assert pull(store, server_copy(other, patient_id)) == "created"
    assert store.get_patient(patient_id)["origin"] == "pulled"
