"""Correcting a resident's record from the patient list, without opening a session: the room when the resident moves,
the usual name, a typo in the traits of an identity not yet retrieved or qualified, and the validation of a
provisional identity against a high-trust document (PROV → VALI), by the rules of the creation form
(mobile.workflow.patients: the same status rules, date parsing and probable duplicates).

The traits of a "Récupérée" or "Qualifiée" identity come from the national INSi teleservice (ANS, Référentiel
national d'identitovigilance, RNIV 1): the tablet never changes them, nor the status of such an identity
(`identity.locked`, which the store also enforces). The store writes the whole correction in one transaction,
stamping each changed field, tracing their names in the audit trail and queuing the resident for the next sync."""
from __future__ import annotations

from typing import Any

from mobile.workflow.context import WorkflowContext
from mobile.workflow.patients import PatientsStep, check_status, parse_birth_date
from mobile.workflow.state import DuplicateWarning, WorkflowError
from sync.store.patient_stamps import LOCKED_STATUSES

TRAITS = ("family_name", "given_name", "birth_date", "sex", "birth_place_insee")
OPTIONAL = ("usual_name", "room")   # blank clears them


def traits_locked(patient: dict[str, Any] | None) -> bool:
    """True when the identity's traits came from INSi (Récupérée, Qualifiée) and stay as they are."""
    return bool(patient) and patient.get("identity_status") in LOCKED_STATUSES


def _typed(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


class PatientEditStep:
    def __init__(self, ctx: WorkflowContext, patients: PatientsStep) -> None:
        self.ctx = ctx
        self.patients = patients

    def open_patient_edit(self, patient_id: str) -> dict[str, Any]:
        """The resident form, filled with the record, from the patient list; no session is opened. Opening a
        resident's record is traced like any view of it."""
        ctx = self.ctx
        ctx.require_staff()
        if ctx.state.step != "patient":
            raise WorkflowError("patient.edit.not_from_here")
        patient = ctx.store.get_patient(patient_id)
        ctx.store.record_view("patient", patient["id"], "edit")
        ctx.changed(step="patient_edit", editing=patient, duplicates=[], edited=None, notice=None)
        return patient

    def cancel_patient_edit(self) -> None:
        """Back to the patient list, nothing changed."""
        if self.ctx.state.step == "patient_edit":
            self.ctx.changed(step="patient", editing=None, duplicates=[])

    def save_patient_edit(self, *, allow_duplicate: bool = False, **values: Any) -> list[str]:
        """Store what differs from the record (the form's fields, as `create_patient` takes them) and go back to
        the patient list, which shows the fields changed (`state.edited`, stamp keys: "room", "usual_name",
        "reliability"…). A changed trait that makes the resident look like another one raises DuplicateWarning
        unless `allow_duplicate`; any refusal stores nothing."""
        ctx = self.ctx
        ctx.require_staff()
        if ctx.state.step != "patient_edit" or ctx.state.editing is None:
            raise WorkflowError("patient.edit.none")
        current = ctx.store.get_patient(ctx.state.editing["id"])
        changes = self._changes(current, values)
        reliability = self._reliability(current, values)
        if not allow_duplicate and set(changes) & set(TRAITS):
            candidates = self.patients.probable_duplicates(**{**{k: current[k] for k in TRAITS}, **changes},
                                                           usual_name=changes.get("usual_name",
                                                                                  current.get("usual_name")),
                                                           exclude=current["id"])
            if candidates:
                ctx.changed(duplicates=candidates)
                raise DuplicateWarning(candidates)
        try:
            keys = ctx.store.edit_patient(current["id"], reliability=reliability, **changes)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        ctx.changed(step="patient", editing=None, duplicates=[], edited=tuple(keys))
        return keys

    @staticmethod
    def _changes(current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """The fields typed differently from the record (a blank optional field clears it); a trait of a locked
        identity may not differ."""
        changes: dict[str, Any] = {}
        for key in (*TRAITS, *OPTIONAL):
            if key not in values:
                continue
            value = _typed(values[key])
            if key == "birth_date":
                value = parse_birth_date(value)
            if key in OPTIONAL and not value:
                value = None
            if value != current.get(key):
                changes[key] = value
        locked = [key for key in TRAITS if key in changes]
        if locked and traits_locked(current):
            raise WorkflowError("identity.locked", locked[0], status=current["identity_status"])
        return changes

    def _reliability(self, current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any] | None:
        """The status change asked for (by hand: PROV or VALI with its document, as at creation), None when the
        status, document and collection method stay as they are."""
        status = str(values.get("identity_status") or current["identity_status"]).strip().upper()
        if traits_locked(current):
            if status != current["identity_status"]:
                raise WorkflowError("identity.locked", "identity_status", status=current["identity_status"])
            return None
        document = values.get("identity_document") or None
        check_status({"identity_status": status, "identity_document": document},
                     (self.ctx.state.site or {}).get("kind"))
        method = values.get("identity_method") or current.get("identity_method")
        if (status, document, method) == (current["identity_status"], current.get("identity_document"),
                                          current.get("identity_method")):
            return None
        return {"status": status, "identity_document": document, "identity_method": method}
