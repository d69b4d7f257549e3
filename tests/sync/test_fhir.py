"""sync.fhir: the frozen session bundle is valid FHIR R4, idempotent by construction, deterministic, and keeps the
decimal precision the device sent."""
from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import fhir
from sync.fhir import bundle as bundle_module
from sync.fhir import narrative

PATIENT = {"id": "0b5f5c1e-8d1c-4c3e-9a49-1f0c2f0e7a11", "family_name": "Martin", "given_name": "Jeanne",
           "birth_date": "1938-04-02", "sex": "F", "birth_place_insee": "75056", "identity_status": "PROV",
           "ins": None, "resident_id": None}
SESSION = {"id": "s-1", "idempotency_key": "6f1c3c0e-2f57-4b0e-8e4c-2b0c8c6f9d21", "patient_id": PATIENT["id"],
           "state": "closed", "opened_at": "2024-05-01T08:00:00+00:00", "closed_at": "2024-05-01T08:20:00+00:00"}


def measurement(**over):
    m = {"id": "m-1", "code": "8310-5", "value": "37.60", "unit": "Cel", "source": "bluetooth",
         "device_name": "Thermo-1", "device_manufacturer": "Acme", "device_model": "T100", "status": ["site:armpit"],
         "measured_at": "2024-05-01T10:15:00+02:00", "received_at": "2024-05-01T08:15:30+00:00"}
    m.update(over)
    return m


def bundle(**over):
    return fhir.session_bundle({**PATIENT, **over.pop("patient", {})}, SESSION, [measurement(**over)])


def test_bundle_and_each_resource_validate_as_fhir_r4():
    data = fhir.dumps_bundle(bundle())
    parsed = Bundle.model_validate_json(data)
    assert parsed.type == "transaction" and len(parsed.entry) == 3  # Patient, Observation, Encounter
    raw = json.loads(data)
    Patient.model_validate(raw["entry"][0]["resource"])
    Encounter.model_validate(raw["entry"][2]["resource"])
    obs = Observation.model_validate(raw["entry"][1]["resource"])
    assert obs.code.coding[0].system == "http://loinc.org" and obs.code.coding[0].code == "8310-5"
    assert obs.category[0].coding[0].code == "vital-signs"
    assert obs.meta.profile == ["http://hl7.org/fhir/StructureDefinition/bodytemp"]
    assert (obs.valueQuantity.system, obs.valueQuantity.code) == ("http://unitsofmeasure.org", "Cel")
    assert obs.status == "final"


def test_decimal_precision_is_kept_in_the_bytes():
    data = fhir.dumps_bundle(bundle(value="37.60"))
    assert b'"value":37.60' in data
    assert b"37.6," not in data and b"37.6}" not in data
    assert fhir.loads(data)["entry"][1]["resource"]["valueQuantity"]["value"] == Decimal("37.60")


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value=Decimal("-50"), max_value=Decimal("200"), places=3, allow_nan=False,
                   allow_infinity=False))
def test_any_decimal_string_reaches_the_json_verbatim(value):
    text = format(value, "f")
    data = fhir.dumps_bundle(bundle(value=text))
    assert f'"value":{text}}}'.encode() in data or f'"value":{text},'.encode() in data
    json.loads(data)  # still valid JSON


@pytest.mark.parametrize("bad", ["37,6", "3.76e1", "037.6", " 37.6", "NaN", "", "37."])
def test_non_decimal_text_is_refused(bad):
    with pytest.raises(ValueError):
        fhir.session_bundle(PATIENT, SESSION, [measurement(value=bad)])


def test_floats_never_serialise():
    with pytest.raises(TypeError):
        fhir.dumps({"value": 37.6})


def test_same_session_gives_byte_identical_json():
    first = fhir.dumps_bundle(bundle())
    second = fhir.dumps_bundle(fhir.session_bundle(dict(reversed(list(PATIENT.items()))), dict(SESSION),
                                                   [measurement()]))
    assert first == second
    keys = list(json.loads(first))
    assert keys == sorted(keys)


def test_entries_are_conditional_creates_with_query_part_only_and_the_encounter_a_conditional_update():
    """The Encounter is written over whatever live send created it first (sync.live): the final state wins."""
    b = bundle()
    patient_entry, obs_entry, encounter_entry = b["entry"]
    assert patient_entry["request"] == {
        "method": "POST", "url": "Patient",
        "ifNoneExist": f"identifier={fhir.NS}/patient-id|{PATIENT['id']}"}
    key = SESSION["idempotency_key"]
    assert obs_entry["request"] == {
        "method": "POST", "url": "Observation",
        "ifNoneExist": f"identifier={fhir.NS}/observation-id|{key}/obs/1-8310-5"}
    for entry in b["entry"]:
        query = entry["request"].get("ifNoneExist") or entry["request"]["url"].removeprefix("Encounter?")
        assert not query.startswith(("Patient?", "Observation?"))
        system, value = query.removeprefix("identifier=").split("|")
        assert (system, value) in [(i["system"], i["value"]) for i in entry["resource"]["identifier"]]
        assert entry["fullUrl"] == f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system}|{value}')}"
    assert obs_entry["resource"]["subject"] == {"reference": patient_entry["fullUrl"]}
    assert obs_entry["resource"]["encounter"] == {"reference": encounter_entry["fullUrl"]}
    assert encounter_entry["request"] == {"method": "PUT",
                                          "url": f"Encounter?identifier={fhir.NS}/encounter-id|{key}"}


