"""The outbox: the queue of frozen session bundles waiting for the server, on the store's Database.

State machine: pending → in_flight (claimed for one request) → sent | rejected | pending again (transient failure,
with a backoff). An entry left in_flight by a killed app is put back to pending when the store is opened or a pass
starts, only by whoever holds the store's upload lock (sync.upload_lock), so a living uploader's batch is never
taken from it: resending a dead one's is safe because every bundle entry is a conditional create.

Every transition is one short transaction (BEGIN IMMEDIATE), so two uploaders (the app and `python -m sync push`)
can never claim the same entry at once; the upload lock keeps them from running at all at the same time.

Why an entry is pending again or rejected (`last_error`) is stored as a code with its parameters, worded only when
shown (mobile.messages): the JSON text `{"code": "upload.http", "params": {"status": 503}}`, written by
:func:`error_record` and read back by :func:`read_error`. A server's own refusal text is kept as a parameter (it is
the server's words). Entries written by older versions hold a French sentence instead: `read_error` gives None for
them, and they are shown as they are.
"""
from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sync.errors import RelaisError
from sync.frozen_payloads import pack, unpack

if TYPE_CHECKING:
    from sync.store.database import Database

OUTBOX_STATES = ("pending", "in_flight", "sent", "rejected")
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 300.0  # the app retries at least every 5 minutes once the network is back (CHT practice)


def error_record(code: str, **params: Any) -> str:
    """The text stored in `last_error` for a diagnostic `code` with its parameters (JSON, keys sorted)."""
    return json.dumps({"code": code, "params": params}, ensure_ascii=False, sort_keys=True)


def read_error(text: str | None) -> tuple[str, dict[str, Any]] | None:
    """(code, parameters) of a stored `last_error`; None when empty or not a record (an older version's sentence)."""
    if not text or not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("code"), str):
        return None
    params = record.get("params")
    return record["code"], params if isinstance(params, dict) else {}


class OutboxError(RelaisError):
    """Base class for outbox errors."""


class OutboxStateError(OutboxError):
    """The entry is not in a state that allows this transition (e.g. marking sent an entry already rejected):
    code `outbox.state`, with the entry's `state`."""


class EntryNotFoundError(OutboxError, LookupError):
    """No outbox entry with that id: code `outbox.entry.not_found`."""


@dataclass(frozen=True)
class OutboxEntry:
    id: str
    session_id: str
    idempotency_key: str
    payload: str
    state: str
    attempts: int
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    sent_at: str | None
    addendum_id: str | None = None  # set for a remark written after close, uploaded after the session's bundle

    @property
    def payload_bytes(self) -> bytes:
        """Exactly the bytes frozen at session close."""
        return self.payload.encode("utf-8")


def _entry(row: dict[str, Any]) -> OutboxEntry:
    fields = {k: row[k] for k in OutboxEntry.__dataclass_fields__ if k in row}
    fields["payload"] = unpack(fields["payload"])  # stored compressed (sync.frozen_payloads)
    return OutboxEntry(**fields)


# an addendum goes only once its session's own bundle is on the server (its Encounter is referenced there)
# (its state read from an index: `state` is stored after the payload; the planner would otherwise take the unique
# index on addendum_id for "IS NULL", which holds every bundle)
_READY = ("(addendum_id IS NULL OR EXISTS (SELECT 1 FROM outbox AS bundle INDEXED BY outbox_bundle_state WHERE "
          "bundle.session_id = outbox.session_id AND bundle.addendum_id IS NULL AND bundle.state = 'sent'))")


def get_entry(db: "Database", entry_id: str) -> OutboxEntry:
    rows = db.query("SELECT * FROM outbox WHERE id = ?", [entry_id])
    if not rows:
        raise EntryNotFoundError("outbox.entry.not_found", entry_id=entry_id)
    return _entry(rows[0])


def entries(db: "Database", state: str | None = None) -> list[OutboxEntry]:
    """Entries oldest first, optionally only one state."""
    sql, params = "SELECT * FROM outbox", []
    if state is not None:
        sql, params = sql + " WHERE state = ?", [state]
    with db.lock:
        return [_entry(r) for r in db.db.query(sql + " ORDER BY rowid", params)]


def enqueue(db: "Database", *, entry_id: str, session_id: str, idempotency_key: str, payload: str,
            created_at: str, addendum_id: str | None = None) -> str:
    """Queue a frozen payload, pending, inside the caller's transaction (the one that froze it). Returns its id. The
    payload is stored compressed, with its size (sync.frozen_payloads)."""
    db.require_transaction()
    stored, size = pack(payload)
    db.db["outbox"].insert({
        "id": entry_id, "session_id": session_id, "addendum_id": addendum_id, "idempotency_key": idempotency_key,
        "payload": stored, "payload_size": size, "state": "pending", "attempts": 0, "last_error": None,
        "next_attempt_at": None,
        "created_at": created_at, "sent_at": None,
    })
    return entry_id


