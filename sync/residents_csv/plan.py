"""What importing a residents export would do to the store, decided before anything is written.

Each checked row (sync.residents_csv.rows) is matched with a resident of the store: by its INS first, else by the
five identity traits (birth name, first given name at birth, birth date, sex, INSEE code of the birth place; names
compared case- and accent-insensitively). A matched resident is updated with the cells the row fills that differ
(an empty cell erases nothing). A row matching no one is created, unless the store's duplicate rule
(sync.store.patients.duplicate_of: the same person under her usual name, say) finds a probable duplicate: it is then
reported and left out, for staff to check. The identity traits, status, INS and document of a Qualifiée or
Récupérée identity are never changed by an import (RNIV: such an identity comes from a trusted source): the row's
differing values are reported as `protected`; a status is never lowered either.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sync.residents_csv.reading import RawRow
from sync.residents_csv.rows import IDENTITY_TRAITS, BadRow, Resident, check_row
from sync.store.identity import fold
from sync.store.patients import duplicate_of

if TYPE_CHECKING:
    from sync.store.database import Database

PROTECTED_STATUSES = ("QUAL", "RECUP")
PROTECTED_FIELDS = (*IDENTITY_TRAITS, "identity_status", "ins", "identity_document")
_STATUS_RANK = {"PROV": 0, "RECUP": 1, "VALI": 1, "QUAL": 2}
_NAMES = ("family_name", "given_name", "birth_given_names", "usual_name")


@dataclass
class ImportPlan:
    create: list[Resident] = field(default_factory=list)
    update: list[tuple[Resident, str, dict[str, Any]]] = field(default_factory=list)  # row, patient id, changes
    unchanged: list[tuple[Resident, str]] = field(default_factory=list)
    duplicate: list[tuple[Resident, str]] = field(default_factory=list)  # row, the probable duplicate's id
    protected: list[tuple[Resident, str, list[str]]] = field(default_factory=list)  # row, patient, fields kept
    bad: list[BadRow] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.create or self.update)

    def report(self) -> dict[str, Any]:
        """Line numbers, patient ids, field names and codes: never a name or a date (a terminal may be recorded)."""
        return {
            "create": [{"line": r.line} for r in self.create],
            "update": [{"line": r.line, "patient_id": pid, "fields": sorted(c)} for r, pid, c in self.update],
            "unchanged": [{"line": r.line, "patient_id": pid} for r, pid in self.unchanged],
            "duplicate": [{"line": r.line, "patient_id": pid} for r, pid in self.duplicate],
            "protected": [{"line": r.line, "patient_id": pid, "fields": kept} for r, pid, kept in self.protected],
            "bad": [b.report() for b in sorted(self.bad, key=lambda b: b.line)],
        }


def _person_keys(values: dict[str, Any]) -> set[tuple[str, ...]]:
    """The store's duplicate rule as keys: one per name (birth or usual) the person goes by."""
    rest = (fold(values["given_name"]), values["birth_date"], values["sex"], values["birth_place_insee"])
    return {(fold(values[name]), *rest) for name in ("family_name", "usual_name") if values.get(name)}


def _same(name: str, current: Any, value: Any) -> bool:
    if name in _NAMES and current is not None:
        return fold(current) == fold(value)
    return current == value


def _changes(patient: dict[str, Any], values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(what to write, the row's differing values that are kept out) for a matched resident."""
    protected = patient["identity_status"] in PROTECTED_STATUSES
    changes: dict[str, Any] = {}
    kept: list[str] = []
    for name, value in values.items():
        if _same(name, patient.get(name), value):
            continue
        lowered = name == "identity_status" and _STATUS_RANK[value] < _STATUS_RANK[patient[name]]
        if lowered or (protected and name in PROTECTED_FIELDS):
            kept.append(name)
        else:
            changes[name] = value
    return changes, sorted(kept)


class _Planner:
    def __init__(self, db: "Database") -> None:
        self.db = db
        self.patients = db.query("SELECT * FROM patients ORDER BY created_at, id")
        self.by_ins = {p["ins"]: p for p in self.patients if p["ins"]}
        self.seen: dict[Any, int] = {}  # a person key or an INS → the line that first gave it
        self.plan = ImportPlan()

    def repeated(self, resident: Resident) -> int | None:
        keys: set[Any] = set(_person_keys(resident.values))
        if resident.values.get("ins"):
            keys.add(resident.values["ins"])
        first = next((self.seen[k] for k in keys if k in self.seen), None)
        for key in keys:
            self.seen.setdefault(key, resident.line)
        return first

    def match(self, values: dict[str, Any]) -> dict[str, Any] | None:
        if values.get("ins") in self.by_ins:
            return self.by_ins[values["ins"]]
        return next((p for p in self.patients if all(_same(t, p[t], values[t]) for t in (
            "family_name", "given_name", "birth_date", "sex", "birth_place_insee"))), None)

    def place(self, resident: Resident) -> None:
        values = resident.values
        first = self.repeated(resident)
        if first is not None:
            self.plan.bad.append(BadRow(resident.line, "residents.row.repeated", params={"first_line": first}))
            return
        patient = self.match(values)
        if patient is None:
            duplicate = duplicate_of(self.db, family_name=values["family_name"], usual_name=values.get("usual_name"),
                                     given_name=values["given_name"], birth_date=values["birth_date"],
                                     sex=values["sex"], birth_place_insee=values["birth_place_insee"])
            if duplicate:
                self.plan.duplicate.append((resident, duplicate))
            else:
                self.plan.create.append(resident)
            return
        if values.get("ins") and patient["ins"] and patient["ins"] != values["ins"]:
            self.plan.bad.append(BadRow(resident.line, "residents.ins.mismatch", "ins"))
            return
        changes, kept = _changes(patient, values)
        if kept:
            self.plan.protected.append((resident, patient["id"], kept))
        if changes:
            self.plan.update.append((resident, patient["id"], changes))
        elif not kept:
            self.plan.unchanged.append((resident, patient["id"]))


def plan_import(db: "Database", rows: list[RawRow], today: dt.date) -> ImportPlan:
    """What importing `rows` would do to the store `db` now (reads only)."""
    planner = _Planner(db)
    for row in rows:
        checked = check_row(row, today)
        if isinstance(checked, BadRow):
            planner.plan.bad.append(checked)
        else:
            planner.place(checked)
    return planner.plan
