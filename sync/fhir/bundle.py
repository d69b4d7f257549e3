"""The HL7 FHIR R4 transaction Bundle of one closed session, and of an addendum written after it.

Every resource carries an identifier derived from data minted once on the tablet (the local patient, staff and site
ids, the device's Bluetooth address, the session's idempotency key), and every entry is a conditional create
(`request.ifNoneExist`, FHIR R4 RESTful API "conditional create"), so resending the same bundle after a lost
acknowledgement never duplicates anything on the server. `ifNoneExist` holds the query part only
(`identifier=SYSTEM|VALUE`): the `Patient?identifier=` form silently creates duplicates on some engines. The fullUrl
of an entry is a UUID derived from the same identifier, so references inside the bundle are stable too.

The same rows always give the same bundle; serialised with `sync.fhir.codec.dumps_bundle` it is frozen at session
close and resent byte for byte.

Once staff asked a remote doctor (sync.live), the session also goes while open, as the "session so far" (`live=True`):
the same identifiers and fullUrls, every entry a conditional create, the Encounter in progress and the request's
Task. The final bundle then writes the Encounter (and the Task when a request was sent) as a conditional update
(`PUT Encounter?identifier=SYSTEM|VALUE`, FHIR R4 RESTful API "conditional update"): whatever order the live sends
and the final bundle reach the server in, the final state wins, and nothing is created twice.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from sync.fhir.exchange import REQUEST_ID_SYSTEM, request_task, request_value
from sync.fhir.observations import bp_panel_resource, observation_groups, observation_resource
from sync.fhir.report import addendum_composition_resource, composition_resource
from sync.fhir.resources import (consent_resource, device_key, device_resource, encounter_resource, fhir_datetime,
                                 organization_key, organization_resource, patient_resource, practitioner_key,
                                 practitioner_resource, practitioner_role_resource, remote_doctor_resource, staff_row)
from sync.fhir.terminology import (ADDENDUM_ID_SYSTEM, BUNDLE_ID_SYSTEM, COMPOSITION_ID_SYSTEM, CONSENT_ID_SYSTEM,
                                   ENCOUNTER_ID_SYSTEM, OBSERVATION_ID_SYSTEM, PATIENT_ID_SYSTEM,
                                   PRACTITIONER_ROLE_ID_SYSTEM, REMOTE_DOCTOR_ID_SYSTEM, RPPS_SYSTEM,
                                   SITE_TAG_SYSTEM)
from sync.vocabulary import BP_PANEL_CODE, OBSERVATION_TYPES

_DEVICE_FIELDS = ("device_manufacturer", "device_model", "device_serial", "device_name", "device_firmware")


def resource_uuid(system: str, value: str) -> str:
    """Deterministic fullUrl UUID: the same identifier always gives the same urn:uuid."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{system}|{value}"))


def if_none_exist(system: str, value: str) -> str:
    """The query part only, `identifier=SYSTEM|VALUE` (never `Type?identifier=…`); reserved characters escaped."""
    return f"identifier={quote(system, safe=':/.-_~')}|{quote(value, safe=':/.-_~')}"


def conditional_create(resource: dict[str, Any], system: str, value: str) -> dict[str, Any]:
    """A transaction entry that creates `resource` unless the server holds one with the identifier SYSTEM|VALUE."""
    return {
        "fullUrl": f"urn:uuid:{resource_uuid(system, value)}",
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], "ifNoneExist": if_none_exist(system, value)},
    }


def conditional_update(resource: dict[str, Any], system: str, value: str) -> dict[str, Any]:
    """A transaction entry that writes `resource` over the one the server holds with the identifier SYSTEM|VALUE
    (creating it when there is none): `PUT Type?identifier=SYSTEM|VALUE`. Same fullUrl as the conditional create."""
    return {
        "fullUrl": f"urn:uuid:{resource_uuid(system, value)}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}?{if_none_exist(system, value)}"},
    }


