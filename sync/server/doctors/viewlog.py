"""Who looked at which patient's data, and when: one row per page showing a patient's data, kept six months.

Access to health data is traced so a patient's or an identity-vigilance question can be answered; the CNIL's 2021
recommendation on logging (« recommandation relative aux mesures de journalisation ») advises keeping such traces
six months to a year: six months here, so the log does not become a profile of every doctor's activity. Rows older
than that are deleted at each write. The log holds ids (doctor, RPPS, FHIR patient id) and the kind of page, never
a name or a value.
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from pathlib import Path
from typing import Callable

RETENTION = dt.timedelta(days=183)  # six months

_SCHEMA = """CREATE TABLE IF NOT EXISTS patient_views (
    viewed_at TEXT NOT NULL, doctor_id TEXT NOT NULL, rpps TEXT NOT NULL, patient_id TEXT NOT NULL,
    page TEXT NOT NULL, subject_id TEXT NOT NULL)"""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ViewLog:
    def __init__(self, path: str | os.PathLike[str], clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def record(self, *, doctor_id: str, rpps: str, patient_id: str, page: str, subject_id: str) -> None:
        """One view: `page` is the kind ("session", "trends"), `subject_id` what was shown (an Encounter id…)."""
        now = self._clock()
        with self._lock, self._connect() as conn:
            conn.execute("INSERT INTO patient_views VALUES (?, ?, ?, ?, ?, ?)",
                         (now.isoformat(), doctor_id, rpps, patient_id, page, subject_id))
            conn.execute("DELETE FROM patient_views WHERE viewed_at < ?", ((now - RETENTION).isoformat(),))

    def views(self, patient_id: str | None = None) -> list[dict[str, str]]:
        """The recorded views, oldest first (all, or one patient's)."""
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM patient_views WHERE ? IS NULL OR patient_id = ? ORDER BY rowid",
                                (patient_id, patient_id)).fetchall()
        return [dict(r) for r in rows]
