"""A confirmed session's values kept in the resident's history when the session itself leaves the tablet.

Retention (sync.retention) removes a session days after the server confirmed it, but the trend charts and the usual
values the alert rules compare with cover HISTORY_DAYS (90) days. So, in the purge's own transaction, the session's
readings, its summary and its NEWS2 are copied into `history_sessions` / `history_observations` with
`origin = 'this_tablet'` (schema v12): the same read-only shape as a session pulled from another tablet, without
the consent, notes, report or outbox rows. A session older than the history window is not copied.
"""
from __future__ import annotations

import datetime as dt

from sync.clinical.stored import news2_of_readings
from sync.store.database import Database
from sync.store.history import HISTORY_DAYS


def keep_as_history(db: Database, session_id: str, now: dt.datetime) -> int:
    """Copy the session's readings into the history (inside the caller's transaction); how many were copied."""
    session = db.conn.execute("SELECT idempotency_key, patient_id, site_id, coalesce(started_at, opened_at), reason "
                              "FROM sessions WHERE id = ? AND state = 'closed'", [session_id]).fetchone()
    if session is None:
        return 0
    key, patient_id, site_id, started_at, reason = session
    if dt.datetime.fromisoformat(started_at) < now - dt.timedelta(days=HISTORY_DAYS):
        return 0
    rows = [dict(zip(("id", "code", "value", "unit", "interpretation", "source", "at"), row)) for row in
            db.conn.execute("SELECT id, code, value, unit, interpretation, source, coalesce(measured_at, received_at) "
                            "FROM measurements WHERE session_id = ? ORDER BY rowid", [session_id])]
    summary = db.conn.execute("SELECT text FROM summaries WHERE session_id = ?", [session_id]).fetchone()
    score = news2_of_readings(rows)
    stamp = db.stamp(now)
    db.conn.execute(
        "INSERT OR IGNORE INTO history_sessions (id, patient_id, site_id, started_at, reason, summary, news2_score, "
        "news2_band, news2_complete, pulled_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'this_tablet')",
        [key, patient_id, site_id, started_at, reason, summary[0] if summary else None,
         score.score if score else None, score.risk if score else None,
         int(score.complete) if score else None, stamp])
    db.conn.executemany(
        "INSERT OR IGNORE INTO history_observations (id, patient_id, session_id, code, value, unit, interpretation, "
        "source, effective_at, pulled_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'this_tablet')",
        [[f"{key}/m/{r['id']}", patient_id, key, r["code"], r["value"], r["unit"], r["interpretation"], r["source"],
          r["at"], stamp] for r in rows])
    return len(rows)
