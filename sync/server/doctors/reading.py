"""What each page reads from the FHIR server, and the check that it belongs to one of the doctor's sites.

Only searches both engines answer are used (the development server and Medplum's): `Organization?identifier=`,
`Encounter?service-provider=…&date=ge…&_include=Encounter:subject`, `Observation?encounter=`,
`Composition?encounter=`, `Observation?subject=…&date=ge…`, and reads by id. A session or a patient whose site is
not one of the doctor's is answered exactly like an unknown id, so a URL tells nothing about another site.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sync.fhir import FINESS_SYSTEM, SITE_ID_SYSTEM
from sync.server.access import site_identifiers
from sync.server.doctors import records
from sync.server.doctors.accounts import Doctor
from sync.server.doctors.fhir_client import FhirReader
from sync.server.doctors.guard import Refused

HISTORY = dt.timedelta(days=90)
RECENT_SHOWN = 50
NOT_FOUND = "Aucune séance ni aucun patient de vos sites ne porte cet identifiant."


@dataclass
class Worklist:
    site: str
    site_name: str
    waiting: list[tuple[records.SessionView, Any]] = field(default_factory=list)
    recent: list[tuple[records.SessionView, Any]] = field(default_factory=list)
    unreadable: list[records.Unreadable] = field(default_factory=list)


def _since(now: dt.datetime) -> str:
    return f"ge{(now - HISTORY).date().isoformat()}"


def site_organizations(reader: FhirReader, site: str) -> list[dict[str, Any]]:
    """The Organizations carrying this FINESS or local site id."""
    found = {o["id"]: o for system in (FINESS_SYSTEM, SITE_ID_SYSTEM)
             for o in reader.search("Organization", [("identifier", f"{system}|{site}")]) if o.get("id")}
    return list(found.values())


def worklist(reader: FhirReader, site: str, now: dt.datetime) -> Worklist:
    """Sessions waiting for a doctor first (oldest first), then the recent ones (newest first)."""
    organizations = site_organizations(reader, site)
    result = Worklist(site, next((str(o.get("name")) for o in organizations if o.get("name")), site))
    patients: dict[str, Any] = {}
    sessions: list[records.SessionView] = []
    for organization in organizations:
        found = reader.search("Encounter", [("service-provider", f"Organization/{organization['id']}"),
                                            ("date", _since(now)), ("_include", "Encounter:subject"),
                                            ("_count", "200")])
        for resource in found:
            if resource.get("resourceType") == "Patient":
                patients[f"Patient/{resource.get('id')}"] = records.patient_view(resource, now.date())
            elif resource.get("resourceType") == "Encounter":
                view = records.session_view(resource)
                (result.unreadable if isinstance(view, records.Unreadable) else sessions).append(view)
    rows = [(s, patients.get(str(s.patient_reference))) for s in sessions]
    result.waiting = sorted((r for r in rows if r[0].waiting), key=lambda r: r[0].start_key)
    result.recent = sorted((r for r in rows if not r[0].waiting), key=lambda r: r[0].start_key,
                           reverse=True)[:RECENT_SHOWN]
    return result


def _at_doctors_site(reader: FhirReader, doctor: Doctor, reference: Any) -> bool:
    organization_id = records.reference_id({"reference": reference}, "Organization")
    organization = reader.read("Organization", organization_id) if organization_id else None
    return organization is not None and bool(site_identifiers(organization) & set(doctor.sites))


@dataclass
class SessionPage:
    encounter_id: str
    session: records.SessionView | records.Unreadable
    patient: records.PatientView | records.Unreadable | None
    measurements: list[records.Measurement | records.Unreadable]
    report: list[records.ReportSection] | records.Unreadable | None
    news2: str


def session_page(reader: FhirReader, doctor: Doctor, encounter_id: str, today: dt.date) -> SessionPage:
    encounter = reader.read("Encounter", encounter_id)
    if encounter is None or not _at_doctors_site(reader, doctor, (encounter.get("serviceProvider") or {}).get(
            "reference")):
        raise Refused(404, NOT_FOUND)
    session = records.session_view(encounter)
    patient_id = records.reference_id(encounter.get("subject"), "Patient")
    patient_resource = reader.read("Patient", patient_id) if patient_id else None
    patient = records.patient_view(patient_resource, today) if patient_resource else None
    observations = reader.search("Observation", [("encounter", f"Encounter/{encounter_id}")])
    measurements = sorted((records.measurement(o) for o in observations),
                          key=lambda m: getattr(m, "sort_key", ""))
    compositions = reader.search("Composition", [("encounter", f"Encounter/{encounter_id}")])
    report = records.report_sections(compositions[-1]) if compositions else None
    return SessionPage(encounter_id, session, patient, measurements, report,
                       records.news2_text(records.session_news2(measurements)))


def patient_at_doctors_site(reader: FhirReader, doctor: Doctor, patient_id: str) -> dict[str, Any]:
    """The Patient when one of its sessions, or its managing site, is one of the doctor's; else 404."""
    patient = reader.read("Patient", patient_id)
    if patient is not None:
        managing = (patient.get("managingOrganization") or {}) if isinstance(patient, dict) else {}
        if _at_doctors_site(reader, doctor, managing.get("reference")):
            return patient
        for encounter in reader.search("Encounter", [("subject", f"Patient/{patient_id}")]):
            if _at_doctors_site(reader, doctor, (encounter.get("serviceProvider") or {}).get("reference")):
                return patient
    raise Refused(404, NOT_FOUND)


def patient_history(reader: FhirReader, patient_id: str, now: dt.datetime) -> list[records.Measurement
                                                                                 | records.Unreadable]:
    """The patient's measurements of the last 90 days, oldest first."""
    found = reader.search("Observation", [("subject", f"Patient/{patient_id}"), ("date", _since(now))])
    return sorted((records.measurement(o) for o in found), key=lambda m: getattr(m, "sort_key", ""))
