"""What the tablet keeps to take an open session up again where staff left it (schema v7, `session_resume`): one
JSON document per open session, written by the workflow (mobile.workflow.resume) and read back after leaving the
session for another resident or after a restart. It stays on the tablet: never in the outbox or a FHIR bundle;
closing or abandoning the session deletes it (a trigger of the schema)."""
from __future__ import annotations

import json
from typing import Any

from sync.store.database import Database
from sync.store.sessions import open_session_row


def save_resume(db: Database, session_id: str, state: dict[str, Any]) -> None:
    """Replace the resume document of an open session (SessionStateError when it is no longer open)."""
    text = json.dumps(state, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    with db.transaction():
        open_session_row(db, session_id)
        db.conn.execute("INSERT INTO session_resume (session_id, state, saved_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(session_id) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at",
                        [session_id, text, db.stamp()])


def resume_state(db: Database, session_id: str) -> dict[str, Any] | None:
    """The resume document of a session, or None (never saved, or the session ended)."""
    with db.lock:
        row = db.conn.execute("SELECT state FROM session_resume WHERE session_id = ?", [session_id]).fetchone()
    return json.loads(row[0]) if row else None
