"""Frozen bundles are resent byte for byte: the same stored rows must always give the same bytes. These cases (every
device kind, a blood pressure panel read in kPa, consents, notes, a summary, a qualified identity under the demo
INS authority, addenda) are compared with the bytes checked in under tests/sync/golden/. A change of mapping that is
meant to change the wire form regenerates them with `python -m tests.sync.test_fhir_golden` and says so."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from sync import fhir

GOLDEN = Path(__file__).with_name("golden")

PATIENT_QUAL = {"id": "0b5f5c1e-8d1c-4c3e-9a49-1f0c2f0e7a11", "family_name": "Martin", "given_name": "Jeanne",
                "birth_date": "1938-04-02", "sex": "F", "birth_place_insee": "75056", "identity_status": "QUAL",
                "ins": "238047505612328", "identity_method": "AV", "resident_id": "CH-12",
                "birth_given_names": "Jeanne Marie", "room": "B 204 lit 2", "gp_name": "Dr Hugo Démo-Traitant",
                "gp_rpps": "10000000025", "gp_mssante": "hugo.demo-traitant@medecin.mssante.test"}
PATIENT_ABROAD = {"id": "7d2e9a40-3c55-4a8b-bb7e-0f6a2d1c9e02", "family_name": "Ndiaye", "given_name": "Awa",
                  "birth_date": "1945-11-30", "sex": "I", "birth_place_insee": "99341", "identity_status": "PROV",
                  "ins": "245119934100052", "identity_method": None, "resident_id": None,
                  "birth_given_names": None}
NURSE = {"id": "staff-nurse", "display_name": "Inès Infirmière", "role": "infirmier", "rpps": "10000000001",
         "adeli": None, "active": 1}
AIDE = {"id": "staff-aide", "display_name": "Aline Aide", "role": "aide_soignant", "rpps": None, "adeli": None,
        "active": 1}
PHARMACIST = {"id": "staff-pharma", "display_name": "Paul Pharmacien", "role": "pharmacien", "rpps": None,
              "adeli": "759912345", "active": 0}
SITE = {"id": "site-ehpad", "kind": "ehpad", "name": "EHPAD Les Tilleuls", "finess": "750712184",
        "ars_declaration": "ARS-IDF-TLC-0042"}
PHARMACY = {"id": "site-pharma", "kind": "pharmacie", "name": "Pharmacie du Marché", "finess": None,
            "ars_declaration": None}

THERMO = {"device_address": "a4:c1:38:00:00:01", "device_name": "Thermo-1", "device_manufacturer": "Acme",
          "device_model": "T100", "device_serial": "T-0001", "device_firmware": "1.4.2"}
OXIMETER = {"device_address": "A4:C1:38:00:00:02", "device_name": "PC-60FW", "device_manufacturer": "Creative Medical",
            "device_model": "PC-60FW", "device_serial": None, "device_firmware": None}
OXIMETER_INFO = {"device_address": "A4:C1:38:00:00:02", "device_serial": "CM-0002", "device_firmware": "2.1"}
CUFF = {"device_address": "A4:C1:38:00:00:03", "device_name": "BP-Démo", "device_manufacturer": "Relais Démo",
        "device_model": "BP-7", "device_serial": "BP-0003", "device_firmware": None}
CUFF_BY_SERIAL = {"device_address": None, "device_name": None, "device_manufacturer": "Omron", "device_model": "M7",
                  "device_serial": "OM-77", "device_firmware": None}
NO_DEVICE = {"device_address": None, "device_name": None, "device_manufacturer": None, "device_model": None,
             "device_serial": None, "device_firmware": None}


def reading(n: int, code: str, value: str, unit: str, device: dict[str, Any] = NO_DEVICE, **over: Any) -> dict:
    row = {"id": f"m-{n}", "code": code, "value": value, "unit": unit, "source": "bluetooth", "status": [],
           "panel_id": None, "measured_at": f"2024-05-01T10:{n:02d}:00+02:00",
           "received_at": f"2024-05-01T08:{n:02d}:30+00:00", "interpretation": None, **device}
    row.update(over)
    return row


def rich_session(*, transcribed: bool = False) -> dict[str, Any]:
    """A full EHPAD teleconsultation: every device kind, NEWS2 inputs, two consents, notes and a summary.
    `transcribed`: the doctor's conclusions typed by the nursing aide rather than signed by the doctor."""
    session = {"id": "s-rich", "idempotency_key": "6f1c3c0e-2f57-4b0e-8e4c-2b0c8c6f9d21",
               "patient_id": PATIENT_QUAL["id"], "state": "closed", "site_id": SITE["id"], "staff_id": NURSE["id"],
               "staff": None, "opened_at": "2024-05-01T08:00:00+00:00", "closed_at": "2024-05-01T08:45:00+00:00",
               "reason": "Fièvre et essoufflement <depuis ce matin> & toux", "started_at": "2024-05-01T10:20:00+02:00",
               "ended_at": "2024-05-01T10:38:00+02:00", "remote_doctor_name": "Dr Lucie Distant",
               "remote_doctor_rpps": "10000000009", "companion_present": 1, "interpreter_present": 0,
               "callback_phone": "0123456789", "request_kind": "teleconsultation",
               "requested_at": "2024-05-01T10:19:00+02:00"}
    # each row carries the flag the clinical rules gave it when it was accepted (stored with the measurement)
    measurements = [
        reading(1, "8310-5", "38.50", "Cel", THERMO, status=["site:armpit", "stable"], interpretation="H"),
        reading(2, "59408-5", "89", "%", OXIMETER, interpretation="LL"),
        reading(3, "8867-4", "125", "/min", {**OXIMETER, **OXIMETER_INFO}, interpretation="H"),
        reading(4, "8480-6", "185", "mm[Hg]", CUFF, panel_id="cuff-1", interpretation="H"),
        reading(5, "8310-5", "100.4", "[degF]", THERMO, measured_at=None, interpretation="H"),
        reading(6, "8462-4", "58", "mm[Hg]", CUFF, panel_id="cuff-1", interpretation="L"),
        reading(7, "8478-0", "100", "mm[Hg]", CUFF, panel_id="cuff-1"),
        reading(8, "8867-4", "88", "/min", source="manual"),
        reading(9, "9279-1", "26", "/min", source="manual", interpretation="HH"),
        reading(10, "67775-7", "C", "", source="manual"),
        reading(11, "supplemental-oxygen", "yes", "", source="manual"),
        reading(12, "2708-6", "94.5", "%", OXIMETER),
    ]
    consents = [
        {"id": "c-1", "decision": "refused", "given_by": "patient", "given_by_name": None,
         "recorded_by": NURSE["id"], "recorded_at": "2024-05-01T10:02:00+02:00"},
        {"id": "c-2", "decision": "given", "given_by": "trusted_person", "given_by_name": "Paul Martin",
         "recorded_by": AIDE["id"], "recorded_at": "2024-05-01T10:05:00+02:00"},
    ]
    # the doctor's own words, accepted unchanged from their signed conclusions (or typed by the aide)
    doctor = {"author": "Dr Lucie Distant", "staff_id": None, "written_by": "doctor", "author_rpps": "10000000009"}
    if transcribed:
        doctor.update(staff_id=AIDE["id"], written_by="staff")
    notes = [
        {"id": "n-1", "kind": "remote_doctor_conclusion", "text": "Suspicion de pneumopathie : radio demandée.",
         "created_at": "2024-05-01T08:36:00+00:00", **doctor},
        {"id": "n-3", "kind": "orientation", "text": "Consultation du médecin traitant — sous 48 h",
         "created_at": "2024-05-01T08:36:00+00:00", **doctor},
        {"id": "n-4", "kind": "prescription", "text": "Radio thoracique de face.",
         "created_at": "2024-05-01T08:36:00+00:00", **doctor},
        {"id": "n-2", "kind": "staff_note", "text": "Patiente anxieuse, rassurée.", "author": "Paul Pharmacien",
         "staff_id": PHARMACIST["id"], "created_at": "2024-05-01T08:40:00+00:00"},
    ]
    summary = {"text": "Fièvre 38,5 °C, SpO2 89 %. Pneumopathie suspectée, radio thoracique demandée.",
               "recipient_name": "Dr Michel Traitant", "recipient_rpps": "10000000010",
               "created_at": "2024-05-01T08:42:00+00:00"}
    return fhir.session_bundle(PATIENT_QUAL, session, measurements, site=SITE,
                               staff={s["id"]: s for s in (NURSE, AIDE, PHARMACIST)}, consents=consents, notes=notes,
                               summary=summary, ins_system=fhir.INS_DEMO_SYSTEM)