def test_identifiers_follow_the_session_key_not_the_call():
    other_session = {**SESSION, "idempotency_key": str(uuid.uuid4())}
    a = fhir.session_bundle(PATIENT, SESSION, [measurement()])
    b = fhir.session_bundle(PATIENT, other_session, [measurement()])
    assert a["entry"][0]["fullUrl"] == b["entry"][0]["fullUrl"]  # same patient
    assert a["entry"][1]["fullUrl"] != b["entry"][1]["fullUrl"]  # another session, another observation


def test_ins_only_on_a_qualified_identity():
    ins = "238047505612328"
    qual = bundle(patient={"identity_status": "QUAL", "ins": ins})["entry"][0]["resource"]
    systems = {i["system"]: i["value"] for i in qual["identifier"]}
    assert systems["urn:oid:1.2.250.1.213.1.4.8"] == ins
    vali = bundle(patient={"identity_status": "VALI", "ins": ins})["entry"][0]["resource"]
    assert "urn:oid:1.2.250.1.213.1.4.8" not in json.dumps(vali)
    status = vali["extension"][0]["extension"][0]["valueCoding"]["code"]
    assert status == "VALI"


@pytest.mark.parametrize("sex,gender", [("F", "female"), ("M", "male"), ("I", "unknown")])
def test_gender_mapping(sex, gender):
    patient = bundle(patient={"sex": sex})["entry"][0]["resource"]
    assert patient["gender"] == gender
    assert patient["name"] == [{"use": "official", "family": "Martin", "given": ["Jeanne"]}]
    assert patient["birthDate"] == "1938-04-02"


def test_effective_time_prefers_device_time_and_always_has_a_zone():
    with_device = bundle()["entry"][1]["resource"]["effectiveDateTime"]
    assert with_device == "2024-05-01T10:15:00+02:00"
    without = bundle(measured_at=None)["entry"][1]["resource"]["effectiveDateTime"]
    assert without == "2024-05-01T08:15:30+00:00"
    for text in (with_device, without):
        assert re.search(r"([+-]\d\d:\d\d|Z)$", text)
    with pytest.raises(ValueError):
        bundle(measured_at="2024-05-01T10:15:00")


def test_unknown_code_or_unit_is_refused():
    with pytest.raises(ValueError):
        bundle(code="1234-5")
    with pytest.raises(ValueError):
        bundle(unit="K")


def test_blood_pressure_components_only_travel_as_a_panel():
    systolic = measurement(code="8480-6", value="120", unit="mm[Hg]", panel_id="p")
    diastolic = measurement(code="8462-4", value="80", unit="mm[Hg]", panel_id="p")
    with pytest.raises(ValueError):  # a component alone is not an Observation
        fhir.observation_resource(systolic, identifier_value="x", patient_ref="urn:uuid:p")
    with pytest.raises(ValueError):  # no panel_id: no panel can be made
        fhir.session_bundle(PATIENT, SESSION, [{**systolic, "panel_id": None}])
    with pytest.raises(ValueError):  # a panel needs the diastolic too
        fhir.session_bundle(PATIENT, SESSION, [systolic])
    b = fhir.session_bundle(PATIENT, SESSION, [measurement(), systolic, diastolic])
    observations = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert [o["identifier"][0]["value"].split("/obs/")[1] for o in observations] == ["1-8310-5", "2-85354-9"]


def test_decimals_keep_their_text_and_what_json_cannot_hold_is_refused():
    assert fhir.dumps({"b": (Decimal("0.10"), 2, None), "a": ["é", True]}) == '{"a":["é",true],"b":[0.10,2,null]}'
    assert fhir.loads(fhir.dumps_bundle({"v": Decimal("-0.500")})) == {"v": Decimal("-0.500")}
    with pytest.raises(ValueError):
        fhir.dumps({"value": Decimal("NaN")})
    with pytest.raises(TypeError):
        fhir.dumps({1: "key is not a string"})


def test_a_resource_reached_twice_is_one_entry():
    entries = bundle_module.Entries()
    first = entries.add({"resourceType": "Device", "identifier": []}, fhir.DEVICE_ADDRESS_SYSTEM, "A4:C1")
    again = entries.add({"resourceType": "Device", "identifier": [], "other": 1}, fhir.DEVICE_ADDRESS_SYSTEM, "A4:C1")
    assert again is first and entries.items == [first]


@pytest.mark.parametrize("number,shown", [("0123456789", "01 23 45 67 89"), ("+33612345678", "+33612345678"),
                                          ("01 23 45 67 89", "01 23 45 67 89"), ("012345678", "012345678")])
def test_callback_numbers_read_in_pairs(number, shown):
    assert narrative.fr_phone(number) == shown


def test_narrative_times_are_paris_wall_clock_time_and_values_keep_their_digits():
    assert narrative.fr_datetime("2024-01-15T09:00:00+00:00") == "15/01/2024 10:00"  # winter: UTC+1
    assert narrative.fr_datetime("2024-07-14T06:00:00Z") == "14/07/2024 08:00"  # summer: UTC+2
    assert narrative.fr_quantity(Decimal("37.60"), "Cel") == "37,60\u00a0°C"
    assert narrative.fr_quantity("16.0", "kPa") == "16,0\u00a0kPa"
    assert narrative.narrative(["a < b", "", "c"])["div"] == \
        '<div xmlns="http://www.w3.org/1999/xhtml"><p>a &lt; b</p><p>c</p></div>'
