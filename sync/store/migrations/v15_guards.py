"""Schema v15: the audit anchor moves only past old rows, and a PIN lock-out is timed on the boot clock.

- `audit_anchor_past_old_rows_only`: the anchor (sync.audit) may move forward only onto an existing row with the
  same hash, and only past rows older than six rolling months. "Six months ago" is `audit_cutoff()`, a function
  the app registers on every connection it opens (sync.store.database) from sync.months and the store's
  clock; a connection without it (a SQLite shell) cannot move the anchor at all. Someone who drops the trigger
  is caught by the comparison with the server's copy (sync.audit.compare).
- `staff.pin_lock_boot` / `pin_lock_uptime`: the boot the lock-out started in and the seconds since boot then
  (sync.store.uptime), so the lock-out is measured as elapsed time and moving the wall clock cannot end it.
- `staff.pin_admin_ready`: the member's PIN is known to have the digits an administrator's needs (sync.store.pins;
  learnt when it is set or typed, never stored itself). 0 for every account at upgrade: an administrator signs
  in as before and chooses a longer PIN before administering, if theirs is short.
"""
from __future__ import annotations

from sync.store.sql import Rows


_SCHEMA_V15 = """
    CREATE TRIGGER audit_anchor_past_old_rows_only BEFORE UPDATE ON audit_anchor
    WHEN NEW.seq > OLD.seq OR (NEW.seq = OLD.seq AND NEW.hash IS NOT OLD.hash)
    BEGIN
        SELECT RAISE(ABORT, 'the audit anchor moves only past rows older than six months')
        WHERE NOT EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq AND hash = NEW.hash)
           OR EXISTS (SELECT 1 FROM audit_log WHERE seq > OLD.seq AND seq <= NEW.seq
                      AND julianday(at) >= julianday(audit_cutoff()));
    END;
    ALTER TABLE staff ADD COLUMN pin_lock_boot TEXT;
    ALTER TABLE staff ADD COLUMN pin_lock_uptime REAL;
    ALTER TABLE staff ADD COLUMN pin_admin_ready INTEGER NOT NULL DEFAULT 0 CHECK (pin_admin_ready IN (0, 1));
"""


def migration_15(db: Rows) -> None:
    """Schema v15: see the module's docstring."""
    db.executescript(_SCHEMA_V15)
