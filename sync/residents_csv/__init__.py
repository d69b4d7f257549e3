"""Residents imported from a CSV export of the facility's care software (`python -m sync import-residents FILE.csv
[--db PATH] [--dry-run]`), so a tablet starts with the site's residents instead of typing them.

Columns, found by their header name (case, accents and punctuation aside; other columns are ignored and listed):

    Nom de naissance                        required
    Premier prénom de naissance             required unless "Prénoms de naissance" is there (its first name is used)
    Prénoms de naissance                    the full list, space-separated, starting with the first one
    Date de naissance                       dd/mm/yyyy or yyyy-mm-dd, required
    Sexe                                    F, M or I (also Féminin, Masculin, Indéterminé), required
    Code INSEE du lieu de naissance         5 characters (2A/2B for Corsica, 99xxx abroad), required
    Nom utilisé                             the usual name
    Chambre                                 the room or bed
    Médecin traitant                        the doctor's name, with:
    RPPS du médecin traitant                11 digits
    Adresse MSSanté du médecin traitant     required with the doctor's name
    Statut de l'identité                    PROV, RECUP, VALI or QUAL (or Provisoire, Récupérée, Validée, Qualifiée);
                                            empty: PROV for a new resident, unchanged for a known one
    Pièce justificative                     CN, PA, CS, LECV or ANCV (validated or qualified identities only)
    Matricule INS                           the INS, qualified identities only

The file is UTF-8 (with or without BOM) or Windows-1252, separated by ";" or ",". Every value goes through the
store's own rules (sync.store.identity: names, dates, INSEE code, INS key; sync.store.recipients: RPPS, MSSanté
address). The import first reports, as JSON, what it would create, update (matched by INS, else by the five
identity traits), leave unchanged, leave out as a probable duplicate, keep from changing (a Qualifiée or Récupérée
identity), and every bad row with its line number and the refusal's code (sync.residents_csv.plan). With
`--dry-run` it stops there. Otherwise it writes everything in one transaction, or nothing at all when any row is
bad. A resident created by an import has `patients.origin = 'imported'`.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sync.residents_csv.plan import ImportPlan, plan_import
from sync.residents_csv.reading import ResidentsFile, ResidentsFileError, read_residents_file
from sync.store.patient_stamps import all_fields_stamped, field_of, queue_resident, stamp_fields
from sync.store.trail import trace

if TYPE_CHECKING:
    from sync.store.database import Database

__all__ = ["ImportOutcome", "ResidentsFileError", "import_residents"]


@dataclass(frozen=True)
class ImportOutcome:
    file: ResidentsFile
    plan: ImportPlan
    applied: bool  # written to the store (False: a dry run, a bad row, or nothing to write)

    def report(self) -> dict[str, Any]:
        counts = {name: len(rows) for name, rows in self.plan.report().items()}
        return {"encoding": self.file.encoding, "delimiter": self.file.delimiter, "rows": len(self.file.rows),
                "ignored_columns": self.file.ignored_columns, "applied": self.applied, "counts": counts,
                **self.plan.report()}


def _insert(db: "Database", values: dict[str, Any]) -> str:
    patient_id = str(uuid.uuid4())
    status = values.get("identity_status", "PROV")
    now = db.stamp()
    db.db["patients"].insert({**values, "id": patient_id, "identity_status": status, "created_at": now,
                              "last_seen_at": now, "origin": "imported", "field_stamps": all_fields_stamped(now)})
    trace(db, "create", "patient", patient_id, f"identity {status} imported")
    queue_resident(db, patient_id)  # the site's other tablets get them through the server
    return patient_id


def _update(db: "Database", patient_id: str, changes: dict[str, Any]) -> None:
    db.db["patients"].update(patient_id, changes)
    stamp_fields(db, patient_id, sorted({field_of(column) for column in changes}))
    queue_resident(db, patient_id)
    trace(db, "change", "patient", patient_id, "imported: " + ", ".join(sorted(changes)))


def import_residents(db: "Database", path: str | os.PathLike[str], *, dry_run: bool = False) -> ImportOutcome:
    """Read, check and plan the import of the export at `path`; unless `dry_run`, apply it in one transaction when
    no row is bad (the plan is made again inside it, so what is written is what the store holds then)."""
    residents_file = read_residents_file(path)
    today = db.now().astimezone().date()
    plan = plan_import(db, residents_file.rows, today)
    if dry_run or plan.bad or not plan.writes:  # nothing to write: not even an empty transaction
        return ImportOutcome(residents_file, plan, False)
    with db.transaction():
        plan = plan_import(db, residents_file.rows, today)
        if plan.bad:  # pragma: no cover - the store changed between the two plans
            return ImportOutcome(residents_file, plan, False)
        for resident in plan.create:
            _insert(db, resident.values)
        for _, patient_id, changes in plan.update:
            _update(db, patient_id, changes)
    return ImportOutcome(residents_file, plan, True)
