"""What each page reads from the FHIR server, and the check that it belongs to one of the doctor's sites.

Only searches both engines answer are used (the development server and Medplum's): `Organization?identifier=`,
`Encounter?service-provider=…&date=ge…&_include=Encounter:subject`, `Observation?encounter=`,
`Composition?encounter=`, `Observation?subject=…&date=ge…`, `Task?_tag=…&status=…&_include=Task:patient`,
`Task?identifier=`, `ClinicalImpression?encounter=`, and reads by id. A session or a patient whose site is
not one of the doctor's is answered exactly like an unknown id, so a URL tells nothing about another site.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sync.fhir import ENCOUNTER_ID_SYSTEM, FINESS_SYSTEM, SITE_ID_SYSTEM, SITE_TAG_SYSTEM
from sync.fhir.exchange import (REQUEST_ID_SYSTEM, WAITING_STATUSES, DoctorConclusions, read_conclusions,
                                request_value)
from sync.server.access import site_identifiers
from sync.server.doctors import records, tasks
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
    requests: list[tuple[tasks.RequestView, Any]] = field(default_factory=list)
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


def waiting_requests(reader: FhirReader, site: str, now: dt.datetime, patients: dict[str, Any]
                     ) -> tuple[list[tuple[tasks.RequestView, Any]], list[records.Unreadable]]:
    """The site's requests still waiting for a doctor, the longest waiting first, each with its patient."""
    found = reader.search("Task", [("_tag", f"{SITE_TAG_SYSTEM}|{site}"), ("status", ",".join(WAITING_STATUSES)),
                                   ("_include", "Task:patient"), ("_count", "200")])
    views: list[tasks.RequestView] = []
    unreadable: list[records.Unreadable] = []
    for resource in found:
        if resource.get("resourceType") == "Patient":
            patients[f"Patient/{resource.get('id')}"] = records.patient_view(resource, now.date())
        elif resource.get("resourceType") == "Task":
            view = tasks.request_view(resource, now)
            if isinstance(view, records.Unreadable):
                unreadable.append(view)
            elif view.waiting:  # an engine ignoring the status filter shows nothing it should not
                views.append(view)
    views.sort(key=lambda v: v.sort_key)
    return [(v, patients.get(str(v.patient_reference))) for v in views], unreadable


def worklist(reader: FhirReader, site: str, now: dt.datetime) -> Worklist:
    """Requests waiting for a doctor first (the longest waiting first), then the sessions in progress without one
    (oldest first), then the recent ones (newest first)."""
    organizations = site_organizations(reader, site)
    result = Worklist(site, next((str(o.get("name")) for o in organizations if o.get("name")), site))
    patients: dict[str, Any] = {}
    result.requests, result.unreadable = waiting_requests(reader, site, now, patients)
    requested = {r.encounter_id for r, _ in result.requests}
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
    result.waiting = sorted((r for r in rows if r[0].waiting and r[0].id not in requested),
                            key=lambda r: r[0].start_key)
    result.recent = sorted((r for r in rows if not r[0].waiting), key=lambda r: r[0].start_key,
                           reverse=True)[:RECENT_SHOWN]
    return result


def _at_doctors_site(reader: FhirReader, doctor: Doctor, reference: Any) -> bool:
    organization_id = records.reference_id({"reference": reference}, "Organization")
    organization = reader.read("Organization", organization_id) if organization_id else None
    return organization is not None and bool(site_identifiers(organization) & set(doctor.sites))


@dataclass
class LivePart:
    """What refreshes by itself while the session goes on: the measurements, their NEWS2, and whether it goes on."""

    encounter_id: str
    measurements: list[records.Measurement | records.Unreadable]
    news2: str
    live: bool
    read_at: dt.datetime


@dataclass
class SessionPage:
    encounter_id: str
    session: records.SessionView | records.Unreadable
    patient: records.PatientView | records.Unreadable | None
    measurements: LivePart
    report: list[records.ReportSection] | records.Unreadable | None
    request: tasks.RequestView | records.Unreadable | None
    conclusions: list[DoctorConclusions | records.Unreadable]


