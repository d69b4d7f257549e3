"""Minimal retention on the tablet: what the server confirmed does not stay here.

A session leaves the tablet `retention_days` (setting, default 7) after the server confirmed it: its measurements,
consent, notes, summary, addenda, outbox entry and the session itself; the audit rows naming it stay (ids only),
and its values, summary and NEWS2 stay in the resident's 90-day history (sync.store.history_copy), as the site's
other tablets' sessions do.
A session the server has not confirmed (pending, in flight, or refused and waiting for someone) is never purged,
whatever its age: the schema's `purge_queue` trigger refuses it, so no code path can. An abandoned session is
never uploaded and has nothing to wait for: it leaves after the same delay from its abandonment.

A patient's identity is kept while they have a session here or were seen in the last `identity_retention_days`
(setting, default 90: the resident list of an EHPAD, whose residents come back), then removed too. The copy of the
site's history pulled from the server (sync.pull) keeps its last HISTORY_DAYS (90) days; a resident with history
still in that window stays.

The audit log keeps six rolling months (sync.audit.prune), run from here as well. Deleted pages are overwritten
(`PRAGMA secure_delete`), inside a database that is itself encrypted.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sync import audit
from sync.store.database import Database, iso
from sync.store.history_copy import keep_as_history
from sync.store.migrations.v16_search import LAST_SEEN
from sync.store.patient_outbox import settle_carried
from sync.store.settings import get_setting

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 7
DEFAULT_IDENTITY_RETENTION_DAYS = 90
# children before parents: the report outbox before its documents, the outbox and the documents before the addenda
SESSION_TABLES = ("report_outbox", "report_documents", "report_recipients", "outbox", "live_outbox", "measurements",
                  "consents", "notes", "summaries", "addenda", "session_resume", "received_conclusions")


@dataclass(frozen=True)
class PurgeReport:
    sessions: int
    patients: int
    audit_rows: int


def _days_setting(db: Database, key: str, default: int) -> int:
    value = get_setting(db, key)
    try:
        days = int(value) if value is not None else default
    except ValueError:
        log.warning("retention: setting %s is not a number of days; using %d", key, default)
        return default
    return max(days, 0)


def retention_days(db: Database) -> int:
    return _days_setting(db, "retention_days", DEFAULT_RETENTION_DAYS)


def purge(db: Database, now: dt.datetime | None = None) -> PurgeReport:
    """Purge what is due at `now` (default: the store's clock). One transaction per session, so an interruption
    leaves every session either whole or gone."""
    now = now or db.now()
    days = retention_days(db)
    cutoff = (now - dt.timedelta(days=days)).astimezone(dt.timezone.utc)
    settle_carried(db)  # a resident whose confirmed session carried it up needs nothing more, before that goes
    due = _sessions_due(db, cutoff)
    for session_id, state in due:
        with db.transaction():
            if state != "abandoned":  # its values stay in the resident's 90-day history (sync.store.history_copy)
                keep_as_history(db, session_id, now)
            db.conn.execute("INSERT INTO purge_queue (session_id) VALUES (?)", [session_id])
            for table in SESSION_TABLES:
                db.conn.execute(f"DELETE FROM {table} WHERE session_id = ?", [session_id])
            db.conn.execute("DELETE FROM sessions WHERE id = ?", [session_id])
            db.conn.execute("DELETE FROM purge_queue WHERE session_id = ?", [session_id])
            reason = "abandoned" if state == "abandoned" else "confirmed"
            audit.append(db, "purge", "session", session_id, detail=f"{reason}, after {days} days")
    with db.transaction():
        _purge_history(db, now)
    patients = _purge_identities(db, now)
    with db.transaction():
        # extracts of the audit trail the server holds: gone after the same delay, but the newest stays (it
        # carries the count the next extract continues from)
        db.conn.execute("DELETE FROM audit_outbox WHERE state = 'sent' AND sent_at <= ? AND extract_no < "
                        "(SELECT max(extract_no) FROM audit_outbox)", [cutoff.isoformat()])
    pruned = audit.prune(db, now)
    if due or patients or pruned:
        log.info("retention: %d sessions, %d identities and %d audit rows purged", len(due), patients, pruned)
    return PurgeReport(len(due), patients, pruned)


HISTORY_DAYS = 90


def _text_bound(cutoff: dt.datetime) -> str:
    """A text upper bound for an indexed range on ISO time stamps written with any offset: two days late (a
    local date is at most one day from the UTC one); the exact cut is made on the parsed times."""
    return (cutoff.astimezone(dt.timezone.utc) + dt.timedelta(days=2)).date().isoformat()


def _sessions_due(db: Database, cutoff: dt.datetime) -> list[tuple[str, str]]:
    """(id, state) of the sessions to purge, by session id: confirmed (every outbox entry of the session, its
    bundle and its addenda, sent) since `cutoff` or earlier, or abandoned since then and never queued (or
    queued and all sent). Read from the indexes only (schema v16): the candidates are the sessions with an
    entry sent by the cutoff (`sent_at` is an internal time stamp, sync.store.database.iso: its text order is
    its time order), and the abandoned ones; the rest of the queue is not read."""
    with db.lock:
        rows = db.db.query(
            "SELECT s.id, s.state, CASE WHEN s.state = 'abandoned' THEN s.closed_at ELSE max(o.sent_at) END "
            "AS since FROM sessions s LEFT JOIN outbox o ON o.session_id = s.id WHERE s.state <> 'open' AND s.id IN "
            "(SELECT session_id FROM outbox WHERE state = 'sent' AND sent_at <= ? UNION "
            "SELECT id FROM sessions WHERE state = 'abandoned') GROUP BY s.id "
            "HAVING (s.state = 'abandoned' AND count(o.session_id) = 0) OR (count(o.session_id) > 0 AND "
            "count(o.session_id) = sum(o.state = 'sent' AND o.sent_at IS NOT NULL)) ORDER BY s.id",
            [iso(cutoff)])
        return [(row["id"], row["state"]) for row in rows if dt.datetime.fromisoformat(row["since"]) <= cutoff]


def _purge_history(db: Database, now: dt.datetime) -> None:
    """The pulled history older than HISTORY_DAYS, inside the caller's transaction (times compared as instants:
    they keep the offset they were measured with)."""
    cutoff = now - dt.timedelta(days=HISTORY_DAYS)
    for table, column in (("history_observations", "effective_at"), ("history_sessions", "started_at")):
        old = [[row["id"]] for row in db.db.query(f"SELECT id, {column} AS at FROM {table} WHERE {column} < ?",
                                                  [_text_bound(cutoff)])
               if dt.datetime.fromisoformat(row["at"]) < cutoff]
        db.conn.executemany(f"DELETE FROM {table} WHERE id = ?", old)


def _purge_identities(db: Database, now: dt.datetime) -> int:
    days = _days_setting(db, "identity_retention_days", DEFAULT_IDENTITY_RETENTION_DAYS)
    cutoff = (now - dt.timedelta(days=days)).astimezone(dt.timezone.utc)
    with db.lock:
        idle = [row["id"] for row in db.db.query(
            f"SELECT p.id, {LAST_SEEN} AS seen FROM patients p WHERE {LAST_SEEN} < ? "
            "AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.patient_id = p.id) "
            "AND NOT EXISTS (SELECT 1 FROM history_sessions h WHERE h.patient_id = p.id) "
            "AND NOT EXISTS (SELECT 1 FROM history_observations h WHERE h.patient_id = p.id) "
            "AND NOT EXISTS (SELECT 1 FROM patient_outbox q WHERE q.patient_id = p.id AND q.state = 'pending')",
            [_text_bound(cutoff)])
            if dt.datetime.fromisoformat(row["seen"]) <= cutoff]
    for patient_id in idle:
        with db.transaction():
            if db.conn.execute("SELECT 1 FROM sessions WHERE patient_id = ?", [patient_id]).fetchone():
                continue  # a session was opened meanwhile
            db.conn.execute("DELETE FROM patients WHERE id = ?", [patient_id])
            audit.append(db, "purge", "patient", patient_id, detail=f"not seen for {days} days")
    return len(idle)
