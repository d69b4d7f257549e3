"""Patients: creating an identity from its strict traits (sync.store.identity), reading it, finding it again.

An identity that already exists (same birth date, sex, birth place and first given name, and the same name, case
and accents aside, the usual name counting as well as the birth name) or an INS already given to another patient
is refused: the tablet holds no duplicates. Search finds a resident by the usual name staff call her by too.
"""
from __future__ import annotations

import re
import uuid
from typing import Any

from sync.store.database import Database
from sync.store.errors import IdentityError
from sync.store.identity import (clean_birth_date, clean_birth_given_names, clean_birth_place, clean_document,
                                 clean_ins, clean_method, clean_name, clean_resident_id, clean_room, clean_sex,
                                 clean_status, clean_usual_name, fold)
from sync.store.duplicates import record_duplicates
from sync.store.patient_stamps import all_fields_stamped, queue_resident
from sync.store.trail import trace


def add_patient(db: Database, *, family_name: str, given_name: str, birth_date: str, sex: str,
                birth_place_insee: str, identity_status: str = "PROV", ins: str | None = None,
                resident_id: str | None = None, identity_method: str | None = None,
                birth_given_names: str | None = None, usual_name: str | None = None, room: str | None = None,
                identity_document: str | None = None) -> str:
    """Create a patient from the RNIV strict traits. Everything is checked before anything is written.

    `identity_method`: how the traits were collected (FR Core codes SM manual entry, CV carte Vitale, INSI
    teleservice, CB INS Datamatrix, RFID, AV Appli carte Vitale); `birth_given_names`: the full list of birth
    given names, space-separated, starting with the first one (FR Core INS profile)."""
    family = clean_name(family_name, "family_name")
    given = clean_name(given_name, "given_name")
    birth = clean_birth_date(birth_date, db.now().astimezone().date())
    sex_code = clean_sex(sex)
    insee = clean_birth_place(birth_place_insee)
    status = clean_status(identity_status)
    ins_value = clean_ins(ins, status)
    resident = clean_resident_id(resident_id)
    method = clean_method(identity_method)
    birth_names = clean_birth_given_names(birth_given_names, given)
    usual = clean_usual_name(usual_name)
    room_text = clean_room(room)
    document = clean_document(identity_document, status)
    patient_id = str(uuid.uuid4())
    with db.transaction():
        now = db.stamp()
        if duplicate_of(db, family_name=family, usual_name=usual, given_name=given, birth_date=birth, sex=sex_code,
                        birth_place_insee=insee):
            raise IdentityError("identity.duplicate", "family_name")
        if ins_value and list(db.db.query("SELECT 1 FROM patients WHERE ins = ?", [ins_value])):
            raise IdentityError("identity.ins.taken", "ins")
        db.db["patients"].insert({
            "id": patient_id, "family_name": family, "given_name": given, "birth_date": birth, "sex": sex_code,
            "birth_place_insee": insee, "identity_status": status, "ins": ins_value, "resident_id": resident,
            "identity_method": method, "birth_given_names": birth_names, "usual_name": usual, "room": room_text,
            "identity_document": document, "created_at": now,
            "last_seen_at": now, "field_stamps": all_fields_stamped(now),
        })
        trace(db, "create", "patient", patient_id, f"identity {status}")
        queue_resident(db, patient_id)
        record_duplicates(db, patient_id)
    return patient_id


def duplicate_of(db: Database, *, family_name: str, usual_name: str | None, given_name: str, birth_date: str,
                 sex: str, birth_place_insee: str) -> str | None:
    """The id of a patient with the same identity as these cleaned traits (the module's rule), or None."""
    names = {fold(n) for n in (family_name, usual_name) if n}
    for other in db.query("SELECT id, family_name, usual_name, given_name FROM patients WHERE birth_date = ? "
                          "AND sex = ? AND birth_place_insee = ?", [birth_date, sex, birth_place_insee]):
        other_names = {fold(n) for n in (other["family_name"], other["usual_name"]) if n}
        if names & other_names and fold(other["given_name"]) == fold(given_name):
            return other["id"]
    return None


def get_patient(db: Database, patient_id: str) -> dict[str, Any]:
    return db.row("patients", patient_id)


def _matches(patient: dict[str, Any], token: str) -> bool:
    if re.fullmatch(r"[\d/\-]+", token):
        y, m, d = patient["birth_date"].split("-")
        return patient["birth_date"].startswith(token) or f"{d}/{m}/{y}".startswith(token)
    folded = fold(token)
    for name in (patient["family_name"], patient.get("usual_name") or "", patient["given_name"]):
        if not name:
            continue
        name_folded = fold(name)
        if name_folded.startswith(folded):
            return True
        if any(part.startswith(folded) for part in re.split(r"[ \-']+", name_folded)):
            return True
    return False


def find_patients(db: Database, query: str = "") -> list[dict[str, Any]]:
    """Every word of `query` must match: a birth date prefix ('1942-03', '12/03/19') or a case- and
    accent-insensitive prefix of the birth name, the usual name or the given name (or of one of their parts,
    'martin' finds 'Dupont-Martin'). Empty query: all patients but those merged into another record (probable
    duplicates an administrator merged, sync.store.duplicates). Sorted by family name, given name, birth date."""
    patients = db.query("SELECT * FROM patients WHERE merged_into IS NULL")
    tokens = (query or "").split()
    found = [p for p in patients if all(_matches(p, t) for t in tokens)]
    found.sort(key=lambda p: (fold(p["family_name"]), fold(p["given_name"]), p["birth_date"], p["id"]))
    return found
