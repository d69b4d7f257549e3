"""sync.seed and `python -m sync seed`: realistic, reproducible demo sessions, and demo identities only."""
from __future__ import annotations

import collections
import datetime as dt
import json
from decimal import Decimal

from fhir.resources.R4B.bundle import Bundle

from sync import fhir, outbox
from sync.seed import hts_bytes, seed_sessions
from sync.store import Store

NOW = dt.datetime(2024, 5, 10, 16, 0, tzinfo=dt.timezone.utc)


def test_seeded_sessions_are_closed_queued_and_realistic(tmp_path):
    with Store(tmp_path / "t.db") as store:
        result = seed_sessions(store, 60, seed=1, days=5, now=NOW)
        assert len(result.sessions) == len(result.outbox) == 60
        assert store.outbox_counts() == {"pending": 60, "in_flight": 0, "sent": 0, "rejected": 0}
        per_patient = collections.Counter(store.get_session(s)["patient_id"] for s in result.sessions)
        assert len(per_patient) == len(result.patients) < 60
        assert max(per_patient.values()) >= 3  # a few residents measured several times
        assert store.now() > NOW  # the store's own clock is given back
        for patient_id in result.patients:
            patient = store.get_patient(patient_id)
            assert patient["ins"] is None and patient["identity_status"] in ("PROV", "RECUP", "VALI")
        values = []
        for session_id in result.sessions:
            session = store.get_session(session_id)
            readings = store.measurements(session_id)
            assert [r["code"] for r in readings] == ["8310-5", "59408-5", "8867-4", "8480-6", "8462-4", "8478-0"]
            m = readings[0]
            assert session["state"] == "closed" and m["code"] == "8310-5" and m["unit"] == "Cel"
            measured = dt.datetime.fromisoformat(m["measured_at"])
            assert NOW - dt.timedelta(days=6) <= measured <= NOW  # daytime on one of the last days
            for r in readings:
                assert session["opened_at"] <= r["received_at"].replace("+00:00", ".000000+00:00") <= \
                    session["closed_at"]
            if m["source"] == "bluetooth":
                assert len(m["value"].split(".")[1]) == 2  # "36.90", as the thermometer sends it
                assert m["device_serial"].startswith("DEMO-") and m["raw"][1:3] == hts_bytes(
                    int(Decimal(m["value"]) * 100), 1)[1:3]
            else:
                assert len(m["value"].split(".")[1]) == 1 and m["raw"] is None
            values.append(Decimal(m["value"]))
        assert all(Decimal("35.5") <= v <= Decimal("40") for v in values)
        assert any(v >= Decimal("37.8") for v in values) and sum(values) / len(values) < Decimal("37.4")
        created = [e.created_at for e in outbox.entries(store)]
        assert created == sorted(created)  # oldest first, as the uploader sends them
        for entry in outbox.entries(store)[:5]:
            Bundle.model_validate(json.loads(entry.payload))  # structurally valid FHIR R4(B)
            assert fhir.INS_NIR_SYSTEM not in entry.payload


def test_same_seed_same_data(tmp_path):
    def data(path):
        with Store(path) as store:
            result = seed_sessions(store, 15, seed=9, now=NOW)
            return [(store.get_patient(store.get_session(s)["patient_id"])["family_name"],
                     store.measurements(s)[0]["value"], store.measurements(s)[0]["measured_at"])
                    for s in result.sessions]

    assert data(tmp_path / "a.db") == data(tmp_path / "b.db")


def test_hts_bytes():
    # flags 0x04 (Celsius, type present), FLOAT mantissa 3690 with exponent -2, type 1 (armpit)
    assert hts_bytes(3690, 1) == bytes([0x04, 0x6A, 0x0E, 0x00, 0xFE, 0x01])


def test_seed_command_line(tmp_path, sync_cli):
    db = tmp_path / "demo.db"
    done = sync_cli("seed", "--sessions", "12", "--db", db, "--seed", "3")  # forked: imports paid once
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["sessions"] == 12 and summary["outbox"]["pending"] == 12 and 1 <= summary["patients"] < 12
    with Store(db) as store:
        names = {p["family_name"] for p in store.find_patients()}
    for name in names:  # nothing about the patients on the terminal
        assert name not in done.stdout and name not in done.stderr


def test_seeded_sessions_are_complete_teleconsultations(tmp_path):
    from fhir.resources.R4B import get_fhir_model_class

    with Store(tmp_path / "t.db") as store:
        result = seed_sessions(store, 20, seed=4, days=3, now=NOW)
        (site,) = store.list_sites()
        assert site["finess"] == "000000018"  # department 00 does not exist: never a real establishment
        assert all((s["rpps"] or "000").startswith("000") for s in store.list_staff())
        for session_id in result.sessions:
            session = store.get_session(session_id)
            assert session["site_id"] == site["id"] and session["staff_id"] and session["reason"]
            assert session["started_at"] < session["ended_at"] and session["remote_doctor_rpps"].startswith("000")
            assert store.consent_decision(session_id) == "given"
            assert store.get_summary(session_id)["text"].startswith("Téléconsultation assistée")
            assert [n["kind"] for n in store.notes(session_id)][0] == "remote_doctor_conclusion"
            assert {m["panel_id"] for m in store.measurements(session_id) if m["code"].startswith("84")} == {"cuff-1"}
        for entry in outbox.entries(store)[:5]:
            bundle = json.loads(entry.payload)
            Bundle.model_validate(bundle)
            types = collections.Counter(e["resource"]["resourceType"] for e in bundle["entry"])
            assert types["Observation"] == 4 and types["Consent"] == types["Composition"] == types["Encounter"] == 1
            for e in bundle["entry"]:
                get_fhir_model_class(e["resource"]["resourceType"]).model_validate(e["resource"])
        again = seed_sessions(store, 3, seed=5, now=NOW)  # the demo site and staff are reused
        assert len(store.list_sites()) == 1 and len(store.list_staff()) == 4 and len(again.sessions) == 3


def test_a_demo_store_gets_qualified_identities_under_the_demo_oid_only(tmp_path):
    with Store(tmp_path / "demo.db", ins_system=fhir.INS_DEMO_SYSTEM) as store:
        result = seed_sessions(store, 30, seed=6, now=NOW)
        qualified = [store.get_patient(p) for p in result.patients
                     if store.get_patient(p)["identity_status"] == "QUAL"]
        assert qualified and all(p["ins"] and p["birth_given_names"] for p in qualified)
        payloads = "".join(e.payload for e in outbox.entries(store))
        assert fhir.INS_DEMO_SYSTEM in payloads and fhir.INS_NIR_SYSTEM not in payloads


def test_v1_style_sessions_on_request(tmp_path):
    with Store(tmp_path / "v1.db") as store:
        result = seed_sessions(store, 5, seed=1, now=NOW, complete=False)
        assert [len(store.measurements(s)) for s in result.sessions] == [1] * 5
        assert store.list_staff() == [] and store.consents(result.sessions[0]) == []
