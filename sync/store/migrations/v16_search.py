"""Schema v16: every query the app repeats is answered by an index, whatever the number of sessions kept.

- `patient_name_tokens`: the folded names of each patient and their parts (sync.store.identity.name_tokens), so a
  search by name prefix is a range on an index instead of folding every name in Python. Kept by triggers on
  `patients` (insert, change of a name or of the id, delete), whatever writes the row: creation, an edit, the
  pull, the CSV import, a merge. The triggers call `relais_name_tokens()`, a function the app registers on every
  connection it opens (sync.store.database), as `audit_cutoff()` for v15: a connection without it (a SQLite
  shell) cannot write a patient's name, so the tokens can never be left behind. A migration that rebuilds
  `patients` must create these triggers again (dropping a table drops its triggers).
- `patients_birth_dmy`: the birth date as staff type it (dd/mm/yyyy), an index on an expression (SQLite, "Indexes
  On Expressions"), so a typed date prefix is a range too; `patients_last_seen`: when a resident was last seen,
  for the retention of identities.
- The outbox, read without its payloads (stored before `state`, so reading `state` from the row walks the
  payload's overflow pages, SQLite "Database File Format" 1.6): `outbox_queue(state)` gives pending entries in
  rowid order (claims take the oldest first without sorting every pending row); `outbox_sent(state, sent_at,
  session_id)` answers the retention pass; `outbox_session_state(session_id, state, sent_at)` replaces
  `outbox_session(session_id)` and tells a session's entries' states from the index alone, `outbox_bundle_state`
  the state of its bundle (the entry queued at close).
- `history_observations(effective_at)` and `history_sessions(started_at)`: the pulled history's ageing out.
"""
from __future__ import annotations

from sync.store.sql import Rows


_TOKENS_OF_NEW = ("INSERT OR IGNORE INTO patient_name_tokens (token, patient_id) SELECT value, NEW.id FROM "
                  "json_each(relais_name_tokens(NEW.family_name, NEW.usual_name, NEW.given_name));")

NAME_TOKEN_TRIGGERS = f"""
    CREATE TRIGGER patients_name_tokens_insert AFTER INSERT ON patients
    BEGIN
        {_TOKENS_OF_NEW}
    END;
    CREATE TRIGGER patients_name_tokens_update AFTER UPDATE OF id, family_name, usual_name, given_name ON patients
    BEGIN
        DELETE FROM patient_name_tokens WHERE patient_id = OLD.id;
        {_TOKENS_OF_NEW}
    END;
    CREATE TRIGGER patients_name_tokens_delete AFTER DELETE ON patients
    BEGIN
        DELETE FROM patient_name_tokens WHERE patient_id = OLD.id;
    END;
"""

BIRTH_DMY = "(substr(birth_date, 9, 2) || '/' || substr(birth_date, 6, 2) || '/' || substr(birth_date, 1, 4))"
LAST_SEEN = "coalesce(last_seen_at, created_at)"

_SCHEMA_V16 = f"""
    CREATE TABLE patient_name_tokens (
        token TEXT NOT NULL CHECK (token <> ''),
        patient_id TEXT NOT NULL,
        PRIMARY KEY (token, patient_id)
    );
    CREATE INDEX patient_name_tokens_patient ON patient_name_tokens(patient_id);
    INSERT INTO patient_name_tokens (token, patient_id)
        SELECT DISTINCT t.value, p.id FROM patients AS p,
        json_each(relais_name_tokens(p.family_name, p.usual_name, p.given_name)) AS t;
    {NAME_TOKEN_TRIGGERS}
    CREATE INDEX patients_birth_dmy ON patients{BIRTH_DMY};
    CREATE INDEX patients_last_seen ON patients({LAST_SEEN});
    CREATE INDEX outbox_queue ON outbox(state);
    CREATE INDEX outbox_sent ON outbox(state, sent_at, session_id);
    CREATE INDEX outbox_session_state ON outbox(session_id, state, sent_at);
    CREATE INDEX outbox_bundle_state ON outbox(session_id, state, addendum_id) WHERE addendum_id IS NULL;
    DROP INDEX outbox_session;
    CREATE INDEX history_observations_age ON history_observations(effective_at);
    CREATE INDEX history_sessions_age ON history_sessions(started_at);
"""


def migration_16(db: Rows) -> None:
    """Schema v16: see the module's docstring."""
    db.executescript(_SCHEMA_V16)
