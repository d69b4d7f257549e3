"""The FHIR R4 mapping of a complete session: every resource validates with fhir.resources (R4B), the profiles,
codes and units are the ones the specifications ask for, every entry is a conditional create on a stable
identifier, shared resources are byte-identical across sessions (so batching merges them), decimals keep their
digits, and the real development server stores everything exactly once."""
from __future__ import annotations

import collections
import datetime as dt
import json
import re
import uuid
from decimal import Decimal

import pytest
import requests
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import batching, fhir, outbox
from sync.clinical.rules import flag_of
from sync.store import Store
from tests.support.samples import valid_ins
from tests.support.servers import DevServer
from sync import closing

VS = "http://hl7.org/fhir/StructureDefinition"
FR = "https://hl7.fr/ig/fhir/core/StructureDefinition"
OXIMETER = {"address": "a4:c1:38:00:00:02", "name": "PC-60FW", "manufacturer": "Creative Medical", "model": "PC-60FW",
            "serial": "CM-0002", "firmware": "2.1"}
CUFF = {"address": "A4:C1:38:00:00:03", "name": "BP-Démo", "manufacturer": "Relais Démo", "model": "BP-7",
        "serial": "BP-0003"}
THERMO = {"address": "A4:C1:38:00:00:01", "name": "Thermo-1", "manufacturer": "Acme", "model": "T100",
          "serial": "T-0001", "firmware": "1.4.2"}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def store(tmp_path):
    """Overrides the shared store (tests/sync/conftest.py): the demo INS authority, and the real clock."""
    with Store(tmp_path / "relais.db", clock=Clock(), ins_system=fhir.INS_DEMO_SYSTEM) as s:
        yield s


def context(store):
    """Staff (a nurse with an RPPS, an aide without national number) and an EHPAD with a FINESS."""
    nurse = store.add_staff(display_name="Inès Infirmière", role="infirmier", rpps="10000000001")
    aide = store.add_staff(display_name="Aline Aide", role="aide_soignant")
    site = store.add_site(kind="ehpad", name="EHPAD Les Tilleuls", finess="750712184",
                          ars_declaration="ARS-IDF-TLC-0042")
    return nurse, aide, site


def full_session(store, patient_id, nurse, aide, site, *, temperature="38.50", spo2="89", pulse="125",
                 bp=("185", "58", "100"), bp_unit="mm[Hg]", summary=True):
    """Everything a teleconsultation records, readings as the devices send them."""
    sid = store.open_session(patient_id, site_id=site, staff_id=nurse)
    store.update_session(sid, reason="Fièvre et essoufflement depuis ce matin",
                         started_at="2024-05-01T10:20:00+02:00", ended_at="2024-05-01T10:38:00+02:00",
                         remote_doctor_name="Dr Lucie Distant", remote_doctor_rpps="10000000009",
                         companion_present=True, interpreter_present=False, callback_phone="01 23 45 67 89")
    store.record_consent(sid, decision="given", given_by="trusted_person", given_by_name="Paul Martin",
                         recorded_by=aide, recorded_at="2024-05-01T10:05:00+02:00")
    # each value stored with the flag the clinical rules give it, as the workflow stores it
    store.add_measurement(sid, code="8310-5", value=temperature, unit="Cel", device=THERMO, raw=b"\x04",
                          status=["site:armpit"], measured_at="2024-05-01T10:08:00+02:00",
                          interpretation=flag_of("8310-5", Decimal(temperature), "Cel"))
    store.add_measurement(sid, code="59408-5", value=spo2, unit="%", device=OXIMETER,
                          measured_at="2024-05-01T10:10:00+02:00", interpretation=flag_of("59408-5", Decimal(spo2), "%"))
    store.add_measurement(sid, code="8867-4", value=pulse, unit="/min", device=OXIMETER,
                          measured_at="2024-05-01T10:10:00+02:00", interpretation=flag_of("8867-4", Decimal(pulse), "/min"))
    for code, value in zip(("8480-6", "8462-4", "8478-0"), bp):
        if value is not None:
            store.add_measurement(sid, code=code, value=value, unit=bp_unit, device=CUFF, panel_id="cuff-1",
                                  measured_at="2024-05-01T10:12:00+02:00",
                                  interpretation=flag_of(code, Decimal(value), bp_unit))
    store.add_measurement(sid, code="8867-4", value="88", unit="/min", source="manual",
                          measured_at="2024-05-01T10:15:00+02:00")
    store.add_note(sid, kind="remote_doctor_conclusion", text="Suspicion de pneumopathie : radio demandée.")
    store.add_note(sid, kind="staff_note", text="Patiente anxieuse, rassurée.", staff_id=aide)
    if summary:
        store.set_summary(sid, text="Fièvre 38,5 °C, SpO2 89 %. Pneumopathie suspectée, radio thoracique demandée.",
                          recipient_name="Dr Michel Traitant", recipient_rpps="10000000010")
    oid = closing.close_session(store, sid, require_complete=summary)
    return sid, oid


