"""The doctor's conclusions for a session, from the form on the session page to the FHIR server: checked field by
field (each error said beside its field), signed with the name and RPPS of the account signed in (never typed),
and written in ONE transaction Bundle (HL7 FHIR R4 RESTful API, "transaction": all or nothing):

- the `ClinicalImpression` (sync.fhir.exchange.conclusions_resource) by conditional update on its identifier
  "{session key}/conclusions", so writing again makes a new version of the same resource, never a second one; its
  patient and Encounter as literal `Patient/{id}`, `Encounter/{id}`; the site tag copied from the Encounter, so
  the site's tablet finds it by `_tag`;
- the request (`Task` "{session key}/request"), when the session has one still waiting, by conditional update to
  `completed`, owned by the signing doctor, its output the conclusions (one already answered keeps its version,
  one the tablet cancelled stays cancelled).

What cannot be signed is refused before anything is written: an account without an RPPS, a session that did not
come from a Relais tablet (no session key or site tag), a session tagged for a site the doctor does not serve.
"""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from sync.fhir.bundle import if_none_exist, resource_uuid
from sync.fhir.exchange import (CONCLUSION_MAX, CONCLUSIONS_ID_SYSTEM, DETAIL_MAX, ORIENTATIONS_FR,
                                PRESCRIPTIONS_MAX, REQUEST_ID_SYSTEM, WAITING_STATUSES, DoctorConclusions,
                                conclusions_resource, conclusions_value, request_value)
from sync.fhir.terminology import RPPS_SYSTEM
from sync.server.doctors.accounts import Doctor
from sync.server.doctors.guard import Refused
from sync.server.doctors.reading import ScopedEncounter

LIMITS = {"conclusion": CONCLUSION_MAX, "orientation": 64, "orientation_detail": DETAIL_MAX,
          "prescriptions": PRESCRIPTIONS_MAX}
NO_RPPS = ("Votre compte n'a pas de numéro RPPS valide : vous ne pouvez pas signer de conclusions. "
           "Demandez à l'administrateur des comptes de le compléter.")
NOT_FROM_TABLET = ("Cette séance n'a pas été envoyée par une tablette Relais : des conclusions ne pourraient pas "
                   "lui revenir. Rien n'a été enregistré.")
OTHER_SITE = "Cette séance est rattachée à un site que vous ne servez pas. Rien n'a été enregistré."


def form_errors(values: dict[str, str]) -> dict[str, str]:
    """Field → what is wrong with it, in French; empty when the form can be signed."""
    errors = {}
    if not values["conclusion"]:
        errors["conclusion"] = "La conclusion est obligatoire."
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = f"Trop long : {len(values[name])} caractères pour {limit} au plus."
    if values["orientation"] and values["orientation"] not in ORIENTATIONS_FR:
        errors["orientation"] = "Orientation inconnue : choisissez-en une dans la liste."
    return errors


def check_signer(doctor: Doctor, scoped: ScopedEncounter) -> None:
    """Refused (403 or 422) when this doctor cannot sign for this session."""
    if not (len(doctor.rpps) == 11 and doctor.rpps.isascii() and doctor.rpps.isdigit()):
        raise Refused(403, NO_RPPS)
    if scoped.session_key is None or scoped.site_tag is None or scoped.patient_id is None:
        raise Refused(422, NOT_FROM_TABLET)
    if scoped.site_tag["code"] not in doctor.sites:
        raise Refused(403, OTHER_SITE)


def signed(doctor: Doctor, scoped: ScopedEncounter, values: dict[str, str], now: dt.datetime) -> DoctorConclusions:
    assert scoped.session_key is not None
    return DoctorConclusions(
        session_key=scoped.session_key, doctor_name=doctor.name, doctor_rpps=doctor.rpps,
        conclusion=values["conclusion"], orientation=values["orientation"] or None,
        orientation_detail=values["orientation_detail"], prescriptions=values["prescriptions"],
        written_at=now.astimezone(dt.timezone.utc).isoformat(timespec="seconds"))


def _conditional_update(resource: dict[str, Any], system: str, value: str) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource_uuid(system, value)}", "resource": resource,
            "request": {"method": "PUT", "url": f"{resource['resourceType']}?{if_none_exist(system, value)}"}}


def completed_task(task: dict[str, Any], doctor: Doctor, conclusions_url: str, now: dt.datetime) -> dict[str, Any]:
    """The stored request, answered: status completed, owned by the signing doctor, its output the conclusions.
    Server-set fields (id, version) are left out: the conditional update finds the resource by its identifier."""
    answered = {k: copy.deepcopy(v) for k, v in task.items() if k not in ("id", "meta")}
    tags = (task.get("meta") or {}).get("tag")
    if tags:
        answered["meta"] = {"tag": copy.deepcopy(tags)}
    answered["status"] = "completed"
    answered["lastModified"] = now.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    answered["owner"] = {"display": doctor.name, "identifier": {"system": RPPS_SYSTEM, "value": doctor.rpps}}
    answered["output"] = [{"type": {"text": "Conclusions du médecin"},
                           "valueReference": {"reference": conclusions_url}}]
    return answered


def conclusions_bundle(conclusions: DoctorConclusions, scoped: ScopedEncounter, task: dict[str, Any] | None,
                       doctor: Doctor, now: dt.datetime) -> dict[str, Any]:
    """The transaction: the ClinicalImpression, and the Task completed when the session has one waiting."""
    resource = conclusions_resource(conclusions, patient_ref=f"Patient/{scoped.patient_id}",
                                    encounter_ref=f"Encounter/{scoped.resource['id']}", site_tag=scoped.site_tag)
    entries = [_conditional_update(resource, CONCLUSIONS_ID_SYSTEM, conclusions_value(conclusions.session_key))]
    if task is not None and task.get("status") in WAITING_STATUSES:
        answered = completed_task(task, doctor, entries[0]["fullUrl"], now)
        entries.append(_conditional_update(answered, REQUEST_ID_SYSTEM, request_value(conclusions.session_key)))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
