"""FHIR resources as the doctor reads them, without a server: Paris time either side of a clock change, the INS
only on a qualified identity, units in words, and resources that do not fit becoming "unreadable" rows."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sync.server.doctors import french, records
from sync.vocabulary import INS_TEST_SYSTEM

TODAY = dt.date(2026, 12, 1)
RELIABILITY = [{"url": records.IDENTITY_RELIABILITY,
                "extension": [{"url": "identityStatus", "valueCoding": {"code": "VALI"}}]}]


@pytest.mark.parametrize("instant, shown", [
    ("2026-07-01T10:00:00Z", "01/07/2026 12:00"),           # summer time: UTC+2
    ("2026-12-01T10:00:00+00:00", "01/12/2026 11:00"),      # winter time: UTC+1
    ("2026-10-25T00:30:00Z", "25/10/2026 02:30"),           # the night the clocks go back
    ("2026-11-26T18:21:30+01:00", "26/11/2026 18:21"),
    ("2026-11-26", ""), ("not a date", ""), (None, ""),
])
def test_times_are_shown_in_paris(instant, shown):
    assert french.local_time(instant) == shown


def test_the_ins_is_shown_only_on_a_qualified_identity():
    patient = {"resourceType": "Patient", "id": "p1", "extension": RELIABILITY, "gender": "female",
               "birthDate": "1936-03-14", "name": [{"use": "official", "family": "Démo", "given": ["Lise"]}],
               "identifier": [{"system": INS_TEST_SYSTEM, "value": "236037505600008"}]}
    view = records.patient_view(patient, TODAY)
    assert (view.ins, view.identity, view.age, view.sex) == (None, "Identité validée", 90, "Femme")
    patient["extension"][0]["extension"][0]["valueCoding"]["code"] = "QUAL"
    assert records.patient_view(patient, TODAY).ins == "236037505600008"


@pytest.mark.parametrize("quantity, shown", [
    ({"value": Decimal("37.60"), "code": "Cel", "unit": "Cel"}, "37,60 °C"),
    ({"value": Decimal("99.1"), "code": "[degF]"}, "99,1 °F"),
    ({"value": 12, "code": "kPa"}, "12 kPa"),
])
def test_units_are_words(quantity, shown):
    observation = {"resourceType": "Observation", "id": "o1", "code": {"coding": [{"code": "8310-5"}]},
                   "valueQuantity": quantity}
    assert records.measurement(observation).value == shown


@pytest.mark.parametrize("resource", [
    {"resourceType": "Observation", "id": "o2", "code": {"coding": [{"code": "8867-4"}]},
     "valueQuantity": {"value": True}},
    {"resourceType": "Observation", "id": "o3", "code": "8867-4", "valueQuantity": {"value": 80}},
    {"resourceType": "Observation", "id": "o4", "code": {"coding": [{"code": "85354-9"}]},
     "component": [{"code": {"coding": [{"code": "8480-6"}]}}]},
    {"resourceType": "Observation", "id": "o5", "code": {"coding": [{"code": "8867-4"}]}},
])
def test_an_observation_that_does_not_fit_is_unreadable(resource):
    assert records.measurement(resource) == records.Unreadable("Observation", resource["id"])


def test_a_patient_or_encounter_that_does_not_fit_is_unreadable():
    assert records.patient_view({"id": "p2", "name": 42}, TODAY) == records.Unreadable("Patient", "p2")
    assert records.session_view({"id": "e2"}) == records.Unreadable("Encounter", "e2")
    assert records.report_sections({"id": "c2", "section": 7}) == records.Unreadable("Composition", "c2")
