"""One pulled Patient applied to the store (sync.pull.residents.apply_patient) and one pulled staff member
(sync.pull.staff.apply_staff): read back from the very resources the tablet uploads, checked like typed data,
never half-stored; a resident edited here keeps its newer fields and a qualified identity is not changed by the pull
(the merge rules: sync.store.patient_merge); a pulled staff member never gets a PIN or administration rights."""
from __future__ import annotations

import datetime as dt

import pytest

from sync import fhir
from sync.pull.residents import apply_patient, patient_fields
from sync.pull.staff import apply_staff
from sync.store import Store
from sync.store.errors import IdentityError
from tests.support.samples import valid_ins

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
ROW = {"id": "p-demo-1", "family_name": "Bergamote", "given_name": "Odette", "birth_date": "1934-05-06", "sex": "F",
       "birth_place_insee": "2A004", "identity_status": "VALI", "ins": None, "resident_id": "DEMO-00007",
       "identity_method": "CV", "birth_given_names": None, "usual_name": "Tilleul-Doré", "room": "12",
       "identity_document": None, "gp_name": "Dr Léa Démo-Famille", "gp_rpps": None,
       "gp_mssante": "lea.demo-famille@medecin.mssante.test"}


def resource(row=ROW, **changes) -> dict:
    served = fhir.patient_resource({**row, **changes}, ins_system=fhir.INS_DEMO_SYSTEM,
                                   organization_ref="Organization/o1")
    return {**served, "id": "server-1", "meta": {**served["meta"], "versionId": "1",
                                                  "lastUpdated": "2026-11-30T10:00:00Z"}}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "tablet.db") as s:
        yield s


def fields(store: Store, patient_id: str = "p-demo-1") -> dict:
    row = store.get_patient(patient_id)
    return {k: row[k] for k in ROW}


def test_a_patient_reads_back_into_the_row_it_was_made_from():
    assert {"id": "p-demo-1", **patient_fields(resource(), NOW.date())} == ROW
    qualified = {**ROW, "identity_status": "QUAL", "ins": valid_ins("2340599350123"), "birth_place_insee": "99350",
                 "identity_method": "AV", "birth_given_names": "Odette Marie", "identity_document": "CN",
                 "gp_rpps": "00000000041"}
    assert {"id": "p-demo-1", **patient_fields(resource(qualified), NOW.date())} == qualified


def test_created_then_unchanged_then_updated_when_the_server_copy_changes(store):
    assert apply_patient(store, resource(), now=NOW) == "created"
    assert fields(store) == ROW and store.get_patient("p-demo-1")["origin"] == "pulled"
    assert apply_patient(store, resource(), now=NOW) == "unchanged"
    assert apply_patient(store, resource(room="14", gp_name="Dr Hugo Démo-Traitant"), now=NOW) == "updated"
    assert fields(store) == {**ROW, "room": "14", "gp_name": "Dr Hugo Démo-Traitant"}


def test_a_resident_edited_here_keeps_its_fields_and_a_qualified_identity_is_not_changed_by_the_pull(store):
    local = store.add_patient(family_name="Verveine", given_name="Lucien", birth_date="1940-01-02", sex="M",
                              birth_place_insee="75056", room="3")
    row = {**ROW, **store.get_patient(local)}
    # a copy with no edit stamps (a session bundle made it) is older than any edit made here
    assert apply_patient(store, resource(row, room="9"), now=NOW) == "unchanged"
    assert store.get_patient(local)["room"] == "3"
    apply_patient(store, resource(), now=NOW)
    with store.transaction():
        store.conn.execute("UPDATE patients SET identity_status = 'QUAL', ins = ? WHERE id = 'p-demo-1'",
                           [valid_ins("2340599350123")])
    assert apply_patient(store, resource(family_name="Autre", room="99"), now=NOW) == "updated"
    assert (store.get_patient("p-demo-1")["family_name"], store.get_patient("p-demo-1")["room"]) == \
        ("Bergamote", "99")  # the room travels, the qualified identity stays


def test_the_same_person_under_another_id_is_a_probable_duplicate_for_an_administrator(store):
    store.add_patient(family_name="Bergamote", given_name="Odette", birth_date="1934-05-06", sex="F",
                      birth_place_insee="2A004")
    assert apply_patient(store, resource(), now=NOW) == "duplicate"
    assert store.query("SELECT count(*) AS n FROM patients") == [{"n": 2}]
    assert len(store.open_duplicates()) == 1


@pytest.mark.parametrize("spoil", [
    lambda r: r.pop("birthDate"), lambda r: r.update(gender="robot"), lambda r: r.update(identifier=[]),
    lambda r: r["name"][0].update(family="B3rgam0te"), lambda r: r.update(birthDate="2999-01-01")])
def test_an_unreadable_patient_is_refused_whole(store, spoil):
    broken = resource()
    spoil(broken)
    with pytest.raises((ValueError, IdentityError)):
        apply_patient(store, broken, now=NOW)
    assert store.query("SELECT count(*) AS n FROM patients") == [{"n": 0}]
    assert store.query("SELECT count(*) AS n FROM audit_log WHERE subject_kind = 'patient'") == [{"n": 0}]


def staff_pair(role: str = "infirmier", rpps: str | None = "00000000017", staff_id: str = "s-1") -> tuple[dict, dict]:
    row = {"id": staff_id, "display_name": "Inès Démo (IDE)", "role": role, "rpps": rpps, "adeli": None, "active": 1}
    practitioner = {**fhir.practitioner_resource(row), "id": "pr-1"}
    role_resource = {**fhir.practitioner_role_resource(row, identifier_value=f"{staff_id}/site",
                                                       practitioner_ref="Practitioner/pr-1",
                                                       organization_ref="Organization/o1"), "id": "role-1"}
    return role_resource, practitioner


def test_a_pulled_administrator_gets_no_rights_and_no_pin(store):
    assert apply_staff(store, *staff_pair(role="administrateur", rpps=None), now=NOW) == "created"
    member = store.get_staff("s-1")
    assert (member["is_admin"], member["pin_hash"], member["origin"], member["role"]) == \
        (0, None, "pulled", "administrateur")
    assert apply_staff(store, *staff_pair(role="administrateur", rpps=None), now=NOW) == "unchanged"


def test_staff_known_here_by_rpps_is_not_duplicated(store):
    store.add_staff(display_name="Inès (saisie ici)", role="infirmier", rpps="00000000017")
    assert apply_staff(store, *staff_pair(), now=NOW) == "duplicate"
    assert len(store.list_staff()) == 1
