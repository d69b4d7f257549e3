"""Schema v17: the outbox's frozen payloads are stored compressed (sync.frozen_payloads), with their size.

- `outbox.payload` holds the bundle's UTF-8 bytes compressed with zlib against a preset dictionary, as a BLOB (a
  column of TEXT affinity keeps a BLOB as it is: SQLite documentation, "Datatypes In SQLite", section 3.1), about
  a sixteenth of the text it held; every existing row is converted here, and reads back as the very bytes frozen
  at close.
- `outbox.payload_size`: the payload's size once unpacked, the size a batch is limited by (sync.outbox.claim_batch).
- `outbox_payload_frozen` is dropped for the conversion (it refuses any change of a payload, rightly) and made again
  protecting the size too.
Rows are converted a few at a time, so a store of 100,000 sessions never holds all its payloads in memory.
"""
from __future__ import annotations

from sync.frozen_payloads import pack
from sync.store.sql import Rows

_CHUNK_ROWS = 500

_TRIGGER = """
    CREATE TRIGGER outbox_payload_frozen
    BEFORE UPDATE OF payload, payload_size, idempotency_key, session_id, addendum_id ON outbox
    WHEN NEW.payload IS NOT OLD.payload OR NEW.payload_size IS NOT OLD.payload_size
         OR NEW.idempotency_key IS NOT OLD.idempotency_key
         OR NEW.session_id IS NOT OLD.session_id OR NEW.addendum_id IS NOT OLD.addendum_id
    BEGIN SELECT RAISE(ABORT, 'outbox payload is frozen'); END;
"""


def migration_17(db: Rows) -> None:
    """Schema v17: see the module's docstring."""
    db.execute("DROP TRIGGER outbox_payload_frozen")
    db.execute("ALTER TABLE outbox ADD COLUMN payload_size INTEGER CHECK (payload_size IS NULL OR payload_size >= 0)")
    last = 0
    while True:
        rows = db.execute("SELECT rowid, payload FROM outbox WHERE rowid > ? AND typeof(payload) = 'text' "
                          "ORDER BY rowid LIMIT ?", [last, _CHUNK_ROWS]).fetchall()
        if not rows:
            break
        for rowid, payload in rows:
            stored, size = pack(payload)
            db.execute("UPDATE outbox SET payload = ?, payload_size = ? WHERE rowid = ?", [stored, size, rowid])
        last = rows[-1][0]
    db.execute(_TRIGGER)
