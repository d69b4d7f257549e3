"""A resident as it comes down from the server: the FHIR Patient read back into a `patients` row, and applied.

The local id of a pulled resident is the value of the product's patient-id identifier (the id the tablet that
created them minted), so every tablet of the site knows a resident under the same id. Every trait goes through the
same checks as a resident typed on the tablet (sync.store.identity): a Patient that fails one is refused whole
(ValueError), never half-stored.

`apply_patient` applies one Patient with the merge rules of sync.residents.apply_remote_patient (sync.store.
patient_merge): create when unknown; per field, the latest edit wins, local or remote; a qualified identity is never
lowered or changed by a pull; a probable duplicate of another resident is recorded for an administrator.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any, Iterator

from sync import fhir
from sync.fhir.terminology import (BIRTH_PLACE_EXTENSION, FR_BIRTH_LIST_GIVEN_NAME, FR_IDENTITY_RELIABILITY,
                                   FR_INSEE_CODE_EXTENSION, ROOM_EXTENSION)
from sync.residents import apply_remote_patient
from sync.store import Store
from sync.store.identity import (clean_birth_date, clean_birth_given_names, clean_birth_place, clean_document,
                                 clean_ins, clean_method, clean_name, clean_resident_id, clean_room, clean_sex,
                                 clean_status, clean_usual_name)
from sync.store.recipients import DOCTOR_NAME, check_address, check_rpps

SEX = {"female": "F", "male": "M", "unknown": "I", "other": "I"}
IDENTITY_FIELDS = ("family_name", "given_name", "birth_date", "sex", "birth_place_insee", "identity_status", "ins",
                   "resident_id", "identity_method", "birth_given_names", "usual_name", "room", "identity_document",
                   "gp_name", "gp_rpps", "gp_mssante")


def identifier_value(resource: dict[str, Any], system: str) -> str | None:
    """The value of `resource`'s identifier in `system` (Identifier lists, and Composition's single one)."""
    identifiers = resource.get("identifier")
    for ident in [identifiers] if isinstance(identifiers, dict) else identifiers or ():
        if isinstance(ident, dict) and ident.get("system") == system and isinstance(ident.get("value"), str):
            return ident["value"]
    return None


def local_patient_id(resource: dict[str, Any]) -> str:
    """The resident's id on every tablet: the product's patient-id identifier (ValueError without one)."""
    value = identifier_value(resource, fhir.PATIENT_ID_SYSTEM)
    if not value:
        raise ValueError("a Patient without the product's patient-id identifier")
    return value


def _extension(items: Any, url: str) -> dict[str, Any]:
    return next((e for e in items or () if isinstance(e, dict) and e.get("url") == url), {})


def _reliability(resource: dict[str, Any]) -> dict[str, str | None]:
    parts = _extension(resource.get("extension"), FR_IDENTITY_RELIABILITY).get("extension")
    return {name: (_extension(parts, name).get("valueCoding") or {}).get("code")
            for name in ("identityStatus", "methodCollection", "validationMode")}


def _names(resource: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = [n for n in resource.get("name") or () if isinstance(n, dict)]
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    usual = next((n for n in names if n.get("use") == "usual"), {})
    return official, usual


def _doctor(resource: dict[str, Any]) -> dict[str, Any]:
    """The médecin traitant: the contained Practitioner `generalPractitioner` points at."""
    refs = [g.get("reference") for g in resource.get("generalPractitioner") or () if isinstance(g, dict)]
    for contained in resource.get("contained") or ():
        if isinstance(contained, dict) and f"#{contained.get('id')}" in refs:
            return contained
    return {}


def patient_fields(resource: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """The `patients` columns a Patient gives, each checked as the tablet checks typed data (IdentityError /
    InputError / ValueError for anything it would refuse)."""
    official, usual = _names(resource)
    given = clean_name((official.get("given") or [None])[0], "given_name")
    status = clean_status(_reliability(resource)["identityStatus"])
    ins_systems = [s for s in fhir.INS_IDENTIFIER_TYPES if identifier_value(resource, s)]
    birth_names = _extension(official.get("extension"), FR_BIRTH_LIST_GIVEN_NAME).get("valueString")
    place = (_extension(_extension(resource.get("extension"), BIRTH_PLACE_EXTENSION).get("valueAddress", {})
                        .get("extension"), FR_INSEE_CODE_EXTENSION).get("valueCoding") or {}).get("code")
    doctor = _doctor(resource)
    mail = next((t.get("value") for t in doctor.get("telecom") or () if t.get("system") == "email"), None)
    return {
        "family_name": clean_name(official.get("family"), "family_name"), "given_name": given,
        "birth_date": clean_birth_date(resource.get("birthDate"), today),
        "sex": clean_sex(SEX.get(resource.get("gender"))), "birth_place_insee": clean_birth_place(place),
        "identity_status": status,
        "ins": clean_ins(identifier_value(resource, ins_systems[0]) if ins_systems else None, status),
        "resident_id": clean_resident_id(identifier_value(resource, fhir.RESIDENT_ID_SYSTEM)),
        "identity_method": clean_method(_reliability(resource)["methodCollection"]),
        "birth_given_names": clean_birth_given_names(birth_names, given),
        "usual_name": clean_usual_name(usual.get("family")),
        "room": clean_room(_extension(resource.get("extension"), ROOM_EXTENSION).get("valueString")),
        "identity_document": clean_document(_reliability(resource)["validationMode"], status),
        "gp_name": DOCTOR_NAME.clean((doctor.get("name") or [{}])[0].get("text")),
        "gp_rpps": check_rpps(identifier_value(doctor, fhir.RPPS_SYSTEM), "gp_rpps"),
        "gp_mssante": check_address(mail, "gp_mssante") if mail else None,
    }


@contextlib.contextmanager
def within_transaction(store: Store) -> Iterator[None]:
    """The caller's transaction when there is one (a page of the pull), else a transaction of its own."""
    if store.conn.in_transaction:
        yield
    else:
        with store.transaction():
            yield


def apply_patient(store: Store, resource: dict[str, Any], *, now: dt.datetime) -> str:
    """Apply one pulled Patient: "created", "updated", "unchanged" or "duplicate" (a probable duplicate of a
    resident this tablet holds under another id: recorded for an administrator to merge). ValueError (or a store
    refusal) for a Patient that cannot be read; nothing is written then. Runs in the caller's transaction when
    there is one. The merge rules (the latest edit per field, a qualified identity kept, merges made elsewhere
    followed) are sync.residents.apply_remote_patient's."""
    if resource.get("resourceType") != "Patient":
        raise ValueError("not a Patient")
    local_patient_id(resource)
    patient_fields(resource, now.astimezone().date())  # every value as the tablet checks typed data
    return apply_remote_patient(store, resource, now=now)
