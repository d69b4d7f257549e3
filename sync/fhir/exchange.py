"""What the tablet and the remote doctor exchange around one session, as HL7 FHIR R4 resources.

- The request (`Task`, FHIR R4 workflow): the tablet asks a remote doctor for a live teleconsultation or for advice
  without a call (téléexpertise, store and forward). It is sent with the session so far, its `focus` is the
  session's Encounter; the doctor's worklist lists the requests still `requested` or `in-progress`.
- The doctor's conclusions (`ClinicalImpression`): what the doctor writes in their own view (conclusion, orientation,
  prescriptions), attributed to their RPPS by the account they signed in with, linked to the Encounter. Written by a
  conditional update on one identifier per session, so writing again replaces (a new version) and never adds a
  second one; the tablet pulls it and staff accept it into the summary unchanged.

Both sides use this module (the tablet's bundles and puller, the doctors' web application): one place for the
identifiers, codes and extensions, and a reader that refuses a resource that does not fit instead of guessing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from sync.fhir.terminology import BASE, NS, RPPS_SYSTEM

REQUEST_ID_SYSTEM = f"{NS}/request-id"          # Task: "{session idempotency key}/request"
CONCLUSIONS_ID_SYSTEM = f"{NS}/conclusions-id"  # ClinicalImpression: "{session idempotency key}/conclusions"
REQUEST_KIND_SYSTEM = f"{BASE}/CodeSystem/request-kind"
ORIENTATION_SYSTEM = f"{BASE}/CodeSystem/orientation"
ORIENTATION_EXTENSION = f"{BASE}/StructureDefinition/orientation"        # valueCodeableConcept, text = detail
PRESCRIPTIONS_EXTENSION = f"{BASE}/StructureDefinition/prescriptions"    # valueString

# What the tablet asks for: a live call, or advice without a call (Code de la santé publique, art. R6316-1:
# téléconsultation and téléexpertise are the two acts of telemedicine).
REQUEST_KINDS = {"teleconsultation": "Téléconsultation assistée",
                 "teleexpertise": "Demande d'avis (téléexpertise)"}
# Where the patient goes next, as the session's report writes it (French: the report goes to French doctors).
ORIENTATIONS_FR = {
    "stay": "Maintien sur place avec surveillance",
    "gp": "Consultation du médecin traitant",
    "specialist": "Avis spécialisé",
    "emergency": "Urgences / SAMU (15)",
    "hospital": "Hospitalisation programmée",
}
# Task.status values the doctor's worklist shows as waiting (FHIR R4 task-status)
WAITING_STATUSES = ("requested", "received", "accepted", "in-progress")
# Bounds of what a doctor may write (characters), checked by the form and again by the reader
CONCLUSION_MAX = 4000
DETAIL_MAX = 500
PRESCRIPTIONS_MAX = 4000


def request_value(session_key: str) -> str:
    return f"{session_key}/request"


def conclusions_value(session_key: str) -> str:
    return f"{session_key}/conclusions"


def session_key_of(identifier_value: str, suffix: str) -> str:
    """The session's idempotency key out of a request or conclusions identifier value ("KEY/request")."""
    if not identifier_value.endswith("/" + suffix) or len(identifier_value) <= len(suffix) + 1:
        raise ValueError(f"identifier {identifier_value!r} is not a session's {suffix}")
    return identifier_value[: -len(suffix) - 1]


