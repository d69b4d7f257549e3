"""Schema v12: this tablet's own sessions stay in the resident's history after they leave the tablet.

A session leaves the tablet days after the server confirmed it (sync.retention), but the resident's trend charts
and usual values cover 90 days. Before a confirmed session is purged, its values and NEWS2 are copied into the
read-only history tables, like another tablet's; `origin` tells the two apart, so the charts still show them as
taken here. The copy keeps what the charts need (values, units, flags, times, the summary), none of the session's
identity or consent data, and is purged after the same 90 days.
"""
from __future__ import annotations

from sync.store.sql import Rows


_SCHEMA_V12 = """
    ALTER TABLE history_sessions ADD COLUMN origin TEXT NOT NULL DEFAULT 'pulled'
        CHECK (origin IN ('pulled', 'this_tablet'));
    ALTER TABLE history_observations ADD COLUMN origin TEXT NOT NULL DEFAULT 'pulled'
        CHECK (origin IN ('pulled', 'this_tablet'));
"""


def migration_12(db: Rows) -> None:
    """Schema v12: see the module's docstring."""
    db.executescript(_SCHEMA_V12)