def qualified_patient(store, **over):
    return store.add_patient(**{"family_name": "Martin", "given_name": "Jeanne", "birth_date": "1938-04-02",
                                "sex": "F", "birth_place_insee": "75056", "identity_status": "QUAL",
                                "ins": valid_ins(), "identity_method": "AV", "resident_id": "CH-12",
                                "birth_given_names": "Jeanne Marie", **over})


@pytest.fixture
def payload(store):
    nurse, aide, site = context(store)
    _, oid = full_session(store, qualified_patient(store), nurse, aide, site)
    return outbox.get_entry(store, oid).payload_bytes


def resources(bundle, rtype=None):
    return [e["resource"] for e in bundle["entry"] if rtype is None or e["resource"]["resourceType"] == rtype]


def by_url(bundle):
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def observation(bundle, code):
    (found,) = [o for o in resources(bundle, "Observation") if any(c["code"] == code for c in o["code"]["coding"])
                and (code != "8867-4" or o["method"]["coding"][0]["code"] == "device")]
    return found


# -- validity -------------------------------------------------------------------------------------------------------

def test_every_resource_and_the_bundle_validate_as_fhir_r4(payload):
    Bundle.model_validate_json(payload)
    bundle = json.loads(payload)
    counts = collections.Counter(r["resourceType"] for r in resources(bundle))
    assert counts == {"Patient": 1, "Observation": 5, "Encounter": 1, "Consent": 1, "Composition": 1,
                      "Organization": 1, "Practitioner": 3, "PractitionerRole": 2, "Device": 3}
    for resource in resources(bundle):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_profiles(payload):
    bundle = json.loads(payload)
    profiles = collections.defaultdict(set)
    for resource in resources(bundle):
        for profile in (resource.get("meta") or {}).get("profile", []):
            profiles[resource["resourceType"]].add(profile)
    assert profiles == {
        "Patient": {f"{FR}/fr-core-patient-ins"},
        "Observation": {f"{VS}/bodytemp", f"{VS}/oxygensat", f"{VS}/heartrate", f"{VS}/bp"},
        "Encounter": {f"{FR}/fr-core-encounter"}, "Consent": {f"{FR}/fr-core-consent"},
        "Organization": {f"{FR}/fr-core-organization"}, "Practitioner": {f"{FR}/fr-core-practitioner"},
        "PractitionerRole": {f"{FR}/fr-core-practitioner-role"},
    }