def counts(db: "Database", states: tuple[str, ...] = OUTBOX_STATES) -> dict[str, int]:
    """Number of entries in each of `states` (all four by default), every one present: read from the counts the
    store's triggers keep (schema v18), in constant time whatever the outbox holds."""
    with db.lock:
        kept = dict(db.conn.execute("SELECT state, n FROM outbox_state_counts").fetchall())
    return {state: kept.get(state, 0) for state in states}


def bundle_state(db: "Database", session_id: str) -> str | None:
    """The state of the session's own bundle (its first entry, queued at close; addenda come later); None when
    the session has no entry."""
    rows = db.query("SELECT state FROM outbox WHERE session_id = ? ORDER BY rowid LIMIT 1", [session_id])
    return rows[0]["state"] if rows else None


def backoff_delay(attempts: int, *, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS,
                  rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(attempts-1))]. Jitter spreads the
    retries of many tablets coming back online at once; the cap bounds how long staff wait after the network returns."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(0, ceiling)


def claim_next(db: "Database", *, now: dt.datetime | None = None, ignore_backoff: bool = False) -> OutboxEntry | None:
    """Take the oldest pending entry that is due: mark it in_flight and count the attempt. None when nothing is due.
    `ignore_backoff` is for an explicit "send now" by staff."""
    now_text = db.stamp(now)
    with db.transaction() as sql:
        due = "" if ignore_backoff else " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        params = [] if ignore_backoff else [now_text]
        rows = list(sql.query(f"SELECT id FROM outbox WHERE state = 'pending'{due} AND {_READY} ORDER BY rowid LIMIT 1",
                              params))
        if not rows:
            return None
        db.conn.execute("UPDATE outbox SET state = 'in_flight', attempts = attempts + 1 WHERE id = ?",
                        [rows[0]["id"]])
        return _entry(next(sql.query("SELECT * FROM outbox WHERE id = ?", [rows[0]["id"]])))


