"""Patients: creating an identity from its strict traits (sync.store.identity), reading it, finding it again.

An identity that already exists (same birth date, sex, birth place and first given name, and the same name, case
and accents aside, the usual name counting as well as the birth name) or an INS already given to another patient
is refused: the tablet holds no duplicates. Search finds a resident by the usual name staff call her by too.
"""
from __future__ import annotations

import json
import re
from typing import Any

from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import IdentityError
from sync.store.identity import (clean_birth_date, clean_birth_given_names, clean_birth_place, clean_document,
                                 clean_ins, clean_method, clean_name, clean_resident_id, clean_room, clean_sex,
                                 clean_status, clean_usual_name, fold, LIST_KEY_SEPARATOR)
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


def _first_named(db: Database, word: str, limit: int) -> list[str] | None:
    """The ids of the first `limit` patients, in the list's order, that one word typed finds by name: one range of
    `patient_name_prefixes` (schema v19), read up to `limit`. None when the word is not a name to look for."""
    folded = fold(word)
    if not folded or _DATE_TOKEN.fullmatch(word):
        return None
    keys = db.conn.execute("SELECT sort_key FROM patient_name_prefixes WHERE prefix = ? ORDER BY sort_key LIMIT ?",
                           [folded, limit])
    return [key.rsplit(LIST_KEY_SEPARATOR, 1)[-1] for (key,) in keys]


def _first_in_order(db: Database, ids: set[str], limit: int | None) -> list[str]:
    """Of these patients, the ids of the first `limit` (all: None) in the list's order, those merged into another
    record left out. Only their keys in `patient_order` are read (schema v19), not their rows."""
    keys = db.conn.execute("SELECT sort_key, patient_id FROM patient_order WHERE patient_id IN "
                           "(SELECT value FROM json_each(?1))", [json.dumps(sorted(ids))]).fetchall()
    keys.sort()
    return [patient_id for _key, patient_id in keys[:limit]]


def _rows_in_order(db: Database, ids: list[str]) -> list[dict[str, Any]]:
    """These patients' rows, in the order of `ids`."""
    rows = db.query("SELECT * FROM patients WHERE id IN (SELECT value FROM json_each(?1))", [json.dumps(ids)])
    by_id = {row["id"]: row for row in rows}
    return [by_id[patient_id] for patient_id in ids if patient_id in by_id]


def find_patients(db: Database, query: str = "", limit: int | None = None) -> list[dict[str, Any]]:
    """Every word of `query` must match: a birth date prefix ('1942-03', '12/03/19') or a case- and
    accent-insensitive prefix of the birth name, the usual name or the given name (or of one of their parts,
    'martin' finds 'Dupont-Martin'). Empty query: all patients. Patients merged into another record (probable
    duplicates an administrator merged, sync.store.duplicates) are never listed. Sorted by family name, given
    name, birth date; `limit`: only the first ones (ask one more than you show to know whether there are others).
    Each word is a range on an index (the folded name tokens, the birth date in both forms), the order an index
    too (schema v19): the rows read are those returned, whatever the number of patients kept."""
    ids: set[str] | None = None
    words = (query or "").split()
    with db.lock:
        if len(words) == 1 and limit is not None:  # what the list asks at each keystroke
            first = _first_named(db, words[0], limit)
            if first is not None:
                return _rows_in_order(db, first)
        for token in words:
            matching = _ids_matching(db, token)
            if matching is not None:
                ids = matching if ids is None else ids & matching
            if ids is not None and not ids:
                return []
        if ids is None:
            first = [row[0] for row in db.conn.execute(
                "SELECT patient_id FROM patient_order ORDER BY sort_key LIMIT ?", [-1 if limit is None else limit])]
        else:
            first = _first_in_order(db, ids, limit)
        return _rows_in_order(db, first)