@dataclass
class Entries:
    """Bundle entries in order, one per fullUrl (a resource reached twice, e.g. the same staff member recording the
    consent and running the session, is sent once)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    by_url: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, resource: dict[str, Any], system: str, value: str) -> dict[str, Any]:
        return self.add_entry(conditional_create(resource, system, value))

    def add_entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append `entry` unless an entry with its fullUrl is already there; the entry kept is returned."""
        existing = self.by_url.get(entry["fullUrl"])
        if existing is not None:
            return existing
        self.items.append(entry)
        self.by_url[entry["fullUrl"]] = entry
        return entry


class _SharedResources:
    """The resources a session shares with others (Organization, Practitioners and PractitionerRoles, the remote
    doctor, Devices), each depending only on its own row: they go after the session's own entries, and
    `sync.batching` merges identical ones across sessions."""

    def __init__(self, staff: Mapping[str, Mapping[str, Any]], site: Mapping[str, Any] | None) -> None:
        self.staff, self.site = staff, site
        self.entries = Entries()
        self.organization_ref: str | None = None
        if site is not None:
            self.organization_ref = self.entries.add(organization_resource(site), *organization_key(site))["fullUrl"]
        self._roles: dict[str, str] = {}

    def role_ref(self, staff_id: str) -> str:
        """The staff member's PractitionerRole at the site (and their Practitioner), added on first use."""
        if staff_id not in self._roles:
            row = staff_row(self.staff, staff_id)
            practitioner = self.entries.add(practitioner_resource(row), *practitioner_key(row))
            value = f"{staff_id}/{self.site['id']}" if self.site is not None else staff_id
            role = practitioner_role_resource(row, identifier_value=value, practitioner_ref=practitioner["fullUrl"],
                                              organization_ref=self.organization_ref)
            self._roles[staff_id] = self.entries.add(role, PRACTITIONER_ROLE_ID_SYSTEM, value)["fullUrl"]
        return self._roles[staff_id]

    def device_refs(self, measurements: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
        """One Device per physical device, its Device Information merged over the session's readings."""
        device_info: dict[tuple[str, str], dict[str, Any]] = {}
        for m in measurements:
            dkey = device_key(m)
            if dkey is not None:
                info = device_info.setdefault(dkey, {})
                for name in _DEVICE_FIELDS:
                    if m.get(name) and not info.get(name):
                        info[name] = m[name]
        return {dkey: self.entries.add(device_resource(info, *dkey), *dkey)["fullUrl"]
                for dkey, info in device_info.items()}

    def remote_doctor_ref(self, session: Mapping[str, Any]) -> str | None:
        """The remote doctor's Practitioner: by RPPS when known, else by an identifier of this session."""
        if not (session.get("remote_doctor_name") or session.get("remote_doctor_rpps")):
            return None
        key = session["idempotency_key"]
        rpps = session.get("remote_doctor_rpps")
        doctor = remote_doctor_resource(session.get("remote_doctor_name"), rpps, identifier_value=f"{key}/doctor")
        doctor_key = (RPPS_SYSTEM, rpps) if rpps else (REMOTE_DOCTOR_ID_SYSTEM, f"{key}/doctor")
        return self.entries.add(doctor, *doctor_key)["fullUrl"]


def _add_observations(entries: Entries, measurements: Sequence[Mapping[str, Any]], key: str, *, patient_ref: str,
                      encounter_ref: str, staff_role_ref: str | None,
                      device_refs: Mapping[tuple[str, str], str]) -> list[str]:
    """One Observation per reading, a blood pressure panel per cuff inflation; identifiers numbered in order."""
    refs = []
    for index, group in enumerate(observation_groups(measurements), start=1):
        first = group[0]
        dkey = device_key(first)
        links = {"patient_ref": patient_ref, "encounter_ref": encounter_ref,
                 "device_ref": device_refs.get(dkey) if dkey else None, "performer_ref": staff_role_ref}
        if OBSERVATION_TYPES[first["code"]].panel:
            value = f"{key}/obs/{index}-{BP_PANEL_CODE}"
            obs = bp_panel_resource(group, identifier_value=value, **links)
        else:
            value = f"{key}/obs/{index}-{first['code']}"
            obs = observation_resource(first, identifier_value=value, **links)
        refs.append(entries.add(obs, OBSERVATION_ID_SYSTEM, value)["fullUrl"])
    return refs


def _add_consents(entries: Entries, shared: _SharedResources, consents: Sequence[Mapping[str, Any]], key: str, *,
                  patient_ref: str, encounter_ref: str) -> list[str]:
    """One Consent per recorded decision; every decision but the last is superseded."""
    refs = []
    for index, consent in enumerate(consents, start=1):
        value = f"{key}/consent/{index}"
        recorder = shared.role_ref(consent["recorded_by"]) if consent.get("recorded_by") else None
        resource = consent_resource(consent, identifier_value=value, patient_ref=patient_ref,
                                    encounter_ref=encounter_ref, recorder_ref=recorder,
                                    organization_ref=shared.organization_ref, superseded=index < len(consents))
        refs.append(entries.add(resource, CONSENT_ID_SYSTEM, value)["fullUrl"])
    return refs


def _request_entry(session: Mapping[str, Any], notes: Sequence[Mapping[str, Any]], *, live: bool, patient_ref: str,
                   encounter_ref: str, requester_ref: str | None) -> dict[str, Any]:
    """The request's Task: requested while the session is open; at close completed when the session holds the
    remote doctor's conclusions, else cancelled (nobody answered), written over the live one; cancelled too, over
    the live one, when the session was abandoned."""
    key = session["idempotency_key"]
    if _withdrawn(session, live):
        status = "cancelled"
    elif live:
        status = "requested"
    else:
        status = "completed" if any(n["kind"] == "remote_doctor_conclusion" for n in notes) else "cancelled"
    owner = {"name": session.get("remote_doctor_name"), "rpps": session.get("remote_doctor_rpps")}
    task = request_task(session_key=key, kind=session["request_kind"], status=status, reason=session.get("reason"),
                        authored_on=fhir_datetime(session["requested_at"]), patient_ref=patient_ref,
                        encounter_ref=encounter_ref, requester_ref=requester_ref, owner=owner)
    write = conditional_create if live and not _withdrawn(session, live) else conditional_update
    return write(task, REQUEST_ID_SYSTEM, request_value(key))


def _withdrawn(session: Mapping[str, Any], live: bool) -> bool:
    """A live send of an abandoned session: the last one, which cancels what the doctor was shown."""
    return live and session.get("state") == "abandoned"


def session_bundle(patient: Mapping[str, Any], session: Mapping[str, Any],
                   measurements: Iterable[Mapping[str, Any]], *, site: Mapping[str, Any] | None = None,
                   staff: Mapping[str, Mapping[str, Any]] | None = None,
                   consents: Sequence[Mapping[str, Any]] = (), notes: Sequence[Mapping[str, Any]] = (),
                   summary: Mapping[str, Any] | None = None, ins_system: str, live: bool = False) -> dict[str, Any]:
    """The transaction Bundle for a session.

    Entries, in this order: Patient, the Observations (in the order the readings were stored), Encounter, the
    request's Task (when staff sent one: `session["request_kind"]`), Consents, Composition (when there is a
    conclusion, a note or a summary), then the shared resources: Organization, Practitioners and PractitionerRoles,
    the remote doctor's Practitioner, Devices. `staff` maps staff id → row for every staff member the session, its
    consents or its notes refer to. Identifiers come from the rows' ids and the session's idempotency key, so the
    same stored session always gives the same bundle (and bytes).

    `live`: the session so far, sent while it is open (no Composition; every entry a conditional create), or,
    once it was abandoned, its withdrawal (the Encounter and the Task cancelled, by conditional update). Otherwise
    the final bundle: the Encounter and the Task are conditional updates (see the module)."""
    measurements, consents = list(measurements), list(consents)
    key = session["idempotency_key"]
    entries = Entries()
    shared = _SharedResources(staff or {}, site)
    resident = patient_resource(patient, ins_system=ins_system, organization_ref=shared.organization_ref)
    patient_ref = entries.add(resident, PATIENT_ID_SYSTEM, patient["id"])["fullUrl"]
    staff_role_ref = shared.role_ref(session["staff_id"]) if session.get("staff_id") else None
    encounter_ref = f"urn:uuid:{resource_uuid(ENCOUNTER_ID_SYSTEM, key)}"
    observation_refs = _add_observations(entries, measurements, key, patient_ref=patient_ref,
                                         encounter_ref=encounter_ref, staff_role_ref=staff_role_ref,
                                         device_refs=shared.device_refs(measurements))
    doctor_ref = shared.remote_doctor_ref(session)
    encounter = encounter_resource(session, patient_ref=patient_ref, staff_role_ref=staff_role_ref,
                                   doctor_ref=doctor_ref, organization_ref=shared.organization_ref)
    write = conditional_create if live and not _withdrawn(session, live) else conditional_update
    entries.add_entry(write(encounter, ENCOUNTER_ID_SYSTEM, key))
    if session.get("request_kind"):
        entries.add_entry(_request_entry(session, notes, live=live, patient_ref=patient_ref,
                                         encounter_ref=encounter_ref, requester_ref=staff_role_ref))
    consent_refs = _add_consents(entries, shared, consents, key, patient_ref=patient_ref, encounter_ref=encounter_ref)
    for note in notes:
        if note.get("staff_id"):
            shared.role_ref(note["staff_id"])
    if not live and (notes or summary is not None):
        # authors: the staff member who ran the session, and the remote doctor when the report holds their words
        authors = [staff_role_ref] if staff_role_ref else []
        if doctor_ref and any(n["kind"] == "remote_doctor_conclusion" for n in notes):
            authors.append(doctor_ref)
        composition = composition_resource(
            patient, session, measurements, site=site, staff=staff or {}, consents=consents, notes=notes,
            summary=summary, patient_ref=patient_ref, encounter_ref=encounter_ref, observation_refs=observation_refs,
            consent_refs=consent_refs, author_refs=authors, organization_ref=shared.organization_ref)
        entries.add(composition, COMPOSITION_ID_SYSTEM, key)
    if site is not None:
        for entry in entries.items:
            if entry["resource"]["resourceType"] in SITE_TAGGED:
                tag_site(entry["resource"], site)
    for entry in shared.entries.items:
        entries.add_entry(entry)
    return {"resourceType": "Bundle", "identifier": {"system": BUNDLE_ID_SYSTEM, "value": key},
            "type": "transaction", "entry": entries.items}


# The records of a session a tablet of the same site pulls in one search each (`_tag=SYSTEM|CODE`, FHIR R4 search,
# "Parameters for all resources"): the Encounter, its Observations, its report, the request. Searching by tag needs no
# reference to resolve, so an Observation is found even when its Encounter went to the server in another request.
SITE_TAGGED = frozenset({"Encounter", "Observation", "Composition", "Task"})


def site_tag(site: Mapping[str, Any]) -> dict[str, str]:
    """The site's tag: its FINESS when known (the same on every tablet of the site), else its local id."""
    return {"system": SITE_TAG_SYSTEM, "code": site.get("finess") or site["id"]}


def tag_site(resource: dict[str, Any], site: Mapping[str, Any]) -> None:
    """Add the site's tag to `resource`'s meta.tag (FHIR R4 Meta.tag)."""
    meta = resource.setdefault("meta", {})
    meta["tag"] = [*meta.get("tag", []), site_tag(site)]


def addendum_bundle(patient: Mapping[str, Any], session: Mapping[str, Any], addendum: Mapping[str, Any], *,
                    author: Mapping[str, Any], ins_system: str) -> dict[str, Any]:
    """The transaction Bundle for a remark written after a session was closed: the Composition appending to the
    session's report, with the patient and the author as conditional creates, and the session's Encounter by its
    identifier (the session's own bundle is uploaded first: sync.outbox claims an addendum only after it)."""
    key = session["idempotency_key"]
    entries = Entries()
    patient_ref = entries.add(patient_resource(patient, ins_system=ins_system), PATIENT_ID_SYSTEM,
                              patient["id"])["fullUrl"]
    author_ref = entries.add(practitioner_resource(author), *practitioner_key(author))["fullUrl"]
    composition = addendum_composition_resource(session, addendum, author=author, patient_ref=patient_ref,
                                                author_ref=author_ref)
    entries.add(composition, ADDENDUM_ID_SYSTEM, addendum["id"])
    return {"resourceType": "Bundle", "identifier": {"system": BUNDLE_ID_SYSTEM,
                                                     "value": f"{key}/addendum/{addendum['id']}"},
            "type": "transaction", "entry": entries.items}