def test_every_entry_is_a_conditional_create_on_its_own_identifier_and_every_reference_resolves(payload):
    """The Encounter (and a request's Task) alone are conditional updates, `PUT Type?identifier=…`, so the final
    state wins over the live sends of the open session (sync.live)."""
    bundle = json.loads(payload)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    key = bundle["identifier"]["value"]
    for entry in bundle["entry"]:
        request, resource = entry["request"], entry["resource"]
        if resource["resourceType"] in ("Encounter", "Task"):
            assert request["method"] == "PUT" and set(request) == {"method", "url"}
            query = request["url"].removeprefix(resource["resourceType"] + "?")
        else:
            assert request["method"] == "POST" and request["url"] == resource["resourceType"]
            query = request["ifNoneExist"]
        assert query.startswith("identifier=") and "?" not in query
        system, value = query.removeprefix("identifier=").split("|")
        identifiers = resource["identifier"] if isinstance(resource["identifier"], list) else [resource["identifier"]]
        assert (system, value) in [(i["system"], i["value"]) for i in identifiers]
        assert entry["fullUrl"] == f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system}|{value}')}"
        session_owned = resource["resourceType"] in ("Observation", "Encounter", "Consent", "Composition")
        assert (key in value) == session_owned, resource["resourceType"]
    references = re.findall(r'"reference":"(urn:uuid:[^"]+)"', payload.decode())
    assert references and set(references) <= set(urls)


# -- content --------------------------------------------------------------------------------------------------------

def test_patient_demo_ins_only_for_a_qualified_identity(store, payload):
    (patient,) = resources(json.loads(payload), "Patient")
    identifiers = {i["system"]: i for i in patient["identifier"]}
    assert identifiers[fhir.INS_DEMO_SYSTEM]["value"] == valid_ins()
    assert identifiers[fhir.INS_DEMO_SYSTEM]["type"]["coding"][0]["code"] == "INS-NIR-DEMO"
    assert fhir.INS_NIR_SYSTEM not in payload.decode()  # a demo store never uses the production OID
    assert identifiers[fhir.RESIDENT_ID_SYSTEM]["value"] == "CH-12"
    assert fhir.PATIENT_ID_SYSTEM in identifiers
    reliability = {e["url"]: e["valueCoding"]["code"] for e in patient["extension"][0]["extension"]}
    assert reliability == {"identityStatus": "QUAL", "methodCollection": "AV"}
    assert patient["name"][0]["extension"][0]["valueString"] == "Jeanne Marie"


def test_ins_authority_follows_the_store_then_the_module_switch(tmp_path, monkeypatch):
    def patient_of(store):
        pid = qualified_patient(store)
        sid = store.open_session(pid)
        store.add_measurement(sid, code="8310-5", value="37.0", unit="Cel")
        return resources(fhir.loads(outbox.get_entry(store, closing.close_session(store, sid)).payload), "Patient")[0]

    with Store(tmp_path / "prod.db") as prod:
        systems = [i["system"] for i in patient_of(prod)["identifier"]]
        assert fhir.INS_NIR_SYSTEM in systems and fhir.INS_DEMO_SYSTEM not in systems
    monkeypatch.setattr(fhir, "INS_SYSTEM", fhir.INS_TEST_SYSTEM)
    with Store(tmp_path / "training.db") as training:
        (ins,) = [i for i in patient_of(training)["identifier"] if i["system"] == fhir.INS_TEST_SYSTEM]
        assert ins["type"]["coding"][0]["code"] == "INS-NIR-TEST"
    for status in ("PROV", "RECUP", "VALI"):
        patient = fhir.patient_resource({"id": "p", "family_name": "A", "given_name": "B", "birth_date": "1940-01-01",
                                         "sex": "F", "birth_place_insee": "75056", "identity_status": status,
                                         "ins": valid_ins()}, ins_system=fhir.INS_DEMO_SYSTEM)
        assert len(patient["identifier"]) == 1 and patient["meta"]["profile"] == [f"{FR}/fr-core-patient"]


def test_vital_signs_codes_units_and_profiles(payload):
    bundle = json.loads(payload)
    spo2 = observation(bundle, "59408-5")
    assert [c["code"] for c in spo2["code"]["coding"]] == ["2708-6", "59408-5"]
    assert spo2["meta"]["profile"] == [f"{VS}/oxygensat"] and spo2["valueQuantity"]["code"] == "%"
    pulse = observation(bundle, "8867-4")
    assert pulse["meta"]["profile"] == [f"{VS}/heartrate"] and pulse["valueQuantity"]["code"] == "/min"
    temperature = observation(bundle, "8310-5")
    assert temperature["meta"]["profile"] == [f"{VS}/bodytemp"] and temperature["bodySite"] == {"text": "armpit"}
    for obs in resources(bundle, "Observation"):
        assert obs["category"][0]["coding"][0]["code"] == "vital-signs" and obs["status"] == "final"
        assert all(c["system"] == "http://loinc.org" for c in obs["code"]["coding"])
    assert b'"value":38.50' in payload  # "38.50" as stored, not 38.5