def transcribed_session() -> dict[str, Any]:
    """The rich session whose conclusions the nursing aide typed as the doctor spoke them (transcribed)."""
    return rich_session(transcribed=True)


def kpa_session() -> dict[str, Any]:
    """A pharmacy session without a staff account: a cuff known by its serial reading in kPa, a remote doctor
    without RPPS, a legal representative's consent, no report (no note, no summary)."""
    session = {"id": "s-kpa", "idempotency_key": "a3b0c9d2-41e7-4f2a-9c1d-5e6f7a8b9c0d",
               "patient_id": PATIENT_ABROAD["id"], "state": "closed", "site_id": PHARMACY["id"], "staff_id": None,
               "staff": "Mme Durand", "opened_at": "2024-12-24T15:00:00+01:00",
               "closed_at": "2024-12-24T15:30:00+01:00", "reason": None, "started_at": None, "ended_at": None,
               "remote_doctor_name": "Dr Sans Numéro", "remote_doctor_rpps": None, "companion_present": None,
               "interpreter_present": 1, "callback_phone": "+33 6 12 34 56 78"}
    measurements = [
        reading(1, "8480-6", "16.0", "kPa", CUFF_BY_SERIAL, panel_id="p-1"),
        reading(2, "8462-4", "10.7", "kPa", CUFF_BY_SERIAL, panel_id="p-1"),
        reading(3, "8480-6", "12.0", "kPa", CUFF_BY_SERIAL, panel_id="p-2", interpretation="LL"),
        reading(4, "8462-4", "7.95", "kPa", CUFF_BY_SERIAL, panel_id="p-2", interpretation="L"),
        reading(5, "8310-5", "35.0", "Cel", THERMO, interpretation="LL"),
        reading(6, "67775-7", "A", "", source="manual"),
        reading(7, "supplemental-oxygen", "no", "", source="manual"),
    ]
    consents = [{"id": "c-1", "decision": "given", "given_by": "legal_representative", "given_by_name": "Ali Ndiaye",
                 "recorded_by": None, "recorded_at": "2024-12-24T15:02:00+01:00"}]
    return fhir.session_bundle(PATIENT_ABROAD, session, measurements, site=PHARMACY, consents=consents)


