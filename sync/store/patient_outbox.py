"""The residents waiting to go up (table `patient_outbox`, schema v11): which are due, and what the server said.

One row per resident: the whole current record is sent (a conditional update), so a later edit raises the row's
generation instead of adding a row. A send confirms the generation it carried: an edit made meanwhile keeps the row
pending, so no edit is ever lost. Transient failures wait with the session outbox's back-off (sync.outbox); a
refusal by the server (a 4xx with an OperationOutcome, such as a change of a qualified identity) is kept with its
reason and retried only after the next edit of that resident.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sync import outbox
from sync.store.database import Database


@dataclass(frozen=True)
class QueuedResident:
    patient_id: str
    generation: int
    attempts: int


# a session bundle of this resident queued at close, not refused (it carries the resident's Patient); from the
# resident's sessions to their bundles' states, by index only (CROSS JOIN keeps that order: SQLite documentation,
# "The SQLite Query Optimizer Overview", manual control of join order)
_CARRIED_BY = ("EXISTS (SELECT 1 FROM sessions s CROSS JOIN outbox o INDEXED BY outbox_bundle_state "
               "ON o.session_id = s.id WHERE s.patient_id = patient_outbox.patient_id AND o.addendum_id IS NULL "
               "AND o.state IN ({states}))")


def settle_carried(db: Database) -> int:
    """Residents never edited since their creation (generation 1) whose Patient a session bundle the server
    confirmed carried up already (a conditional create of the same record): sent, without a request of their own.
    Returns how many."""
    with db.transaction():
        return db.conn.execute(
            "UPDATE patient_outbox SET state = 'sent', sent_generation = generation, sent_at = ?, next_attempt_at = "
            f"NULL WHERE state = 'pending' AND generation = 1 AND {_CARRIED_BY.format(states=repr('sent'))}",
            [db.stamp()]).rowcount


def due(db: Database, *, limit: int, now: dt.datetime | None = None,
        ignore_backoff: bool = False) -> list[QueuedResident]:
    """Pending residents whose back-off has passed, oldest queued first; a resident never edited since creation
    waits while a session bundle that will carry it is still queued (see settle_carried)."""
    waiting = _CARRIED_BY.format(states="'pending', 'in_flight'")
    sql = ("SELECT patient_id, generation, attempts FROM patient_outbox WHERE state = 'pending' "
           f"AND NOT (generation = 1 AND {waiting})")
    params: list[object] = []
    if not ignore_backoff:
        sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        params.append(db.stamp(now))
    rows = db.query(sql + " ORDER BY queued_at, patient_id LIMIT ?", [*params, limit])
    return [QueuedResident(r["patient_id"], r["generation"], r["attempts"]) for r in rows]


def mark_sent(db: Database, queued: QueuedResident, server_version: str | None) -> None:
    """The server holds this generation: sent, unless an edit came meanwhile (then it stays pending, due now)."""
    with db.transaction():
        db.conn.execute("UPDATE patient_outbox SET sent_generation = ?, sent_at = ?, attempts = 0, last_error = NULL,"
                        " state = CASE WHEN generation = ? THEN 'sent' ELSE 'pending' END, next_attempt_at = NULL "
                        "WHERE patient_id = ?", [queued.generation, db.stamp(), queued.generation, queued.patient_id])
        if server_version is not None:
            db.conn.execute("UPDATE patients SET server_version = ? WHERE id = ?", [server_version, queued.patient_id])


def release(db: Database, queued: list[QueuedResident], error: str, *, delay: float) -> None:
    """Not sent (network, server busy): pending again after `delay` seconds, the attempt counted."""
    when = db.stamp(db.now() + dt.timedelta(seconds=delay))
    with db.transaction():
        for item in queued:
            db.conn.execute("UPDATE patient_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                            "WHERE patient_id = ? AND state = 'pending'", [error, when, item.patient_id])


def mark_rejected(db: Database, queued: QueuedResident, error: str) -> None:
    """Refused by the server: kept with its reason, unless an edit came meanwhile (that one is tried)."""
    with db.transaction():
        db.conn.execute("UPDATE patient_outbox SET last_error = ?, attempts = attempts + 1, "
                        "state = CASE WHEN generation = ? THEN 'rejected' ELSE 'pending' END WHERE patient_id = ?",
                        [error, queued.generation, queued.patient_id])


def backoff(attempts: int) -> float:
    return outbox.backoff_delay(attempts + 1)


def counts(db: Database) -> dict[str, int]:
    by_state = {"pending": 0, "sent": 0, "rejected": 0}
    for row in db.query("SELECT state, count(*) AS n FROM patient_outbox GROUP BY state"):
        by_state[row["state"]] = row["n"]
    return by_state
