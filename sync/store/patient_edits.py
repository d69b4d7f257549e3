"""Changing a resident after creation: the usual name, the room, the resident number, the identity traits of an
identity not yet retrieved or qualified, and its status (by hand PROV ↔ VALI with the document checked; a
qualification RECUP / QUAL with the INS, from the INSi teleservice).

Every change is stamped per field and queues the resident for the server (sync.store.patient_stamps). The strict
traits of a retrieved or qualified identity are never changed from a tablet (RNIV 1: they come from the national
INS base), nor is its status lowered: `identity.locked` (the schema's trigger is the last line behind this).
"""
from __future__ import annotations

from typing import Any, Callable

from sync.store.database import Database
from sync.store.duplicates import record_duplicates
from sync.store.errors import IdentityError
from sync.store.identity import (clean_birth_date, clean_birth_given_names, clean_birth_place, clean_document,
                                 clean_ins, clean_method, clean_name, clean_resident_id, clean_room, clean_sex,
                                 clean_status, clean_usual_name)
from sync.store.patient_stamps import (LOCKED_STATUSES, STATUS_RANK, TRAIT_FIELDS, field_of, queue_resident,
                                       stamp_fields)
from sync.store.trail import trace

_UNSET: Any = object()


def _trait_cleaners(db: Database, given: str) -> dict[str, Callable[[Any], Any]]:
    today = db.now().astimezone().date()
    return {"family_name": lambda v: clean_name(v, "family_name"), "given_name": lambda v: clean_name(v, "given_name"),
            "birth_given_names": lambda v: clean_birth_given_names(v, given),
            "birth_date": lambda v: clean_birth_date(v, today), "sex": clean_sex,
            "birth_place_insee": clean_birth_place, "usual_name": clean_usual_name, "room": clean_room,
            "resident_id": clean_resident_id}


def _write(db: Database, patient: dict[str, Any], values: dict[str, Any], detail: str) -> list[str]:
    """Write the changed columns, stamp their fields, queue the resident, trace the field names (never values)."""
    changed = {column: value for column, value in values.items() if patient.get(column) != value}
    if not changed:
        return []
    db.db["patients"].update(patient["id"], changed)
    keys = sorted({field_of(column) for column in changed})
    stamp_fields(db, patient["id"], keys)
    queue_resident(db, patient["id"])
    trace(db, "change", "patient", patient["id"], f"{detail}: {', '.join(keys)}")
    if set(keys) & set(TRAIT_FIELDS) or "reliability" in keys:
        record_duplicates(db, patient["id"])
    return keys


def _check_known(changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(TRAIT_FIELDS) - {"usual_name", "room", "resident_id"}
    if unknown:
        raise IdentityError("identity.field.unknown", sorted(unknown)[0])


def update_patient(db: Database, patient_id: str, **changes: Any) -> list[str]:
    """Change some of: family_name, given_name, birth_given_names, birth_date, sex, birth_place_insee (not for a
    retrieved or qualified identity: `identity.locked`), usual_name, room, resident_id. Returns the fields
    changed (stamp keys)."""
    _check_known(changes)
    with db.transaction():
        return _update(db, patient_id, changes)


def _update(db: Database, patient_id: str, changes: dict[str, Any]) -> list[str]:
    patient = db.row("patients", patient_id)
    cleaners = _trait_cleaners(db, changes.get("given_name", patient["given_name"]))
    values = {column: cleaners[column](value) for column, value in changes.items()}
    if patient["identity_status"] in LOCKED_STATUSES:
        for column in TRAIT_FIELDS:
            if column in values and values[column] != patient[column]:
                raise IdentityError("identity.locked", column, status=patient["identity_status"])
    return _write(db, patient, values, "edit")


def set_identity_status(db: Database, patient_id: str, status: str, *, ins: Any = _UNSET,
                        identity_document: Any = _UNSET, identity_method: Any = _UNSET,
                        **traits: Any) -> list[str]:
    """Change the identity's reliability: PROV ↔ VALI by hand (with the document checked), or a qualification to
    RECUP / QUAL (with the INS for QUAL, and the traits as the national base gives them). A retrieved or qualified
    identity is never lowered (`identity.locked`); a qualification may only raise it (RECUP → QUAL)."""
    with db.transaction():
        return _set_status(db, patient_id, status, ins, identity_document, identity_method, traits)


def _set_status(db: Database, patient_id: str, status: str, ins: Any, identity_document: Any, identity_method: Any,
                traits: dict[str, Any]) -> list[str]:
    patient = db.row("patients", patient_id)
    new_status = clean_status(status)
    old = patient["identity_status"]
    rising = STATUS_RANK[new_status] > STATUS_RANK[old]
    if old in LOCKED_STATUSES and not (old == "RECUP" and new_status == "QUAL") and new_status != old:
        raise IdentityError("identity.locked", "identity_status", status=old)
    if traits and old in LOCKED_STATUSES and not rising:
        raise IdentityError("identity.locked", sorted(traits)[0], status=old)
    cleaners = _trait_cleaners(db, traits.get("given_name", patient["given_name"]))
    values = {column: cleaners[column](value) for column, value in traits.items() if column in TRAIT_FIELDS}
    values["identity_status"] = new_status
    values["ins"] = clean_ins(patient["ins"] if ins is _UNSET else ins, new_status)
    values["identity_document"] = clean_document(
        patient["identity_document"] if identity_document is _UNSET else identity_document, new_status)
    if identity_method is not _UNSET:
        values["identity_method"] = clean_method(identity_method)
    if values["ins"] and db.query("SELECT 1 FROM patients WHERE ins = ? AND id <> ?", [values["ins"], patient_id]):
        raise IdentityError("identity.ins.taken", "ins")
    return _write(db, patient, values, f"identity {old} to {new_status}")


def edit_patient(db: Database, patient_id: str, *, reliability: dict[str, Any] | None = None,
                 **changes: Any) -> list[str]:
    """One correction typed on the tablet's resident form, all or nothing in one transaction: the fields of
    `update_patient` (same refusals) and, when `reliability` is given (`status`, with `identity_document` and
    `identity_method`), the status change of `set_identity_status`. Returns the fields changed (stamp keys)."""
    _check_known(changes)
    reliability = dict(reliability or {})
    with db.transaction():
        keys = _update(db, patient_id, changes) if changes else []
        if reliability:
            keys += _set_status(db, patient_id, reliability.pop("status"), reliability.pop("ins", _UNSET),
                                reliability.pop("identity_document", _UNSET),
                                reliability.pop("identity_method", _UNSET), {})
    return sorted(set(keys))
