"""What is written about a session: notes while it is open (the remote doctor's conclusion, staff notes,
orientation, prescriptions), the summary for the patient's own doctor (médecin traitant), and addenda, the
remarks written after it was closed (append-only; each travels as its own frozen bundle: sync.closing)."""
from __future__ import annotations

from typing import Any

from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import InputError, SessionStateError
from sync.store.fields import TextRule, choice
from sync.store.identity import clean_rpps
from sync.store.sessions import open_session_row
from sync.store.staff import active_staff
from sync.store.trail import trace

NOTE_KINDS = ("remote_doctor_conclusion", "staff_note", "orientation", "prescription", "emergency_call")
WRITERS = ("doctor", "staff")
NOTE_TEXT = TextRule("text", 10000, "note.text.too_long", required="note.text.required")
NOTE_AUTHOR = TextRule("author", 100, "note.author.too_long")
SUMMARY_TEXT = TextRule("text", 20000, "summary.text.too_long", required="summary.text.required")
RECIPIENT_NAME = TextRule("recipient_name", 100, "summary.recipient_name.too_long")
ADDENDUM_TEXT = TextRule("text", 5000, "addendum.text.too_long", required="addendum.text.required")


def add_note(db: Database, session_id: str, *, kind: str, text: str, author: str | None = None,
             staff_id: str | None = None, written_by: str | None = None, author_rpps: str | None = None) -> str:
    """A remote doctor's conclusion (author defaults to the session's remote doctor) or a staff note (author
    defaults to the staff member's name). `written_by`: for the doctor's conclusion, orientation and
    prescriptions, 'staff' when the staff member (`staff_id`) typed the doctor's words (transcribed), 'doctor'
    when they are the doctor's own (sync.store.conclusions writes those)."""
    kind_code = choice(kind, NOTE_KINDS, "kind", "note.kind.invalid")
    body = NOTE_TEXT.clean(text)
    author_text = NOTE_AUTHOR.clean(author)
    writer = choice(written_by, WRITERS, "written_by", "note.written_by.invalid") if written_by is not None else None
    rpps = clean_rpps(author_rpps, "author_rpps")
    note_id = new_id()
    with db.transaction():
        session = open_session_row(db, session_id)
        if staff_id is not None:
            member = active_staff(db, staff_id, "staff_id")
            author_text = author_text or member["display_name"]
        if author_text is None and kind_code == "remote_doctor_conclusion":
            author_text = session["remote_doctor_name"]
        if author_text is None:
            raise InputError("note.author.required", "author")
        db.db["notes"].insert({"id": note_id, "session_id": session_id, "kind": kind_code, "author": author_text,
                               "staff_id": staff_id, "text": body, "created_at": db.stamp(),
                               "written_by": writer, "author_rpps": rpps})
        trace(db, "change", "session", session_id, f"note {kind_code}")
    return note_id


def notes(db: Database, session_id: str) -> list[dict[str, Any]]:
    return db.query("SELECT * FROM notes WHERE session_id = ? ORDER BY rowid", [session_id])


def set_summary(db: Database, session_id: str, *, text: str, recipient_name: str | None = None,
                recipient_rpps: str | None = None) -> str:
    """Setting it again replaces it while the session is open (`created_at` is the time of the current text).
    Returns the summary id."""
    body = SUMMARY_TEXT.clean(text)
    name = RECIPIENT_NAME.clean(recipient_name)
    rpps = clean_rpps(recipient_rpps, "recipient_rpps")
    with db.transaction():
        open_session_row(db, session_id)
        existing = list(db.db.query("SELECT id FROM summaries WHERE session_id = ?", [session_id]))
        summary_id = existing[0]["id"] if existing else new_id()
        row = {"text": body, "recipient_name": name, "recipient_rpps": rpps, "created_at": db.stamp()}
        if existing:
            db.db["summaries"].update(summary_id, row)
        else:
            db.db["summaries"].insert({"id": summary_id, "session_id": session_id, **row})
        trace(db, "change", "session", session_id, "summary")
    return summary_id


def get_summary(db: Database, session_id: str) -> dict[str, Any] | None:
    rows = db.query("SELECT * FROM summaries WHERE session_id = ?", [session_id])
    return rows[0] if rows else None


def insert_addendum(db: Database, session_id: str, *, staff_id: str, text: str) -> tuple[dict[str, Any], ...]:
    """Inside the caller's transaction: a remark on a CLOSED session (the session itself never changes after
    close), signed by an active staff member. Returns (addendum, session, author) rows."""
    db.require_transaction()
    body = ADDENDUM_TEXT.clean(text)
    session = db.row("sessions", session_id)
    if session["state"] != "closed":
        raise SessionStateError("addendum.session_not_closed", session_id=session_id)
    author = active_staff(db, staff_id, "staff_id")
    addendum = {"id": new_id(), "session_id": session_id, "staff_id": staff_id, "text": body,
                "created_at": db.stamp()}
    db.db["addenda"].insert(addendum)
    return addendum, session, author


def addenda(db: Database, session_id: str) -> list[dict[str, Any]]:
    return db.query("SELECT * FROM addenda WHERE session_id = ? ORDER BY rowid", [session_id])