@dataclass
class ScopedEncounter:
    """An Encounter of one of the doctor's sites, with what writing conclusions for it needs."""

    resource: dict[str, Any]
    session_key: str | None      # ENCOUNTER_ID_SYSTEM identifier: the tablet's session
    site_tag: dict[str, str] | None
    patient_id: str | None


def scoped_encounter(reader: FhirReader, doctor: Doctor, encounter_id: str) -> ScopedEncounter:
    """The Encounter when its site is one of the doctor's; 404 otherwise, like an unknown id."""
    encounter = reader.read("Encounter", encounter_id)
    if encounter is None or not _at_doctors_site(reader, doctor, (encounter.get("serviceProvider") or {}).get(
            "reference")):
        raise Refused(404, NOT_FOUND)
    key = next((str(i.get("value")) for i in encounter.get("identifier") or []
                if isinstance(i, dict) and i.get("system") == ENCOUNTER_ID_SYSTEM and i.get("value")), None)
    tag = next(({"system": SITE_TAG_SYSTEM, "code": str(t["code"])} for t in (encounter.get("meta") or {}).get(
        "tag") or [] if isinstance(t, dict) and t.get("system") == SITE_TAG_SYSTEM and t.get("code")), None)
    return ScopedEncounter(encounter, key, tag, records.reference_id(encounter.get("subject"), "Patient"))


def session_request(reader: FhirReader, scoped: ScopedEncounter) -> dict[str, Any] | None:
    """The session's request (Task "{key}/request"), None when it has none."""
    if scoped.session_key is None:
        return None
    found = reader.search("Task", [("identifier", f"{REQUEST_ID_SYSTEM}|{request_value(scoped.session_key)}")])
    return found[0] if found else None


def live_part(reader: FhirReader, scoped: ScopedEncounter, task: dict[str, Any] | None,
              now: dt.datetime) -> LivePart:
    encounter_id = str(scoped.resource.get("id"))
    observations = reader.search("Observation", [("encounter", f"Encounter/{encounter_id}")])
    measurements = sorted((records.measurement(o) for o in observations), key=lambda m: getattr(m, "sort_key", ""))
    live = scoped.resource.get("status") in records.ACTIVE_STATUSES or (
        task is not None and task.get("status") in WAITING_STATUSES)
    return LivePart(encounter_id, measurements, records.news2_text(records.session_news2(measurements)), live, now)


def conclusions_of(reader: FhirReader, encounter_id: str) -> list[DoctorConclusions | records.Unreadable]:
    """The doctors' conclusions stored for this session; one that does not fit is shown as unreadable."""
    found: list[DoctorConclusions | records.Unreadable] = []
    for resource in reader.search("ClinicalImpression", [("encounter", f"Encounter/{encounter_id}")]):
        try:
            found.append(read_conclusions(resource))
        except (ValueError, TypeError, AttributeError, KeyError):
            found.append(records.Unreadable("ClinicalImpression", str(resource.get("id", "?"))))
    return found


def session_page(reader: FhirReader, doctor: Doctor, encounter_id: str, now: dt.datetime) -> SessionPage:
    scoped = scoped_encounter(reader, doctor, encounter_id)
    patient_resource = reader.read("Patient", scoped.patient_id) if scoped.patient_id else None
    patient = records.patient_view(patient_resource, now.date()) if patient_resource else None
    compositions = reader.search("Composition", [("encounter", f"Encounter/{encounter_id}")])
    report = records.report_sections(compositions[-1]) if compositions else None
    task = session_request(reader, scoped)
    return SessionPage(encounter_id, records.session_view(scoped.resource), patient,
                       live_part(reader, scoped, task, now), report,
                       tasks.request_view(task, now) if task is not None else None,
                       conclusions_of(reader, encounter_id))


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