def test_blood_pressure_is_one_panel_with_the_mean_pressure_as_a_component(payload):
    bundle = json.loads(payload)
    bp = observation(bundle, "85354-9")
    assert bp["meta"]["profile"] == [f"{VS}/bp"] and "valueQuantity" not in bp
    components = {c["code"]["coding"][0]["code"]: c for c in bp["component"]}
    assert list(components) == ["8480-6", "8462-4", "8478-0"]
    assert {c["valueQuantity"]["code"] for c in components.values()} == {"mm[Hg]"}
    assert [c["valueQuantity"]["value"] for c in components.values()] == [185, 58, 100]
    codes = [c["code"] for o in resources(bundle, "Observation") for c in o["code"]["coding"]]
    assert not {"8480-6", "8462-4", "8478-0"} & set(codes)  # no component is an Observation of its own


def test_effective_time_device_method_performer_encounter(payload):
    bundle = json.loads(payload)
    urls = by_url(bundle)
    spo2 = observation(bundle, "59408-5")
    assert spo2["effectiveDateTime"] == "2024-05-01T10:10:00+02:00"
    device = urls[spo2["device"]["reference"]]
    assert device["resourceType"] == "Device"
    assert (device["manufacturer"], device["modelNumber"], device["serialNumber"], device["version"][0]["value"]) == \
        ("Creative Medical", "PC-60FW", "CM-0002", "2.1")
    assert device["identifier"] == [{"system": fhir.DEVICE_ADDRESS_SYSTEM, "value": "A4:C1:38:00:00:02"}]
    assert observation(bundle, "8867-4")["device"]["reference"] == spo2["device"]["reference"]  # one oximeter
    assert spo2["method"]["coding"][0]["code"] == "device"
    manual = [o for o in resources(bundle, "Observation") if o["method"]["coding"][0]["code"] == "manual"]
    assert len(manual) == 1 and "device" not in manual[0] and manual[0]["valueQuantity"]["value"] == 88
    for obs in resources(bundle, "Observation"):
        assert urls[obs["encounter"]["reference"]]["resourceType"] == "Encounter"
        assert urls[obs["performer"][0]["reference"]]["resourceType"] == "PractitionerRole"
        assert urls[obs["subject"]["reference"]]["resourceType"] == "Patient"


def test_interpretation_flags_out_of_range_values(payload):
    bundle = json.loads(payload)
    flag = lambda obs: obs.get("interpretation", [{}])[0].get("coding", [{}])[0].get("code")  # noqa: E731
    assert flag(observation(bundle, "8310-5")) == "H"      # 38.50 °C ≥ 37.8
    assert flag(observation(bundle, "59408-5")) == "LL"    # 89 % < 90
    assert flag(observation(bundle, "8867-4")) == "H"      # 125 /min > 120
    components = {c["code"]["coding"][0]["code"]: c for c in observation(bundle, "85354-9")["component"]}
    assert flag(components["8480-6"]) == "H" and flag(components["8462-4"]) == "L" and "interpretation" not in \
        components["8478-0"]
    manual = [o for o in resources(bundle, "Observation") if o["method"]["coding"][0]["code"] == "manual"][0]
    assert "interpretation" not in manual  # 88 /min is normal
    for obs in resources(bundle, "Observation"):
        for item in [obs, *obs.get("component", [])]:
            for interpretation in item.get("interpretation", []):
                assert interpretation["coding"][0]["system"] == \
                    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