def request_task(*, session_key: str, kind: str, status: str, reason: str | None, authored_on: str,
                 patient_ref: str, encounter_ref: str, requester_ref: str | None,
                 owner: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The request for a doctor. `owner`: the remote doctor when staff know them ({"name", "rpps"}), else the
    request is for any doctor serving the site. `authored_on`: ISO date-time with its zone."""
    if kind not in REQUEST_KINDS:
        raise ValueError(f"unknown request kind {kind!r}")
    task: dict[str, Any] = {
        "resourceType": "Task",
        "identifier": [{"system": REQUEST_ID_SYSTEM, "value": request_value(session_key)}],
        "status": status,
        "intent": "order",
        "code": {"coding": [{"system": REQUEST_KIND_SYSTEM, "code": kind, "display": REQUEST_KINDS[kind]}],
                 "text": REQUEST_KINDS[kind]},
        "focus": {"reference": encounter_ref},
        "encounter": {"reference": encounter_ref},
        "for": {"reference": patient_ref},
        "authoredOn": authored_on,
    }
    if reason:
        task["description"] = reason
    if requester_ref:
        task["requester"] = {"reference": requester_ref}
    if owner and (owner.get("name") or owner.get("rpps")):
        ref: dict[str, Any] = {"display": owner.get("name") or ""}
        if owner.get("rpps"):
            ref["identifier"] = {"system": RPPS_SYSTEM, "value": owner["rpps"]}
        task["owner"] = ref
    return task


@dataclass(frozen=True)
class DoctorConclusions:
    """The doctor's own words for one session, as the tablet stores and shows them."""

    session_key: str
    doctor_name: str
    doctor_rpps: str | None
    conclusion: str
    orientation: str | None          # a key of ORIENTATIONS_FR
    orientation_detail: str
    prescriptions: str
    written_at: str                  # ISO date-time with its zone
    resource_id: str | None = None   # the server's id and version, to tell a new version from one already seen
    version: str | None = None


def conclusions_resource(c: DoctorConclusions, *, patient_ref: str, encounter_ref: str,
                         assessor_ref: str | None = None, site_tag: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ClinicalImpression holding the doctor's conclusions (status completed, `summary` = the conclusion)."""
    check_conclusions(c)
    assessor: dict[str, Any] = {"display": c.doctor_name}
    if assessor_ref:
        assessor["reference"] = assessor_ref
    if c.doctor_rpps:
        assessor["identifier"] = {"system": RPPS_SYSTEM, "value": c.doctor_rpps}
    resource: dict[str, Any] = {
        "resourceType": "ClinicalImpression",
        "identifier": [{"system": CONCLUSIONS_ID_SYSTEM, "value": conclusions_value(c.session_key)}],
        "status": "completed",
        "description": "Conclusions du médecin téléconsultant",
        "subject": {"reference": patient_ref},
        "encounter": {"reference": encounter_ref},
        "date": c.written_at,
        "assessor": assessor,
        "summary": c.conclusion,
    }
    extensions = []
    if c.orientation:
        concept: dict[str, Any] = {"coding": [{"system": ORIENTATION_SYSTEM, "code": c.orientation,
                                               "display": ORIENTATIONS_FR[c.orientation]}]}
        if c.orientation_detail:
            concept["text"] = c.orientation_detail
        extensions.append({"url": ORIENTATION_EXTENSION, "valueCodeableConcept": concept})
    if c.prescriptions:
        extensions.append({"url": PRESCRIPTIONS_EXTENSION, "valueString": c.prescriptions})
    if extensions:
        resource["extension"] = extensions
    if site_tag:
        resource["meta"] = {"tag": [dict(site_tag)]}
    return resource


def check_conclusions(c: DoctorConclusions) -> None:
    """Refuse what must never be stored or shown as a doctor's conclusions (ValueError naming the field)."""
    if not c.conclusion.strip():
        raise ValueError("conclusion: empty")
    if len(c.conclusion) > CONCLUSION_MAX:
        raise ValueError("conclusion: too long")
    if c.orientation is not None and c.orientation not in ORIENTATIONS_FR:
        raise ValueError("orientation: unknown")
    if len(c.orientation_detail) > DETAIL_MAX:
        raise ValueError("orientation_detail: too long")
    if len(c.prescriptions) > PRESCRIPTIONS_MAX:
        raise ValueError("prescriptions: too long")
    if not c.doctor_name.strip():
        raise ValueError("doctor_name: empty")
    if c.doctor_rpps is not None and not (len(c.doctor_rpps) == 11 and c.doctor_rpps.isascii()
                                          and c.doctor_rpps.isdigit()):
        raise ValueError("doctor_rpps: not 11 digits")
    parsed = dt.datetime.fromisoformat(c.written_at)
    if parsed.tzinfo is None:
        raise ValueError("written_at: no timezone")


def _identifier_value(resource: Mapping[str, Any], system: str) -> str:
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == system:
            value = identifier.get("value")
            if isinstance(value, str):
                return value
    raise ValueError(f"no identifier of system {system}")


def _extension(resource: Mapping[str, Any], url: str) -> Mapping[str, Any] | None:
    for extension in resource.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == url:
            return extension
    return None


def read_conclusions(resource: Mapping[str, Any]) -> DoctorConclusions:
    """The conclusions out of a stored ClinicalImpression; ValueError when it does not fit (never a guess)."""
    if resource.get("resourceType") != "ClinicalImpression" or resource.get("status") != "completed":
        raise ValueError("not a completed ClinicalImpression")
    key = session_key_of(_identifier_value(resource, CONCLUSIONS_ID_SYSTEM), "conclusions")
    assessor = resource.get("assessor") or {}
    if not isinstance(assessor, dict):
        raise ValueError("assessor: not a reference")
    rpps = (assessor.get("identifier") or {}).get("value") if isinstance(assessor.get("identifier"), dict) else None
    orientation, detail = None, ""
    extension = _extension(resource, ORIENTATION_EXTENSION)
    if extension is not None:
        concept = extension.get("valueCodeableConcept") or {}
        codes = [c.get("code") for c in concept.get("coding") or [] if c.get("system") == ORIENTATION_SYSTEM]
        if len(codes) != 1:
            raise ValueError("orientation: no code")
        orientation, detail = codes[0], concept.get("text") or ""
    prescriptions = (_extension(resource, PRESCRIPTIONS_EXTENSION) or {}).get("valueString") or ""
    meta = resource.get("meta") or {}
    conclusions = DoctorConclusions(
        session_key=key, doctor_name=str(assessor.get("display") or ""), doctor_rpps=rpps,
        conclusion=resource.get("summary") or "", orientation=orientation, orientation_detail=str(detail),
        prescriptions=str(prescriptions), written_at=str(resource.get("date") or ""),
        resource_id=resource.get("id"), version=meta.get("versionId"))
    check_conclusions(conclusions)
    return conclusions
