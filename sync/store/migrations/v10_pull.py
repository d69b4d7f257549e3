"""Schema v10: what comes down from the server, so several tablets of one site share their residents and history.

- `pull_cursors`: per server and scope (a resource type at a site), how far the last pull got: the `meta.lastUpdated`
  watermark, the ids already seen at that very instant (a `ge` search returns them again: two resources may share a
  millisecond), and the `next` link of an interrupted paged search, so a pull resumes where it stopped.
- `history_sessions` and `history_observations`: a read-only copy of the recent sessions and vital signs of the
  site's residents taken on other tablets (the last 90 days), for the trend charts and the resident's usual values.
  Sessions of this tablet are never copied back: they are in `sessions` and `measurements` already.
- `patients.origin` and `staff.origin`: whether a row was typed here, came down from the server, or was imported
  from the facility's care software.
"""
from __future__ import annotations

from sync.store.sql import Rows


_SCHEMA_V10 = """
    CREATE TABLE pull_cursors (
        server TEXT NOT NULL CHECK (server <> ''),
        scope TEXT NOT NULL CHECK (scope <> ''),
        watermark TEXT,
        seen TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(seen) AND json_type(seen) = 'array'),
        next_url TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (server, scope)
    );

    CREATE TABLE history_sessions (
        id TEXT PRIMARY KEY CHECK (id <> ''),
        patient_id TEXT NOT NULL REFERENCES patients(id),
        site_id TEXT,
        started_at TEXT NOT NULL,
        reason TEXT,
        summary TEXT,
        news2_score INTEGER CHECK (news2_score IS NULL OR news2_score BETWEEN 0 AND 20),
        news2_band TEXT CHECK (news2_band IS NULL OR news2_band IN ('low', 'low_medium', 'medium', 'high', 'incomplete')),
        news2_complete INTEGER CHECK (news2_complete IS NULL OR news2_complete IN (0, 1)),
        server_version TEXT,
        pulled_at TEXT NOT NULL
    );
    CREATE INDEX history_sessions_patient ON history_sessions(patient_id, started_at);

    CREATE TABLE history_observations (
        id TEXT PRIMARY KEY CHECK (id <> ''),
        patient_id TEXT NOT NULL REFERENCES patients(id),
        session_id TEXT,
        code TEXT NOT NULL CHECK (code <> ''),
        value TEXT NOT NULL,
        unit TEXT NOT NULL,
        interpretation TEXT CHECK (interpretation IS NULL OR interpretation IN ('LL', 'L', 'H', 'HH')),
        source TEXT CHECK (source IS NULL OR source IN ('bluetooth', 'manual')),
        effective_at TEXT NOT NULL,
        server_version TEXT,
        pulled_at TEXT NOT NULL
    );
    CREATE INDEX history_observations_patient ON history_observations(patient_id, code, effective_at);

    ALTER TABLE patients ADD COLUMN origin TEXT NOT NULL DEFAULT 'local'
        CHECK (origin IN ('local', 'pulled', 'imported'));
    ALTER TABLE staff ADD COLUMN origin TEXT NOT NULL DEFAULT 'local' CHECK (origin IN ('local', 'pulled'));
"""


def migration_10(db: Rows) -> None:
    """Schema v10: see the module's docstring."""
    db.executescript(_SCHEMA_V10)
