"""The remote doctor's conclusions received for this tablet's sessions (schema v14), and their acceptance.

A pulled version is stored beside the session it answers (matched by the session's idempotency key). A newer
version replaces one staff have not accepted yet; once accepted, a row is kept exactly as it was accepted, and a
later version waits beside it (the screens say "nouvelle version reçue"). Accepting writes the doctor's words as
the session's notes, unchanged and marked as the doctor's own (`notes.written_by = 'doctor'`, with their RPPS).

The store never reads FHIR: the pull (sync.pull.conclusions) hands the fields over, and the texts of the notes
come from the caller (sync.answers), which knows how an orientation is worded.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import SessionStateError
from sync.store.sessions import open_session_row
from sync.store.staff import active_staff
from sync.store.trail import trace

FIELDS = ("resource_id", "version", "doctor_name", "doctor_rpps", "conclusion", "orientation", "orientation_detail",
          "prescriptions", "written_at")
_WORDS = ("doctor_name", "doctor_rpps", "conclusion", "orientation", "orientation_detail", "prescriptions")
DOCTOR_NAME_MAX = 100  # as the session's remote doctor (sync.store.sessions.REMOTE_DOCTOR_NAME)
# the notes that hold the doctor's conclusions (the other kinds are the staff's own)
DOCTOR_NOTE_KINDS = ("remote_doctor_conclusion", "orientation", "prescription")


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def session_of_key(db: Database, session_key: str) -> dict[str, Any] | None:
    rows = db.query("SELECT * FROM sessions WHERE idempotency_key = ?", [session_key])
    return rows[0] if rows else None


def receive(db: Database, session_key: str, fields: Mapping[str, Any], *, now: dt.datetime) -> str:
    """Store one version pulled, inside the caller's transaction: "created", "updated" (it replaced a version not
    accepted yet), "unchanged" (already here, or older than what is here) or "foreign" (not a session of this
    tablet: nothing stored)."""
    db.require_transaction()
    session = session_of_key(db, session_key)
    if session is None:
        return "foreign"
    if len(fields.get("doctor_name") or "") > DOCTOR_NAME_MAX:
        raise ValueError("doctor_name: too long for the session's remote doctor")
    rows = db.query("SELECT * FROM received_conclusions WHERE session_id = ? ORDER BY rowid", [session["id"]])
    row = {name: fields.get(name) for name in FIELDS}
    if rows:
        latest = rows[-1]
        same_version = row["version"] is not None and any(
            (r["resource_id"], r["version"]) == (row["resource_id"], row["version"]) for r in rows)
        same_words = all(latest[name] == row[name] for name in _WORDS)
        if same_version or same_words or _moment(row["written_at"]) < _moment(latest["written_at"]):
            return "unchanged"
    waiting = [r for r in rows if r["accepted_at"] is None]
    row["received_at"] = db.stamp(now)
    if waiting:
        db.db["received_conclusions"].update(waiting[0]["id"], row)
        trace(db, "change", "session", session["id"], "conclusions received")
        return "updated"
    db.db["received_conclusions"].insert({"id": new_id(), "session_id": session["id"], **row})
    trace(db, "change", "session", session["id"], "conclusions received")
    return "created"


def waiting(db: Database, session_id: str) -> dict[str, Any] | None:
    """The version received and not accepted yet (at most one), or None."""
    rows = db.query("SELECT * FROM received_conclusions WHERE session_id = ? AND accepted_at IS NULL",
                    [session_id])
    return rows[0] if rows else None


def accepted(db: Database, session_id: str) -> dict[str, Any] | None:
    """The version staff accepted last, or None."""
    rows = db.query("SELECT * FROM received_conclusions WHERE session_id = ? AND accepted_at IS NOT NULL "
                    "ORDER BY accepted_at DESC, rowid DESC LIMIT 1", [session_id])
    return rows[0] if rows else None


def waiting_by_patient(db: Database) -> dict[str, str]:
    """Open sessions with conclusions waiting for staff: patient id → session id (the "Avis reçu" of the list)."""
    rows = db.query("SELECT s.patient_id, s.id FROM sessions s JOIN received_conclusions r ON r.session_id = s.id "
                    "WHERE s.state = 'open' AND r.accepted_at IS NULL ORDER BY r.received_at", [])
    return {r["patient_id"]: r["id"] for r in rows}


def accept(db: Database, session_id: str, conclusions_id: str, *, staff_id: str,
           notes: Mapping[str, str]) -> dict[str, Any]:
    """Staff take the waiting version into the open session: it is marked accepted (when, by whom) and `notes`
    (kind → text, the doctor's words) replace the session's earlier conclusion, orientation and prescription
    notes, written by the doctor (their name and RPPS), who becomes the session's remote doctor. One transaction;
    returns the accepted row."""
    if set(notes) - set(DOCTOR_NOTE_KINDS) or not notes.get("remote_doctor_conclusion"):
        raise ValueError("notes: the conclusion, and only the doctor's kinds")
    with db.transaction():
        open_session_row(db, session_id)
        active_staff(db, staff_id, "staff_id")
        row = waiting(db, session_id)
        if row is None or row["id"] != conclusions_id:
            raise SessionStateError("conclusions.not_waiting", session_id=session_id)
        if (notes["remote_doctor_conclusion"] != row["conclusion"]
                or notes.get("prescription", "") != row["prescriptions"]):
            raise ValueError("notes: the doctor's words are stored as the doctor wrote them")
        stamp = db.stamp()
        db.db["received_conclusions"].update(conclusions_id, {"accepted_at": stamp, "accepted_by": staff_id})
        # who signed them is the session's remote doctor (their account's name and RPPS, never typed)
        db.db["sessions"].update(session_id, {"remote_doctor_name": row["doctor_name"],
                                              "remote_doctor_rpps": row["doctor_rpps"]})
        db.conn.execute(f"DELETE FROM notes WHERE session_id = ? AND kind IN "
                        f"({', '.join('?' * len(DOCTOR_NOTE_KINDS))})", [session_id, *DOCTOR_NOTE_KINDS])
        for kind in DOCTOR_NOTE_KINDS:
            if notes.get(kind):
                db.db["notes"].insert({"id": new_id(), "session_id": session_id, "kind": kind,
                                       "author": row["doctor_name"], "author_rpps": row["doctor_rpps"],
                                       "written_by": "doctor", "staff_id": None, "text": notes[kind],
                                       "created_at": stamp})
        trace(db, "change", "session", session_id, "conclusions accepted")
        return {**row, "accepted_at": stamp, "accepted_by": staff_id}
