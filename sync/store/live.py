"""The live outbox: what the tablet sends of a session while it is still open, once staff asked a remote doctor
(the request, then the session so far after each measurement accepted).

Why its own table and rules, next to `outbox`:
- the session outbox keeps its invariant (a row iff the session is closed, its bytes frozen at close); a live send
  is an open session's state at one moment, useless once a newer one exists;
- at most one live send waits per session: queuing a newer one supersedes it (the schema's unique index says so),
  and the close supersedes whatever still waits, in the closing transaction, since the final bundle says it all;
- a live send is queued here, and its bundle built and frozen when the uploader first claims it (sync.live, above
  the store and the FHIR mapping: the store never builds FHIR), so it carries the session as it then is, and every
  retry the same bytes; every entry of it is a conditional create, so sending it twice, or after the final bundle,
  changes nothing on the server.

States: pending → in_flight → sent | pending again (transient failure, with a backoff) | rejected (the server's
refusal, an error record as in sync.outbox); pending or in flight → superseded.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sync import outbox
from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import InputError, SessionStateError
from sync.store.sessions import mark_abandoned, open_session_row
from sync.store.trail import trace

LIVE_STATES = ("pending", "in_flight", "sent", "superseded", "rejected")
REQUEST_KINDS = ("teleconsultation", "teleexpertise")  # sync.fhir.exchange.REQUEST_KINDS, checked by the schema too


@dataclass(frozen=True)
class LiveSend:
    id: str
    session_id: str
    idempotency_key: str
    payload: str | None  # None until first claimed (sync.live.freeze)
    state: str
    attempts: int
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    sent_at: str | None

    def as_outbox_entry(self) -> outbox.OutboxEntry:
        """The same send in the shape the uploader sends (sync.batching, sync.uploader)."""
        if self.payload is None:
            raise ValueError("a live send is sent only once its payload is frozen")
        return outbox.OutboxEntry(id=self.id, session_id=self.session_id, idempotency_key=self.idempotency_key,
                                  payload=self.payload, state=self.state, attempts=self.attempts,
                                  last_error=self.last_error, next_attempt_at=self.next_attempt_at,
                                  created_at=self.created_at, sent_at=self.sent_at)


_SELECT = ("SELECT l.*, s.idempotency_key FROM live_outbox l JOIN sessions s ON s.id = l.session_id")


def _send(row: dict[str, Any]) -> LiveSend:
    return LiveSend(**{k: row[k] for k in LiveSend.__dataclass_fields__})


def get_send(db: Database, send_id: str) -> LiveSend:
    rows = db.query(_SELECT + " WHERE l.id = ?", [send_id])
    if not rows:
        raise outbox.EntryNotFoundError("outbox.entry.not_found", entry_id=send_id)
    return _send(rows[0])


def sends(db: Database, session_id: str | None = None) -> list[LiveSend]:
    """Live sends oldest first, of one session or all."""
    where, params = ("", []) if session_id is None else (" WHERE l.session_id = ?", [session_id])
    return [_send(r) for r in db.query(_SELECT + where + " ORDER BY l.rowid", params)]


def requestable_row(db: Database, session_id: str) -> dict[str, Any]:
    """Inside the caller's transaction: the row of a session a request may be sent for (open, with a patient and a
    staff member to name in the request); SessionStateError otherwise."""
    db.require_transaction()
    session = open_session_row(db, session_id)
    if not session.get("staff_id"):  # the request names who asks (the patient is required by the schema)
        raise SessionStateError("live.request.no_staff", session_id=session_id)
    return session


def mark_requested(db: Database, session_id: str, kind: str) -> dict[str, Any]:
    """Inside the caller's transaction: the session's request, kind and time, set once (a second request keeps the
    first's kind and time: the doctor's Task is the same one). Returns the session's row as now stored."""
    db.require_transaction()
    if kind not in REQUEST_KINDS:
        raise InputError("live.request.kind_unknown", "kind")
    session = requestable_row(db, session_id)
    if session.get("request_kind") is None:
        db.conn.execute("UPDATE sessions SET request_kind = ?, requested_at = ? WHERE id = ?",
                        [kind, db.stamp(), session_id])
        trace(db, "change", "session", session_id, f"request {kind}")
    return db.row("sessions", session_id)


