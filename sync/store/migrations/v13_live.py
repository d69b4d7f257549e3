"""Schema v13: the tablet sends the session while it is still open, to the remote doctor (a request, then the
measurements as they come), through a live outbox of its own.

- `sessions.request_kind` / `sessions.requested_at`: what staff asked a remote doctor for (teleconsultation or
  téléexpertise, sync.fhir.exchange.REQUEST_KINDS) and when; set once, for an open session.
- `live_outbox`: the "session so far" sends. Separate from `outbox`, whose invariant (a row exists iff the session
  is closed) stays as it is. At most one pending live send per session (a unique partial index): a newer one
  supersedes the pending one. States: pending, in_flight, sent, superseded (a newer send or the close made it
  useless), rejected (the server refused it, `last_error` an error record like the outbox's). `payload`: the bundle's
  bytes, frozen when the send is first claimed (the store builds no FHIR: sync.live does, above it) and never
  changed after that, so every retry sends the same bytes.
"""
from __future__ import annotations

from sync.store.sql import Rows


_SCHEMA_V13 = """
    ALTER TABLE sessions ADD COLUMN request_kind TEXT
        CHECK (request_kind IS NULL OR request_kind IN ('teleconsultation', 'teleexpertise'));
    ALTER TABLE sessions ADD COLUMN requested_at TEXT;

    CREATE TABLE live_outbox (
        id TEXT PRIMARY KEY CHECK (id <> ''),
        session_id TEXT NOT NULL REFERENCES sessions(id),
        payload TEXT CHECK (payload IS NULL OR payload <> ''),
        state TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'sent', 'superseded', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_error TEXT,
        next_attempt_at TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE UNIQUE INDEX live_outbox_one_pending ON live_outbox(session_id) WHERE state = 'pending';
    CREATE INDEX live_outbox_state ON live_outbox(state, next_attempt_at);

    CREATE TRIGGER live_outbox_payload_frozen BEFORE UPDATE OF payload ON live_outbox
    WHEN OLD.payload IS NOT NULL
    BEGIN
        SELECT RAISE(ABORT, 'a live send''s payload is frozen');
    END;
"""


def migration_13(db: Rows) -> None:
    """Schema v13: see the module's docstring."""
    db.executescript(_SCHEMA_V13)
