"""The remote doctor's answer taken into the session: the conclusions they signed (sync.fhir.exchange, pulled into
sync.store.conclusions) become the session's notes exactly as the doctor wrote them, marked as the doctor's own.

Here because the orientation is worded by the exchange's vocabulary (the doctor chose a code and maybe a detail)
and the store never imports the FHIR mapping.
"""
from __future__ import annotations

from typing import Any, Mapping

from sync.fhir.exchange import ORIENTATIONS_FR
from sync.store import SessionStateError, Store
from sync.store import conclusions as conclusion_rows


def orientation_text(code: str | None, detail: str | None) -> str | None:
    """The orientation note as the report writes it: the doctor's choice, then their detail ("… — dans 48 h")."""
    if not code:
        return None
    detail = (detail or "").strip()
    return ORIENTATIONS_FR[code] + (f" — {detail}" if detail else "")


def conclusion_notes(row: Mapping[str, Any]) -> dict[str, str]:
    """kind → text of the notes a received version gives: the conclusion and prescriptions unchanged."""
    notes = {"remote_doctor_conclusion": row["conclusion"]}
    orientation = orientation_text(row.get("orientation"), row.get("orientation_detail"))
    if orientation:
        notes["orientation"] = orientation
    if row.get("prescriptions"):
        notes["prescription"] = row["prescriptions"]
    return notes


def accept_conclusions(store: Store, session_id: str, conclusions_id: str, *, staff_id: str) -> dict[str, Any]:
    """Staff accept the waiting version: the doctor's notes in the session, the version marked accepted (by whom,
    when). Returns the accepted row. SessionStateError `conclusions.not_waiting` when that version is not the one
    waiting (a newer one came, or it was accepted already)."""
    row = store.waiting_conclusions(session_id)
    if row is None or row["id"] != conclusions_id:
        raise SessionStateError("conclusions.not_waiting", session_id=session_id)
    return conclusion_rows.accept(store, session_id, conclusions_id, staff_id=staff_id, notes=conclusion_notes(row))