def queue(db: Database, session_id: str) -> str:
    """Inside the caller's transaction: the session's new live send, pending; the one still waiting, if any, is
    superseded. Returns the new send's id."""
    db.require_transaction()
    supersede_pending(db, session_id)
    send_id = new_id()
    db.db["live_outbox"].insert({"id": send_id, "session_id": session_id, "payload": None, "state": "pending",
                                 "attempts": 0, "last_error": None, "next_attempt_at": None,
                                 "created_at": db.stamp(), "sent_at": None})
    return send_id


def send_request(db: Database, session_id: str, *, kind: str) -> str:
    """Ask a remote doctor (`kind`: teleconsultation or teleexpertise, sync.fhir.exchange.REQUEST_KINDS): the
    session so far with its request is queued for the server. A second call for the same session creates no second
    request (the Task is the session's one): it queues the session so far again. Refused for a closed or abandoned
    session, or one without a staff member (SessionStateError). Returns the live send's id."""
    with db.transaction():
        mark_requested(db, session_id, kind)
        return queue(db, session_id)


def queue_live_update(db: Database, session_id: str) -> str | None:
    """The session so far queued again (a measurement was accepted), superseding the send still waiting. None when
    no request was sent for the session or it is no longer open: nothing to tell the doctor live."""
    with db.transaction():
        session = db.row("sessions", session_id)
        if session["state"] != "open" or not session.get("request_kind") or not session.get("staff_id"):
            return None
        return queue(db, session_id)


def abandon_session(db: Database, session_id: str) -> None:
    """Abandon an open session (sync.store.sessions.mark_abandoned). Nothing more of it goes to the remote doctor,
    but a request that may have reached the server (a send sent or in flight) is withdrawn: one last send, built
    from the abandoned session (sync.live), cancels the Encounter and the Task, so the doctor's worklist stops
    showing a patient who is no longer waiting."""
    with db.transaction():
        session = mark_abandoned(db, session_id)
        supersede_pending(db, session_id)
        seen = db.query("SELECT 1 FROM live_outbox WHERE session_id = ? AND state IN ('sent', 'in_flight') LIMIT 1",
                        [session_id])
        if session.get("request_kind") and seen:
            queue(db, session_id)


def freeze_payload(db: Database, send_id: str, payload: str) -> LiveSend:
    """Inside the caller's transaction (the one that built it, sync.live): the send's bundle, kept unless one was
    frozen first (by another process); from then on every retry sends these bytes. Returns the send as stored."""
    db.require_transaction()
    db.conn.execute("UPDATE live_outbox SET payload = ? WHERE id = ? AND payload IS NULL", [payload, send_id])
    return get_send(db, send_id)


def supersede_pending(db: Database, session_id: str) -> int:
    """Inside the caller's transaction (a newer send, or the close): the session's waiting send is useless now."""
    db.require_transaction()
    cursor = db.conn.execute("UPDATE live_outbox SET state = 'superseded', next_attempt_at = NULL "
                             "WHERE session_id = ? AND state = 'pending'", [session_id])
    return cursor.rowcount


def claim_next(db: Database, *, now: dt.datetime | None = None, ignore_backoff: bool = False) -> LiveSend | None:
    """The oldest due pending send, marked in flight with its attempt counted; None when nothing is due."""
    with db.transaction():
        due = "" if ignore_backoff else " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        params = [] if ignore_backoff else [db.stamp(now)]
        rows = db.query(f"SELECT id FROM live_outbox WHERE state = 'pending'{due} ORDER BY rowid LIMIT 1", params)
        if not rows:
            return None
        db.conn.execute("UPDATE live_outbox SET state = 'in_flight', attempts = attempts + 1 WHERE id = ?",
                        [rows[0]["id"]])
        return get_send(db, rows[0]["id"])