@pytest.mark.parametrize("code,value,unit,expected", [
    ("8310-5", "37.7", "Cel", None), ("8310-5", "37.8", "Cel", "H"), ("8310-5", "40.0", "Cel", "HH"),
    ("8310-5", "35.1", "Cel", None), ("8310-5", "35.0", "Cel", "LL"), ("8310-5", "100.4", "[degF]", "H"),
    ("8310-5", "98.6", "[degF]", None), ("59408-5", "92", "%", None), ("59408-5", "91", "%", "L"),
    ("59408-5", "90", "%", "L"), ("59408-5", "89.9", "%", "LL"), ("8867-4", "120", "/min", None),
    ("8867-4", "121", "/min", "H"), ("8867-4", "131", "/min", "HH"), ("8867-4", "51", "/min", None),
    ("8867-4", "50", "/min", "L"), ("8867-4", "40", "/min", "LL"), ("8480-6", "180", "mm[Hg]", None),
    ("8480-6", "181", "mm[Hg]", "H"), ("8480-6", "220", "mm[Hg]", "HH"), ("8480-6", "101", "mm[Hg]", None),
    ("8480-6", "100", "mm[Hg]", "L"), ("8480-6", "90", "mm[Hg]", "LL"), ("8480-6", "12.0", "kPa", "LL"),
    ("8462-4", "110", "mm[Hg]", None), ("8462-4", "111", "mm[Hg]", "H"), ("8462-4", "60", "mm[Hg]", "L"),
    ("8478-0", "40", "mm[Hg]", None),
])
def test_interpretation_thresholds(code, value, unit, expected):
    """The flags the FHIR mapping used to compute, now given by the clinical rules and carried as stored."""
    assert flag_of(code, Decimal(value), unit) == expected
    row = {"id": "m-1", "code": code, "value": value, "unit": unit, "source": "manual", "status": [],
           "panel_id": None, "measured_at": None, "received_at": "2024-05-01T08:00:00+00:00",
           "interpretation": expected}
    if code in ("8480-6", "8462-4", "8478-0"):
        return
    obs = fhir.observation_resource(row, identifier_value="k/obs/1", patient_ref="urn:uuid:p")
    assert [c["code"] for i in obs.get("interpretation", []) for c in i["coding"]] == ([expected] if expected else [])


def test_blood_pressure_in_kpa_is_converted_and_the_reading_kept_in_a_note(store):
    nurse, aide, site = context(store)
    _, oid = full_session(store, qualified_patient(store), nurse, aide, site, bp=("16.0", "10.7", None),
                          bp_unit="kPa")
    bp = observation(fhir.loads(outbox.get_entry(store, oid).payload), "85354-9")
    assert [(c["valueQuantity"]["value"], c["valueQuantity"]["code"]) for c in bp["component"]] == \
        [(Decimal(120), "mm[Hg]"), (Decimal(80), "mm[Hg]")]
    assert "16,0\u00a0kPa" in bp["note"][0]["text"] and "10,7\u00a0kPa" in bp["note"][0]["text"]


def test_encounter(payload):
    bundle = json.loads(payload)
    urls = by_url(bundle)
    (encounter,) = resources(bundle, "Encounter")
    assert (encounter["status"], encounter["class"]["code"], encounter["class"]["system"]) == \
        ("finished", "VR", "http://terminology.hl7.org/CodeSystem/v3-ActCode")
    assert encounter["period"] == {"start": "2024-05-01T10:20:00+02:00", "end": "2024-05-01T10:38:00+02:00"}
    assert encounter["reasonCode"] == [{"text": "Fièvre et essoufflement depuis ce matin"}]
    assert urls[encounter["subject"]["reference"]]["resourceType"] == "Patient"
    assert urls[encounter["serviceProvider"]["reference"]]["name"] == "EHPAD Les Tilleuls"
    individuals = [urls[p["individual"]["reference"]]["resourceType"] for p in encounter["participant"]
                   if "individual" in p]
    assert individuals == ["PractitionerRole", "Practitioner"]  # the nurse, the remote doctor
    assert encounter["identifier"][0]["type"]["coding"][0]["code"] == "VN"