def report_without_staff() -> dict[str, Any]:
    """A session still open (no close time) with a summary only: the report is dated by its newest text and,
    with no staff member and no site, authored by the product."""
    session = {"id": "s-open", "idempotency_key": "0f0e0d0c-0b0a-4909-8807-060504030201",
               "patient_id": PATIENT_QUAL["id"], "state": "open", "staff_id": None, "staff": None,
               "opened_at": "2024-07-14T06:00:00Z", "closed_at": None, "reason": "Chute"}
    summary = {"text": "Pas de lésion visible.", "recipient_name": None, "recipient_rpps": None,
               "created_at": "2024-07-14T06:30:00Z"}
    return fhir.session_bundle(PATIENT_QUAL, session, [reading(1, "8867-4", "40", "/min", source="manual",
                                                                   interpretation="LL")],
                               summary=summary)


def addendum_by_rpps() -> dict[str, Any]:
    session = {"id": "s-rich", "idempotency_key": "6f1c3c0e-2f57-4b0e-8e4c-2b0c8c6f9d21"}
    addendum = {"id": "ad-1", "text": "Radio normale : pas de pneumopathie.", "created_at": "2024-05-02T09:15:00+00:00"}
    return fhir.addendum_bundle(PATIENT_QUAL, session, addendum, author=NURSE, ins_system=fhir.INS_DEMO_SYSTEM)


