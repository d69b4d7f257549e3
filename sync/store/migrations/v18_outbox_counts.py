"""Schema v18: the number of outbox entries in each state, kept by triggers, so counting them costs the same at
100,000 sessions as at ten.

`outbox_state_counts` holds one row per state (the four states `outbox.state` may take, its CHECK constraint);
the triggers keep it for every insert, change of state and delete, whatever writes the row (the uploader, the
retention purge, raw SQL). It is filled here from the rows already queued. A later migration that rebuilds
`outbox` must create these triggers again (dropping a table drops its triggers).
"""
from __future__ import annotations

from sync.store.sql import Rows

_SCHEMA_V18 = """
CREATE TABLE outbox_state_counts (
    state TEXT PRIMARY KEY CHECK (state IN ('pending', 'in_flight', 'sent', 'rejected')),
    n INTEGER NOT NULL CHECK (n >= 0)
);
INSERT INTO outbox_state_counts (state, n)
    SELECT s.state, (SELECT count(*) FROM outbox o WHERE o.state = s.state)
    FROM (SELECT 'pending' AS state UNION ALL SELECT 'in_flight' UNION ALL SELECT 'sent'
          UNION ALL SELECT 'rejected') AS s;
CREATE TRIGGER outbox_counted_insert AFTER INSERT ON outbox BEGIN
    UPDATE outbox_state_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER outbox_counted_delete AFTER DELETE ON outbox BEGIN
    UPDATE outbox_state_counts SET n = n - 1 WHERE state = OLD.state;
END;
CREATE TRIGGER outbox_counted_update AFTER UPDATE OF state ON outbox WHEN NEW.state IS NOT OLD.state BEGIN
    UPDATE outbox_state_counts SET n = n - 1 WHERE state = OLD.state;
    UPDATE outbox_state_counts SET n = n + 1 WHERE state = NEW.state;
END;
"""


def migration_18(db: Rows) -> None:
    """Schema v18: see the module's docstring."""
    db.executescript(_SCHEMA_V18)
