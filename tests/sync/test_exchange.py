"""The request and the doctor's conclusions as FHIR resources: written by one side, read back by the other."""
from __future__ import annotations

import dataclasses

import pytest

from sync.fhir.exchange import (CONCLUSIONS_ID_SYSTEM, ORIENTATION_EXTENSION, DoctorConclusions, conclusions_resource,
                                read_conclusions, request_task, session_key_of)

WRITTEN = DoctorConclusions(session_key="k-1", doctor_name="Dr Claire Martin", doctor_rpps="10101010101",
                            conclusion="Bronchite probable.", orientation="gp", orientation_detail="sous 48 h",
                            prescriptions="Paracétamol 1 g si fièvre > 38,5", written_at="2026-12-01T10:00:00+01:00")


def test_conclusions_read_back_unchanged():
    resource = conclusions_resource(WRITTEN, patient_ref="Patient/p", encounter_ref="Encounter/e")
    assert resource["identifier"] == [{"system": CONCLUSIONS_ID_SYSTEM, "value": "k-1/conclusions"}]
    assert read_conclusions(resource) == WRITTEN


def test_conclusions_without_orientation_or_prescriptions():
    bare = dataclasses.replace(WRITTEN, orientation=None, orientation_detail="", prescriptions="")
    resource = conclusions_resource(bare, patient_ref="Patient/p", encounter_ref="Encounter/e")
    assert "extension" not in resource
    assert read_conclusions(resource) == bare


@pytest.mark.parametrize("change", [
    {"conclusion": "  "}, {"conclusion": "x" * 4001}, {"orientation": "moon"}, {"doctor_rpps": "１０１０１０１０１０１"},
    {"doctor_rpps": "123"}, {"written_at": "2026-12-01T10:00:00"}, {"doctor_name": ""}, {"prescriptions": "p" * 4001},
])
def test_what_is_refused_before_it_is_written(change):
    with pytest.raises(ValueError):
        conclusions_resource(dataclasses.replace(WRITTEN, **change), patient_ref="Patient/p", encounter_ref="E/e")


def test_a_stored_resource_that_does_not_fit_is_refused_not_guessed():
    good = conclusions_resource(WRITTEN, patient_ref="Patient/p", encounter_ref="Encounter/e")
    for broken in ({**good, "status": "in-progress"}, {**good, "identifier": []}, {**good, "summary": None},
                   {**good, "extension": [{"url": ORIENTATION_EXTENSION, "valueCodeableConcept": {}}]},
                   {**good, "identifier": [{"system": CONCLUSIONS_ID_SYSTEM, "value": "k-1/request"}]}):
        with pytest.raises(ValueError):
            read_conclusions(broken)


def test_request_task():
    task = request_task(session_key="k-1", kind="teleexpertise", status="requested", reason="Toux",
                        authored_on="2026-12-01T10:00:00+01:00", patient_ref="urn:uuid:p", encounter_ref="urn:uuid:e",
                        requester_ref="urn:uuid:r", owner={"name": "Dr Martin", "rpps": "10101010101"})
    assert task["code"]["coding"][0]["code"] == "teleexpertise" and task["focus"] == {"reference": "urn:uuid:e"}
    assert session_key_of(task["identifier"][0]["value"], "request") == "k-1"
    with pytest.raises(ValueError):
        request_task(session_key="k", kind="visio", status="requested", reason=None, authored_on="x",
                     patient_ref="p", encounter_ref="e", requester_ref=None)