def addendum_by_adeli() -> dict[str, Any]:
    session = {"id": "s-kpa", "idempotency_key": "a3b0c9d2-41e7-4f2a-9c1d-5e6f7a8b9c0d"}
    addendum = {"id": "ad-2", "text": "Tension < 12 à revoir & rappeler", "created_at": "2024-12-26T11:00:00+01:00"}
    return fhir.addendum_bundle(PATIENT_ABROAD, session, addendum, author=PHARMACIST)


def live_advice_request() -> dict[str, Any]:
    """An open session sent to the remote doctor with an advice request (téléexpertise): the session so far."""
    session = {"id": "s-live", "idempotency_key": "0b5e2a8c-9d61-4f3a-a7c2-5e8f1d3b9c40",
               "patient_id": PATIENT_QUAL["id"], "state": "open", "site_id": SITE["id"], "staff_id": NURSE["id"],
               "staff": None, "opened_at": "2024-05-03T08:00:00+00:00", "closed_at": None, "reason": "Chute",
               "request_kind": "teleexpertise", "requested_at": "2024-05-03T08:10:00+00:00"}
    measurements = [reading(1, "8310-5", "37.20", "Cel", THERMO), reading(2, "59408-5", "95", "%", OXIMETER)]
    consents = [{"id": "c-1", "decision": "given", "given_by": "patient", "given_by_name": None,
                 "recorded_by": NURSE["id"], "recorded_at": "2024-05-03T08:02:00+00:00"}]
    return fhir.session_bundle(PATIENT_QUAL, session, measurements, site=SITE, staff={NURSE["id"]: NURSE},
                               consents=consents, ins_system=fhir.INS_DEMO_SYSTEM, live=True)


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "session_live_advice": live_advice_request,
    "session_rich": rich_session, "session_transcribed": transcribed_session, "session_kpa": kpa_session,
    "session_report_without_staff": report_without_staff,
    "addendum_rpps": addendum_by_rpps, "addendum_adeli": addendum_by_adeli,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bundle_bytes_match_the_golden_file(name):
    assert fhir.dumps_bundle(CASES[name]()) == (GOLDEN / f"{name}.json").read_bytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_bundles_validate_as_fhir_r4(name):
    data = (GOLDEN / f"{name}.json").read_bytes()
    Bundle.model_validate_json(data)
    for entry in fhir.loads(data)["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])


def test_the_module_switch_chooses_the_ins_authority_of_the_bytes(monkeypatch):
    monkeypatch.setattr(fhir, "INS_SYSTEM", fhir.INS_DEMO_SYSTEM)
    session = {"id": "s-rich", "idempotency_key": "6f1c3c0e-2f57-4b0e-8e4c-2b0c8c6f9d21"}
    addendum = {"id": "ad-1", "text": "Radio normale : pas de pneumopathie.", "created_at": "2024-05-02T09:15:00+00:00"}
    data = fhir.dumps_bundle(fhir.addendum_bundle(PATIENT_QUAL, session, addendum, author=NURSE))
    assert data == (GOLDEN / "addendum_rpps.json").read_bytes()


def write_golden() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name, build in CASES.items():
        (GOLDEN / f"{name}.json").write_bytes(fhir.dumps_bundle(build()))


if __name__ == "__main__":
    write_golden()