def _settle(db: Database, send_id: str, sets: dict[str, Any]) -> bool:
    """An in-flight send settled; False when it was not in flight any more (recovered by another process)."""
    with db.transaction():
        assignments = ", ".join(f"{column} = ?" for column in sets)
        cursor = db.conn.execute(f"UPDATE live_outbox SET {assignments} WHERE id = ? AND state = 'in_flight'",
                                 [*sets.values(), send_id])
        return cursor.rowcount == 1


def mark_sent(db: Database, send_id: str, *, now: dt.datetime | None = None) -> bool:
    return _settle(db, send_id, {"state": "sent", "sent_at": db.stamp(now), "last_error": None,
                                 "next_attempt_at": None})


def mark_rejected(db: Database, send_id: str, error: str) -> bool:
    """The server refused this send for good (its code in `error`, an error record); the next send still goes."""
    return _settle(db, send_id, {"state": "rejected", "last_error": error, "next_attempt_at": None})


def release(db: Database, send_id: str, error: str, *, delay: float | None = None, now: dt.datetime | None = None,
            rng: random.Random | None = None) -> float:
    """Transient failure: pending again after a backoff, or superseded when a newer send already waits (or the
    session was closed meanwhile). Returns the delay used."""
    if delay is None:
        delay = outbox.backoff_delay(get_send(db, send_id).attempts, rng=rng)
    due = (now or db.now()) + dt.timedelta(seconds=max(0.0, delay))
    with db.transaction():
        send = get_send(db, send_id)
        if send.state != "in_flight":
            return delay
        newer = db.query("SELECT 1 FROM live_outbox WHERE session_id = ? AND state = 'pending'", [send.session_id])
        closed = db.row("sessions", send.session_id)["state"] == "closed"
        state = "superseded" if newer or closed else "pending"
        db.conn.execute("UPDATE live_outbox SET state = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
                        [state, error, db.stamp(due) if state == "pending" else None, send_id])
    return delay


def recover_in_flight(db: Database) -> int:
    """Sends left in flight by a killed process: pending again, due now, unless a newer send waits or the session
    was closed (then superseded). Only while holding the store's upload lock (sync.upload_lock). Returns how many."""
    with db.transaction():
        db.conn.execute(
            "UPDATE live_outbox SET state = 'superseded', next_attempt_at = NULL WHERE state = 'in_flight' AND ("
            "EXISTS (SELECT 1 FROM live_outbox AS newer WHERE newer.session_id = live_outbox.session_id "
            "AND newer.state = 'pending') OR "
            "(SELECT state FROM sessions WHERE id = live_outbox.session_id) = 'closed')")
        cursor = db.conn.execute(
            "UPDATE live_outbox SET state = 'pending', next_attempt_at = NULL WHERE state = 'in_flight'")
        return cursor.rowcount


def counts(db: Database) -> dict[str, int]:
    """Number of live sends per state; every state always present."""
    by_state = dict.fromkeys(LIVE_STATES, 0)
    for row in db.query("SELECT state, count(*) AS n FROM live_outbox GROUP BY state"):
        by_state[row["state"]] = row["n"]
    return by_state


def live_state(db: Database, session_id: str) -> dict[str, Any]:
    """Where the session's request stands: its kind and time, how many sends wait, when one last reached the
    server."""
    with db.lock:
        session = db.row("sessions", session_id)
        rows = db.query("SELECT sum(state IN ('pending', 'in_flight')) AS waiting, max(sent_at) AS last_sent "
                        "FROM live_outbox WHERE session_id = ?", [session_id])
    return {"request_kind": session.get("request_kind"), "requested_at": session.get("requested_at"),
            "pending": int(rows[0]["waiting"] or 0), "last_sent_at": rows[0]["last_sent"]}