def test_consent(payload):
    bundle = json.loads(payload)
    urls = by_url(bundle)
    (consent,) = resources(bundle, "Consent")
    assert consent["status"] == "active" and consent["provision"]["type"] == "permit"
    assert consent["scope"]["coding"][0]["code"] == "patient-privacy"
    assert consent["category"][0]["coding"][0]["code"] == "59284-0"
    assert consent["policyRule"]["coding"][0]["code"] == "OPTIN"  # ppc-1: policy or policyRule
    assert consent["dateTime"] == "2024-05-01T10:05:00+02:00"
    assert consent["performer"] == [{"display": "Paul Martin (personne de confiance)"}]
    assert urls[consent["patient"]["reference"]]["resourceType"] == "Patient"
    recorder = urls[consent["extension"][0]["valueReference"]["reference"]]
    assert recorder["resourceType"] == "PractitionerRole" and recorder["code"][0]["coding"][0]["code"] == \
        "aide_soignant"


def test_refused_then_given_consent(store):
    nurse, aide, site = context(store)
    sid = store.open_session(qualified_patient(store), site_id=site, staff_id=nurse)
    store.record_consent(sid, decision="refused", recorded_by=nurse)
    store.add_measurement(sid, code="8310-5", value="37.0", unit="Cel")
    first = resources(fhir.loads(outbox.get_entry(store, closing.close_session(store, sid)).payload), "Consent")
    assert [(c["status"], c["provision"]["type"], c["performer"][0]["reference"].startswith("urn:uuid:"))
            for c in first] == [("rejected", "deny", True)]
    sid = store.open_session(store.find_patients()[0]["id"], site_id=site, staff_id=nurse)
    store.record_consent(sid, decision="refused", recorded_by=nurse)
    store.record_consent(sid, decision="given", recorded_by=nurse)
    store.add_measurement(sid, code="8310-5", value="37.0", unit="Cel")
    both = resources(fhir.loads(outbox.get_entry(store, closing.close_session(store, sid)).payload), "Consent")
    assert [c["status"] for c in both] == ["inactive", "active"]


def test_staff_site_and_remote_doctor(payload):
    bundle = json.loads(payload)
    urls = by_url(bundle)
    (organization,) = resources(bundle, "Organization")
    identifiers = {i["system"]: i["value"] for i in organization["identifier"]}
    assert identifiers[fhir.FINESS_SYSTEM] == "750712184"
    assert identifiers["urn:oid:1.2.250.1.71.4.2.2"] == "1750712184"  # idNatSt = 1 + FINESS
    assert identifiers[fhir.ARS_DECLARATION_SYSTEM] == "ARS-IDF-TLC-0042"
    roles = {r["code"][0]["coding"][0]["code"]: r for r in resources(bundle, "PractitionerRole")}
    assert set(roles) == {"infirmier", "aide_soignant"}
    nurse = urls[roles["infirmier"]["practitioner"]["reference"]]
    nurse_ids = {i["system"]: i["value"] for i in nurse["identifier"]}
    assert nurse_ids["https://rpps.esante.gouv.fr"] == "10000000001"
    assert nurse_ids["urn:oid:1.2.250.1.71.4.2.1"] == "810000000001"  # idNatPs = 8 + RPPS
    assert nurse["name"] == [{"text": "Inès Infirmière"}]
    assert all(urls[r["organization"]["reference"]] is organization for r in roles.values())
    doctor = [p for p in resources(bundle, "Practitioner") if p.get("name") == [{"text": "Dr Lucie Distant"}]][0]
    assert {i["system"]: i["value"] for i in doctor["identifier"]}["https://rpps.esante.gouv.fr"] == "10000000009"


