"""What the store writes in the audit trail (sync.audit), and the acts that are only traced: opening a record,
signing out.

Every change of the store is traced inside the transaction that makes it (`trace`), under the acting staff member
(`Database.actor`) unless the caller names another one.
"""
from __future__ import annotations

from sync import audit
from sync.store.database import Database


def trace(db: Database, action: str, subject_kind: str, subject_id: str | None = None, detail: str | None = None,
          *, staff_id: str | None = None) -> None:
    """Trace an act in the audit log, inside the transaction doing it."""
    audit.append(db, action, subject_kind, subject_id, detail=detail,
                 staff_id=staff_id if staff_id is not None else db.actor)


def record_view(db: Database, subject_kind: str, subject_id: str, detail: str | None = None) -> None:
    """Trace that the acting staff member opened a patient's record or a session (reads change nothing else)."""
    with db.transaction():
        trace(db, "view", subject_kind, subject_id, detail)


def record_sign_out(db: Database, staff_id: str, detail: str = "sign out") -> None:
    with db.transaction():
        trace(db, "sign_out", "staff", staff_id, detail, staff_id=staff_id)
