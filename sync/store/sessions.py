"""Sessions: opening one for a patient, its context while it is open (reason, site, staff, the call, the remote
doctor, who was present, the room checklist), abandoning it, the state it leaves in when closed, and where its
upload stands.

A session is open, then closed (its bundle frozen and queued: sync.closing) or abandoned (kept, never uploaded);
after that nothing of it changes (the schema's triggers refuse it too).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sync import outbox
from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import InputError, SessionStateError, StoreError
from sync.store.fields import TextRule, aware_iso, bool_or_none, phone
from sync.store.identity import clean_rpps
from sync.store.staff import active_staff
from sync.store.trail import trace

SESSION_STATES = ("open", "closed", "abandoned")
UNSET: Any = object()
REASON = TextRule("reason", 500, "session.reason.too_long")
STAFF_NAME = TextRule("staff", 100, "session.staff.too_long")
REMOTE_DOCTOR_NAME = TextRule("remote_doctor_name", 100, "session.remote_doctor_name.too_long")
_YES_NO = ("companion_present", "interpreter_present", "checklist_room_closed", "checklist_device_hygiene",
           "checklist_accessibility")
_CONTEXT = ("reason", "staff", "started_at", "ended_at", "remote_doctor_name", "remote_doctor_rpps", "callback_phone",
            *_YES_NO)


def open_session(db: Database, patient_id: str, *, reason: str | None = None, staff: str | None = None,
                 site_id: str | None = None, staff_id: str | None = None) -> str:
    """Open a session; its idempotency key is minted here, once, and identifies the upload forever.
    `staff` is a free-text name (first-version callers); `staff_id` / `site_id` point to registered staff and
    sites."""
    session_id = new_id()
    with db.transaction():
        db.row("patients", patient_id)
        if site_id is not None:
            db.row("sites", site_id)
        if staff_id is not None:
            active_staff(db, staff_id, "staff_id")
        db.db["sessions"].insert({
            "id": session_id, "idempotency_key": new_id(), "patient_id": patient_id, "state": "open",
            "opened_at": db.stamp(), "closed_at": None, "reason": reason, "staff": staff,
            "site_id": site_id, "staff_id": staff_id,
        })
        db.conn.execute("UPDATE patients SET last_seen_at = ? WHERE id = ?", [db.stamp(), patient_id])
        trace(db, "create", "session", session_id, f"patient {patient_id}")
    return session_id


def get_session(db: Database, session_id: str) -> dict[str, Any]:
    return db.row("sessions", session_id)


def open_sessions(db: Database) -> list[dict[str, Any]]:
    """Sessions still open on this tablet (after a crash or a lock, to resume them)."""
    return db.query("SELECT * FROM sessions WHERE state = 'open' ORDER BY opened_at")


def open_session_row(db: Database, session_id: str) -> dict[str, Any]:
    """The session's row if it is still open; SessionStateError `session.closed` / `session.abandoned` if not."""
    session = db.row("sessions", session_id)
    if session["state"] != "open":
        raise SessionStateError("session.closed" if session["state"] == "closed" else "session.abandoned",
                                session_id=session_id)
    return session


def _context_changes(values: dict[str, Any]) -> dict[str, Any]:
    """The checked columns for the context arguments given (UNSET: not given)."""
    unknown = set(values) - set(_CONTEXT)
    if unknown:
        raise TypeError(f"unknown session fields: {sorted(unknown)}")
    given = {name: value for name, value in values.items() if value is not UNSET}
    changes: dict[str, Any] = {}
    for name, rule in (("reason", REASON), ("staff", STAFF_NAME), ("remote_doctor_name", REMOTE_DOCTOR_NAME)):
        if name in given:
            changes[name] = rule.clean(given[name])
    for name in ("started_at", "ended_at"):
        if name in given:
            changes[name] = None if given[name] is None else aware_iso(given[name], name)
    if "remote_doctor_rpps" in given:
        changes["remote_doctor_rpps"] = clean_rpps(given["remote_doctor_rpps"], "remote_doctor_rpps")
    if "callback_phone" in given:
        changes["callback_phone"] = phone(given["callback_phone"], "callback_phone")
    for name in _YES_NO:
        if name in given:
            changes[name] = bool_or_none(given[name], name)
    return changes


def update_session(db: Database, session_id: str, *, site_id: Any = UNSET, staff_id: Any = UNSET,
                   **context: Any) -> dict[str, Any]:
    """Set the context of an open session; only the arguments given change (None clears a field). Returns the
    updated session. `started_at` / `ended_at`: the teleconsultation call itself, as noted by staff."""
    changes = _context_changes(context)
    with db.transaction():
        session = open_session_row(db, session_id)
        if site_id is not UNSET:
            if site_id is not None:
                db.row("sites", site_id)
            changes["site_id"] = site_id
        if staff_id is not UNSET:
            if staff_id is not None:
                active_staff(db, staff_id, "staff_id")
            changes["staff_id"] = staff_id
        start = changes.get("started_at", session["started_at"])
        end = changes.get("ended_at", session["ended_at"])
        if start and end and dt.datetime.fromisoformat(end) < dt.datetime.fromisoformat(start):
            raise InputError("session.ended_at.before_start", "ended_at")
        if changes:
            db.db["sessions"].update(session_id, changes)
            trace(db, "change", "session", session_id, " ".join(sorted(changes)))
        return db.row("sessions", session_id)


def mark_abandoned(db: Database, session_id: str) -> dict[str, Any]:
    """Inside the abandon's transaction (sync.store.live.abandon_session, which also withdraws a request the
    remote doctor may have seen): the session will not take place (patient refused, call impossible…); it is
    kept, frozen, and never uploaded. An open session only. Returns its row as it was."""
    db.require_transaction()
    session = open_session_row(db, session_id)
    db.db["sessions"].update(session_id, {"state": "abandoned", "closed_at": db.stamp()})
    trace(db, "abandon", "session", session_id)
    return session


def closable_row(db: Database, session_id: str) -> dict[str, Any]:
    """Inside the close's transaction: the row of a session that may be closed. Closing twice or closing an
    abandoned session is refused."""
    db.require_transaction()
    session = db.row("sessions", session_id)
    if session["state"] == "closed":
        raise SessionStateError("session.already_closed", session_id=session_id)
    if session["state"] != "open":
        raise SessionStateError("session.abandoned.cannot_close", session_id=session_id)
    return session


def mark_closed(db: Database, session: dict[str, Any], closed_at: str) -> dict[str, Any]:
    """Inside the close's transaction: the session is closed at `closed_at`; returns its row as now stored."""
    db.require_transaction()
    db.db["sessions"].update(session["id"], {"state": "closed", "closed_at": closed_at})
    return {**session, "state": "closed", "closed_at": closed_at}


def sync_state(db: Database, session_id: str) -> str:
    """'open' while the session is open, 'abandoned' for an abandoned one (never uploaded), then the state of
    its outbox entry."""
    with db.lock:
        session = db.row("sessions", session_id)
        if session["state"] in ("open", "abandoned"):
            return session["state"]
        state = outbox.bundle_state(db, session_id)
    if state is None:  # impossible by construction (the close is atomic); say so loudly if it happens
        raise StoreError("session.outbox_missing", session_id=session_id)
    return state
