"""Probable duplicates: two records of the same person, created apart (offline on two tablets, or typed here while
the other came down from the server), and their merge by an administrator.

Two residents with different patient ids are probably the same person when they carry the same INS, or the same
strict traits (RNIV 1): birth name, first given name at birth, birth date, sex and birth place, compared with case
and accents folded. Each pair is recorded once. Merging keeps one record (the qualified one, else the older) and
marks the other merged into it: it leaves the patient search, its sessions keep their patient, the audit trail
records it, and both go up with their FHIR links (replaced-by / replaces, HL7 FHIR R4 Patient.link).
"""
from __future__ import annotations

from typing import Any

from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import InputError
from sync.store.identity import fold
from sync.store.patient_stamps import STATUS_RANK, queue_resident
from sync.store.trail import trace


def _first_given(name: str | None) -> str:
    return fold((name or "").strip()).split(" ")[0]


def _same_traits(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (fold(a["family_name"]) == fold(b["family_name"]) and _first_given(a["given_name"]) ==
            _first_given(b["given_name"]) and a["birth_date"] == b["birth_date"] and a["sex"] == b["sex"]
            and a["birth_place_insee"] == b["birth_place_insee"])


def duplicates_of(db: Database, patient: dict[str, Any]) -> list[tuple[str, str]]:
    """(other patient id, reason 'ins' | 'traits') for every other resident, not merged, probably the same person."""
    found = []
    for other in db.db.query("SELECT * FROM patients WHERE id <> ? AND merged_into IS NULL AND "
                             "(birth_date = ? OR ins = ?)", [patient["id"], patient["birth_date"], patient["ins"]]):
        if patient["ins"] and other["ins"] == patient["ins"]:
            found.append((other["id"], "ins"))
        elif _same_traits(patient, other):
            found.append((other["id"], "traits"))
    return found


def record_duplicates(db: Database, patient_id: str) -> int:
    """Record the probable duplicates of this resident, inside the caller's transaction; returns how many pairs
    it is in (new or already known, still open)."""
    db.require_transaction()
    patient = db.row("patients", patient_id)
    if patient["merged_into"]:
        return 0
    pairs = duplicates_of(db, patient)
    for other_id, reason in pairs:
        low, high = sorted((patient_id, other_id))
        db.conn.execute("INSERT INTO probable_duplicates (id, patient_a, patient_b, reason, found_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (patient_a, patient_b) DO NOTHING",
                        [new_id(), low, high, reason, db.stamp()])
    return len(pairs)


def open_duplicates(db: Database) -> list[dict[str, Any]]:
    """The pairs waiting for an administrator, oldest first: {id, reason, found_at, a, b} with both rows."""
    pairs = db.query("SELECT * FROM probable_duplicates WHERE state = 'open' ORDER BY found_at, id")
    return [{"id": p["id"], "reason": p["reason"], "found_at": p["found_at"],
             "a": db.row("patients", p["patient_a"]), "b": db.row("patients", p["patient_b"])} for p in pairs]


def survivor_of(a: dict[str, Any], b: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(kept, merged): the more reliable identity (qualified first), else the older record."""
    def rank(p: dict[str, Any]) -> tuple[int, str, str]:
        return (-STATUS_RANK[p["identity_status"]], p["created_at"], p["id"])
    kept, merged = sorted((a, b), key=rank)
    return kept, merged


def mark_merged(db: Database, merged_id: str, survivor_id: str, detail: str) -> None:
    """Mark a resident merged into another and close the pairs they were in, inside the caller's transaction."""
    db.require_transaction()
    db.conn.execute("UPDATE patients SET merged_into = ? WHERE id = ?", [survivor_id, merged_id])
    db.conn.execute("UPDATE probable_duplicates SET state = 'merged', survivor_id = ?, resolved_at = ? "
                    "WHERE state = 'open' AND ? IN (patient_a, patient_b)", [survivor_id, db.stamp(), merged_id])
    trace(db, "change", "patient", merged_id, f"{detail} into {survivor_id}")


def merge_duplicates(db: Database, pair_id: str) -> str:
    """An administrator merges a pair: returns the surviving patient id. Both records are queued for the server
    (the merged one with its replaced-by link and inactive, the survivor with its replaces link)."""
    with db.transaction():
        rows = db.query("SELECT * FROM probable_duplicates WHERE id = ?", [pair_id])
        if not rows or rows[0]["state"] != "open":
            raise InputError("duplicate.not_open", "pair_id")
        kept, merged = survivor_of(db.row("patients", rows[0]["patient_a"]), db.row("patients", rows[0]["patient_b"]))
        mark_merged(db, merged["id"], kept["id"], "merged")
        trace(db, "change", "patient", kept["id"], f"kept, {merged['id']} merged into it")
        queue_resident(db, merged["id"])
        queue_resident(db, kept["id"])
    return kept["id"]


def merged_into_it(db: Database, patient_id: str) -> list[str]:
    """The residents merged into this one (its `replaces` links)."""
    return [r["id"] for r in db.query("SELECT id FROM patients WHERE merged_into = ? ORDER BY id", [patient_id])]