def test_composition(payload):
    bundle = json.loads(payload)
    urls = by_url(bundle)
    (composition,) = resources(bundle, "Composition")
    assert composition["type"]["coding"][0] == {"system": "http://loinc.org", "code": "11488-4",
                                                "display": "Consult note"}
    assert composition["title"] == "Compte rendu de téléconsultation assistée" and composition["status"] == "final"
    assert urls[composition["subject"]["reference"]]["resourceType"] == "Patient"
    assert urls[composition["encounter"]["reference"]]["resourceType"] == "Encounter"
    assert [urls[a["reference"]]["resourceType"] for a in composition["author"]] == ["PractitionerRole",
                                                                                    "Practitioner"]
    sections = {s["title"]: s for s in composition["section"]}
    assert list(sections) == ["Motif de la téléconsultation", "Déroulement", "Consentement", "Mesures",
                              "Conclusion du médecin téléconsultant", "Notes de l'équipe soignante",
                              "Synthèse pour le médecin traitant"]
    measured = {e["reference"] for e in sections["Mesures"]["entry"]}
    assert measured == {e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"}
    text = json.dumps(sections, ensure_ascii=False)
    for fragment in ("Fièvre et essoufflement", "38,50\u00a0°C (élevée)", "Suspicion de pneumopathie",
                     "Dr Michel Traitant (RPPS 10000000010)", "radio thoracique", "Numéro de rappel : 01 23 45 67 89",
                     "Accompagnant présent : oui", "Interprète présent : non", "personne de confiance",
                     "le 01/05/2024 10:05", "Début : 01/05/2024 10:20 ; fin : 01/05/2024 10:38"):  # Paris time
        assert fragment in text, fragment
    for section in composition["section"]:
        assert section["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')


def test_narrative_escapes_what_staff_type(store):
    nurse, aide, site = context(store)
    sid = store.open_session(qualified_patient(store), site_id=site, staff_id=nurse)
    store.update_session(sid, reason="<script>alert(1)</script> & co")
    store.add_measurement(sid, code="8310-5", value="37.0", unit="Cel")
    store.set_summary(sid, text="a < b")
    composition = resources(fhir.loads(outbox.get_entry(store, closing.close_session(store, sid)).payload), "Composition")[0]
    divs = "".join(s["text"]["div"] for s in composition["section"])
    assert "<script>" not in divs and "&lt;script&gt;" in divs and "a &lt; b" in divs
    get_fhir_model_class("Composition").model_validate(composition)


# -- determinism, sharing and batching ------------------------------------------------------------------------------

def test_shared_entries_are_byte_identical_across_sessions_and_merged_by_batching(store):
    nurse, aide, site = context(store)
    patient = qualified_patient(store)
    _, first = full_session(store, patient, nurse, aide, site)
    _, second = full_session(store, patient, nurse, aide, site, temperature="37.20", spo2="97", pulse="72",
                             bp=("128", "79", "95"))
    entries = [outbox.get_entry(store, i) for i in (first, second)]
    a, b = (fhir.loads(e.payload)["entry"] for e in entries)
    shared_types = {"Patient", "Organization", "Practitioner", "PractitionerRole", "Device"}
    shared_a = {e["fullUrl"]: fhir.dumps(e) for e in a if e["resource"]["resourceType"] in shared_types}
    shared_b = {e["fullUrl"]: fhir.dumps(e) for e in b if e["resource"]["resourceType"] in shared_types}
    # the remote doctor has an RPPS: the same Practitioner entry in both sessions
    assert shared_a == shared_b and len(shared_a) == 1 + 1 + 3 + 2 + 3
    own_a = {e["fullUrl"] for e in a} - set(shared_a)
    own_b = {e["fullUrl"] for e in b} - set(shared_b)
    assert own_a and own_b and not own_a & own_b
    batch = batching.merge(entries)
    assert batch.deferred == () and batch.entry_count == len(a) + len(b) - len(shared_a)
    merged = fhir.loads(batch.body)["entry"]
    assert len({e["fullUrl"] for e in merged}) == len(merged)


def test_same_rows_give_the_same_bytes(store):
    nurse, aide, site = context(store)
    sid, oid = full_session(store, qualified_patient(store), nurse, aide, site)
    session = store.get_session(sid)
    rebuilt = fhir.dumps_bundle(closing.session_bundle(store, session, store.measurements(sid), store.consents(sid),  # noqa: SLF001
                                              store.get_summary(sid)))
    assert rebuilt == outbox.get_entry(store, oid).payload_bytes


@pytest.fixture(scope="module")
def one_resident(tmp_path_factory):
    """One store, resident, staff and site for every generated reading: each example is a session of its own."""
    with Store(tmp_path_factory.mktemp("h") / "r.db", ins_system=fhir.INS_DEMO_SYSTEM) as store:
        yield store, qualified_patient(store), *context(store)


@settings(max_examples=25, deadline=None)
@given(temperature=st.decimals(min_value=Decimal("30"), max_value=Decimal("43"), places=2),
       spo2=st.integers(50, 100), pulse=st.decimals(min_value=Decimal("20"), max_value=Decimal("250"), places=1),
       systolic=st.integers(60, 260), diastolic=st.integers(30, 140))
def test_any_reading_validates_and_keeps_its_digits(one_resident, temperature, spo2, pulse, systolic, diastolic):
    store, patient, nurse, aide, site = one_resident
    values = dict(temperature=format(temperature, "f"), spo2=str(spo2), pulse=format(pulse, "f"),
                  bp=(str(systolic), str(diastolic), None))
    _, oid = full_session(store, patient, nurse, aide, site, **values)
    data = outbox.get_entry(store, oid).payload_bytes
    Bundle.model_validate_json(data)
    for resource in resources(json.loads(data)):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for text in (values["temperature"], values["spo2"], values["pulse"], str(systolic), str(diastolic)):
        assert re.search(rf'"value":{re.escape(text)}[,}}]'.encode(), data), text


# -- the development server -----------------------------------------------------------------------------------------

def test_a_complete_session_reaches_the_server_exactly_once(store, tmp_path):
    nurse, aide, site = context(store)
    patient = qualified_patient(store)
    _, first = full_session(store, patient, nurse, aide, site)
    payload = outbox.get_entry(store, first).payload_bytes
    count = len(json.loads(payload)["entry"])
    with DevServer(tmp_path / "server.db") as server:
        headers = {"Content-Type": "application/fhir+json"}
        reply = requests.post(server.url, data=payload, headers=headers, timeout=10)
        assert [e["response"]["status"] for e in reply.json()["entry"]] == ["201 Created"] * count
        again = requests.post(server.url, data=payload, headers=headers, timeout=10)  # the lost acknowledgement
        assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * count
        full_session(store, patient, nurse, aide, site, temperature="36.90")  # a second session, same people
        from sync.uploader import Uploader
        assert Uploader(server.url).push(store).sent == 2  # the first is still pending in the outbox: sent too
        held = {t: len(requests.get(f"{server.url}/{t}", timeout=10).json().get("entry", []))
                for t in ("Patient", "Observation", "Encounter", "Consent", "Composition", "Organization",
                          "Practitioner", "PractitionerRole", "Device")}
    assert held == {"Patient": 1, "Observation": 10, "Encounter": 2, "Consent": 2, "Composition": 2,
                    "Organization": 1, "Practitioner": 3, "PractitionerRole": 2, "Device": 3}


def test_a_device_described_differently_in_two_sessions_is_deferred_not_lost(store, tmp_path):
    """The Device Information service is not always read: the same thermometer (same address) may come with or
    without its serial number. Same fullUrl, other content: the second session waits for the next request (and
    the uploader sends it there, without tripping over its own bookkeeping)."""
    patient = qualified_patient(store)
    ids = []
    for device in ({"address": THERMO["address"]}, THERMO):
        sid = store.open_session(patient)
        store.add_measurement(sid, code="8310-5", value="37.10", unit="Cel", device=device)
        ids.append(closing.close_session(store, sid))
    batch = batching.merge([outbox.get_entry(store, i) for i in ids])
    assert batch.ids == ids[:1] and [e.id for e in batch.deferred] == ids[1:]
    with DevServer(tmp_path / "server.db") as server:
        from sync.uploader import Uploader
        result = Uploader(server.url).push(store)
        devices = requests.get(f"{server.url}/Device", timeout=10).json()["entry"]
    assert (result.sent, result.remaining, result.requests) == (2, 0, 2)
    assert len(devices) == 1  # the conditional create matched: one thermometer on the server
