"""What the other side does, for tests of the tablet receiving the doctor's answer: the session so far sent to the
server (as the tablet does at call start), and the doctor's conclusions written there as the doctors' application
writes them: a transaction holding `PUT ClinicalImpression?identifier=…` built by sync.fhir.exchange."""
from __future__ import annotations

import dataclasses
from typing import Any

import requests

from sync import closing, fhir
from sync.fhir.exchange import CONCLUSIONS_ID_SYSTEM, DoctorConclusions, conclusions_resource, conclusions_value

HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
SIGNED = DoctorConclusions(session_key="", doctor_name="Dr Claire Démo-Martin", doctor_rpps="10101010101",
                           conclusion="Bronchite probable <sans> signe de gravité & surveillance.", orientation="gp",
                           orientation_detail="sous 48 h", prescriptions="Paracétamol 1 g si fièvre > 38,5",
                           written_at="2026-11-22T08:10:00+01:00")


def post(url: str, bundle: dict[str, Any]) -> dict[str, Any]:
    reply = requests.post(url, data=fhir.dumps_bundle(bundle), headers=HEADERS, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def send_session_so_far(url: str, store, session_id: str) -> None:
    """The open session's bundle (Patient, Encounter, Observations, Consent…), every entry a conditional create."""
    session = store.get_session(session_id)
    bundle = closing.session_bundle(store, session, store.measurements(session_id), store.consents(session_id), None)
    post(url, bundle)


def encounter_of(url: str, session_key: str) -> dict[str, Any]:
    reply = requests.get(f"{url}/Encounter", params={"identifier": f"{fhir.ENCOUNTER_ID_SYSTEM}|{session_key}"},
                         headers=HEADERS, timeout=30)
    [entry] = reply.json()["entry"]
    return entry["resource"]


def doctor_signs(url: str, session_key: str, *, encounter: dict[str, Any], resource: dict[str, Any] | None = None,
                 **changes: Any) -> None:
    """The doctor signs conclusions for `session_key` (linked to `encounter`, tagged with its site); writing again
    makes a new version of the same resource. `resource`: a hand-made one instead (a broken one, say)."""
    if resource is None:
        signed = dataclasses.replace(SIGNED, session_key=session_key, **changes)
        resource = conclusions_resource(signed, patient_ref=encounter["subject"]["reference"],
                                        encounter_ref=f"Encounter/{encounter['id']}",
                                        site_tag=encounter["meta"]["tag"][0])
    target = f"ClinicalImpression?identifier={CONCLUSIONS_ID_SYSTEM}|{conclusions_value(session_key)}"
    post(url, {"resourceType": "Bundle", "type": "transaction",
               "entry": [{"resource": resource, "request": {"method": "PUT", "url": target}}]})
