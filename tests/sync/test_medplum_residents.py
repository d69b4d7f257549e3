"""Residents going up to Medplum's FHIR engine (tests/medplum/server.mjs, every resource validated by Medplum): the
conditional update `PUT Patient?identifier=…` in a transaction with the site's Organization creates the resident,
replaces it at the next edit (one Patient, a new version), carries the field stamps and the merge links Medplum
accepts, and reads back on another tablet as the same record."""
from __future__ import annotations

import datetime as dt

import requests

from sync import fhir
from sync.residents import apply_remote_patient
from sync.store import Store
from sync.store.patient_stamps import stamps_of
from sync.uploader import Uploader
from tests.sync.test_medplum import medplum, pytestmark  # noqa: F401 - the engine, shared the same way

TRAITS = dict(family_name="Démo-Tilleul", given_name="Lucette", birth_date="1935-04-02", sex="F",
              birth_place_insee="75056")


def patients(url: str, patient_id: str) -> list[dict]:
    reply = requests.get(f"{url}/Patient", params={"identifier": f"{fhir.PATIENT_ID_SYSTEM}|{patient_id}"},
                         timeout=30)
    return [e["resource"] for e in reply.json().get("entry") or ()]


def test_a_resident_is_created_then_replaced_and_reads_back_the_same(medplum, tmp_path):  # noqa: F811
    with Store(tmp_path / "a.db") as a, Store(tmp_path / "b.db") as b:
        site = a.add_site(kind="ehpad", name="EHPAD Démo des Tilleuls")
        a.set_setting("site_id", site)
        resident = a.add_patient(**TRAITS, room="12")
        twin = a.add_patient(**{**TRAITS, "given_name": "Lucie"})
        uploader = Uploader(medplum, max_entries=8)
        assert uploader.push(a).residents == 2
        [first] = patients(medplum, resident)
        a.set_patient_gp(resident, name="Dr Démo", address="dr.demo@medecin.mssante.test", rpps="10000000001")
        a.update_patient(resident, room="14")
        with a.transaction():  # a merge as an administrator makes it: links to the other record, by identifier
            a.conn.execute("UPDATE patients SET merged_into = ? WHERE id = ?", [resident, twin])
            a.conn.execute("INSERT INTO patient_outbox (patient_id, queued_at) VALUES (?, 'now') ON CONFLICT "
                           "(patient_id) DO UPDATE SET state = 'pending', generation = generation + 1", [twin])
        result = uploader.push(a)
        assert (result.residents, result.stopped) == (2, None)
        [second] = patients(medplum, resident)
        assert second["id"] == first["id"] and second["meta"]["versionId"] != first["meta"]["versionId"]
        assert second["link"][0]["type"] == "replaces"
        assert patients(medplum, twin)[0]["active"] is False
        now = dt.datetime.now(dt.timezone.utc)
        assert apply_remote_patient(b, second, now=now) == "created"
        assert apply_remote_patient(b, patients(medplum, twin)[0], now=now) == "created"
        mine, theirs = a.get_patient(resident), b.get_patient(resident)
        for column in ("family_name", "room", "gp_name", "gp_rpps", "gp_mssante"):
            assert theirs[column] == mine[column], column
        assert stamps_of(theirs) == stamps_of(mine)
        assert b.get_patient(twin)["merged_into"] == resident
