"""Patients: creating an identity from its strict traits (sync.store.identity), reading it, finding it again.

An identity that already exists (same birth date, sex, birth place and first given name, and the same name, case
and accents aside, the usual name counting as well as the birth name) or an INS already given to another patient
is refused: the tablet holds no duplicates. Search finds a resident by the usual name staff call her by too.
"""
from __future__ import annotations

import re
from typing import Any

from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import IdentityError
from sync.store.identity import (clean_birth_date, clean_birth_given_names, clean_birth_place, clean_document,
                                 clean_ins, clean_method, clean_name, clean_resident_id, clean_room, clean_sex,
                                 clean_status, clean_usual_name, fold)
from sync.store.duplicates import record_duplicates
from sync.store.migrations.v16_search import BIRTH_DMY
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
    patient_id = new_id()
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


_DATE_TOKEN = re.compile(r"[\d/\-]+")
_TOP = "\U0010ffff"  # sorts after any character: [prefix, prefix + _TOP) holds every text starting with prefix


def _ids_matching(db: Database, token: str) -> set[str] | None:
    """The ids of the patients one word of a search matches, by index (schema v16); None: every patient."""
    if _DATE_TOKEN.fullmatch(token):
        rows = db.conn.execute(
            f"SELECT id FROM patients WHERE birth_date >= ?1 AND birth_date < ?1 || '{_TOP}' "
            f"UNION SELECT id FROM patients WHERE {BIRTH_DMY} >= ?1 AND {BIRTH_DMY} < ?1 || '{_TOP}'", [token])
        return {row[0] for row in rows}
    folded = fold(token)
    if not folded:  # nothing left once folded (a lone accent): every name starts with it
        return None
    rows = db.conn.execute("SELECT DISTINCT patient_id FROM patient_name_tokens WHERE token >= ?1 AND "
                           f"token < ?1 || '{_TOP}'", [folded])
    return {row[0] for row in rows}


def _rows(db: Database, ids: set[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    chosen = sorted(ids)
    for start in range(0, len(chosen), 500):  # well under SQLite's limit on bound parameters
        part = chosen[start:start + 500]
        marks = ", ".join("?" for _ in part)
        found += db.query(f"SELECT * FROM patients WHERE id IN ({marks}) AND merged_into IS NULL", part)
    return found


def find_patients(db: Database, query: str = "") -> list[dict[str, Any]]:
    """Every word of `query` must match: a birth date prefix ('1942-03', '12/03/19') or a case- and
    accent-insensitive prefix of the birth name, the usual name or the given name (or of one of their parts,
    'martin' finds 'Dupont-Martin'). Empty query: all patients but those merged into another record (probable
    duplicates an administrator merged, sync.store.duplicates). Sorted by family name, given name, birth date.
    Each word is a range on an index (the folded name tokens, the birth date in both forms): no patient is read
    but those found."""
    ids: set[str] | None = None
    with db.lock:
        for token in (query or "").split():
            matching = _ids_matching(db, token)
            if matching is not None:
                ids = matching if ids is None else ids & matching
            if ids is not None and not ids:
                return []
        found = db.query("SELECT * FROM patients WHERE merged_into IS NULL") if ids is None else _rows(db, ids)
    found.sort(key=lambda p: (fold(p["family_name"]), fold(p["given_name"]), p["birth_date"], p["id"]))
    return found