def claim_batch(db: "Database", *, limit: int, max_bytes: int | None = None, now: dt.datetime | None = None,
                ignore_backoff: bool = False) -> list[OutboxEntry]:
    """Take up to `limit` of the oldest due pending entries at once (one transaction), oldest first, stopping before
    the total payload would exceed `max_bytes` (the first entry is always taken, whatever its size, so a large
    session can never block the queue). Each claimed entry counts one attempt. Batching is what keeps a backlog of
    days offline from costing one round trip per session."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    now_text = db.stamp(now)
    with db.transaction() as sql:
        due = "" if ignore_backoff else " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        params: list[Any] = [] if ignore_backoff else [now_text]
        size = "coalesce(payload_size, length(CAST(payload AS BLOB)))"  # a row stored as text has no size column
        rows = list(sql.query(f"SELECT id, {size} AS size FROM outbox WHERE state = 'pending'"
                              f"{due} AND {_READY} ORDER BY rowid LIMIT ?", [*params, limit]))
        chosen, total = [], 0
        for row in rows:
            if chosen and max_bytes is not None and total + row["size"] > max_bytes:
                break
            chosen.append(row["id"])
            total += row["size"]
        if not chosen:
            return []
        marks = ", ".join("?" for _ in chosen)
        db.conn.execute(f"UPDATE outbox SET state = 'in_flight', attempts = attempts + 1 WHERE id IN ({marks})",
                        chosen)
        return [_entry(r) for r in sql.query(f"SELECT * FROM outbox WHERE id IN ({marks}) ORDER BY rowid", chosen)]


def _transition_many(db: "Database", entry_ids: list[str], allowed: tuple[str, ...], sets: dict[str, Any]) -> int:
    """The same transition for several entries in one transaction. Entries no longer in an allowed state are left
    as they are (another process may have recovered or confirmed them meanwhile: `python -m sync push` opening the
    store puts in-flight entries back to pending). Returns how many changed."""
    if not entry_ids:
        return 0
    with db.transaction():
        marks = ", ".join("?" for _ in entry_ids)
        states = ", ".join("?" for _ in allowed)
        assignments = ", ".join(f"{column} = ?" for column in sets)
        cursor = db.conn.execute(f"UPDATE outbox SET {assignments} WHERE id IN ({marks}) AND state IN ({states})",
                                 [*sets.values(), *entry_ids, *allowed])
        return cursor.rowcount


def _transition(db: "Database", entry_id: str, allowed: tuple[str, ...], sets: dict[str, Any]) -> None:
    with db.transaction() as sql:
        rows = list(sql.query("SELECT state FROM outbox WHERE id = ?", [entry_id]))
        if not rows:
            raise EntryNotFoundError("outbox.entry.not_found", entry_id=entry_id)
        if rows[0]["state"] not in allowed:
            raise OutboxStateError("outbox.state", entry_id=entry_id, state=rows[0]["state"],
                                   expected=", ".join(allowed))
        assignments = ", ".join(f"{column} = ?" for column in sets)
        db.conn.execute(f"UPDATE outbox SET {assignments} WHERE id = ?", [*sets.values(), entry_id])


def mark_sent(db: "Database", entry_id: str, *, now: dt.datetime | None = None) -> None:
    """The server confirmed the whole transaction. Also accepted from pending: another process may have recovered
    the entry while this upload was in flight, and a confirmed upload is a fact."""
    _transition(db, entry_id, ("in_flight", "pending"),
                {"state": "sent", "sent_at": db.stamp(now), "last_error": None, "next_attempt_at": None})


def mark_sent_many(db: "Database", entry_ids: list[str], *, now: dt.datetime | None = None) -> int:
    """`mark_sent` for every session of a confirmed batch, in one transaction; returns how many changed."""
    return _transition_many(db, list(entry_ids), ("in_flight", "pending"),
                            {"state": "sent", "sent_at": db.stamp(now), "last_error": None,
                             "next_attempt_at": None})


def mark_rejected(db: "Database", entry_id: str, reason: str) -> None:
    """The server refused this payload for good (4xx): quarantine it with the server's reason, so the rest of the
    queue keeps flowing. The data stays in the store."""
    _transition(db, entry_id, ("in_flight", "pending"),
                {"state": "rejected", "last_error": reason, "next_attempt_at": None})


def release(db: "Database", entry_id: str, error: str, *, delay: float | None = None,
            now: dt.datetime | None = None, rng: random.Random | None = None) -> float:
    """Transient failure: back to pending, not before now + delay (default: backoff from the attempt count).
    Returns the delay used."""
    if delay is None:
        delay = backoff_delay(get_entry(db, entry_id).attempts, rng=rng)
    due = (now or db.now()) + dt.timedelta(seconds=delay)
    _transition(db, entry_id, ("in_flight",), {"state": "pending", "last_error": error,
                                                  "next_attempt_at": db.stamp(due)})
    return delay


def release_many(db: "Database", entry_ids: list[str], error: str, *, delay: float,
                 now: dt.datetime | None = None) -> int:
    """`release` for every in-flight session of a batch, with one shared delay: the batch failed as a whole, and
    keeping its sessions due together keeps them batched on the next try. Returns how many changed."""
    due = (now or db.now()) + dt.timedelta(seconds=max(0.0, delay))
    return _transition_many(db, list(entry_ids), ("in_flight",),
                            {"state": "pending", "last_error": error, "next_attempt_at": db.stamp(due)})


def unclaim(db: "Database", entry_ids: list[str]) -> None:
    """Give claimed entries back untouched (not sent, attempt not counted, backoff unchanged): used when a session
    cannot join this batch and must go in the next one."""
    if not entry_ids:
        return
    with db.transaction():
        marks = ", ".join("?" for _ in entry_ids)
        db.conn.execute(f"UPDATE outbox SET state = 'pending', attempts = max(0, attempts - 1) "
                        f"WHERE state = 'in_flight' AND id IN ({marks})", list(entry_ids))


def requeue(db: "Database", entry_id: str) -> None:
    """Put a rejected entry back in the queue (after the cause was fixed server-side), same frozen bytes."""
    _transition(db, entry_id, ("rejected",), {"state": "pending", "next_attempt_at": None})


def recover_in_flight(db: "Database") -> int:
    """Entries left in_flight by a killed process go back to pending, due now. Returns how many. Call it only while
    holding the store's upload lock (sync.upload_lock): then no living process has entries in flight."""
    with db.transaction():
        cursor = db.conn.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = NULL WHERE state = 'in_flight'")
        return cursor.rowcount


def remaining(db: "Database") -> int:
    """Entries not yet confirmed nor rejected."""
    by_state = counts(db)
    return by_state["pending"] + by_state["in_flight"]


def last_sent_at(db: "Database") -> dt.datetime | None:
    """When the server last confirmed a session (the "last successful sync" staff see)."""
    with db.lock:
        row = db.conn.execute("SELECT max(sent_at) FROM outbox WHERE state = 'sent'").fetchone()
    return dt.datetime.fromisoformat(row[0]) if row and row[0] else None


def rejected_sessions(db: "Database") -> list[dict[str, Any]]:
    """Sessions the server refused, for staff to act on (on the tablet's screen only, never in a log): who, when,
    and the server's reason."""
    with db.lock:
        rows = db.conn.execute(
            "SELECT o.session_id, o.last_error, s.opened_at, p.family_name, p.given_name, p.birth_date "
            "FROM outbox o JOIN sessions s ON s.id = o.session_id JOIN patients p ON p.id = s.patient_id "
            "WHERE o.state = 'rejected' ORDER BY s.opened_at").fetchall()
    keys = ("session_id", "reason", "opened_at", "family_name", "given_name", "birth_date")
    return [dict(zip(keys, row)) for row in rows]
