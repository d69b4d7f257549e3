"""Schema v11: residents shared between the tablets of a site, edited on any of them.

- `patients.field_stamps`: when each field of the resident was last changed (JSON object: field → UTC instant),
  wherever the change was made. Merging a server copy takes, field by field, the value with the latest stamp
  (sync.store.patient_merge).
- `patients.server_version`: the server's `meta.versionId` of the copy last merged or sent; `patients.merged_into`:
  the resident this one was merged into by an administrator (a probable duplicate). It names a patient id that may
  not be on this tablet yet (the survivor of a merge made on another tablet), hence no foreign key.
- `patient_outbox`: residents whose current record must go up (one row per resident, the whole record is sent, so
  later edits join the queued one). Separate from the session outbox, whose rows belong to a session. `generation`
  counts the edits: a send confirms only the generation it carried, so an edit made while it was in flight is
  never lost.
- `probable_duplicates`: pairs of residents that are probably the same person (same INS, or the same strict
  traits), once per pair, until an administrator merges them.
- A trigger refuses any change of the identity traits of a retrieved (RECUP) or qualified (QUAL) identity, and any
  lowering of its status, except a qualification (RECUP to QUAL): the last line behind the store's own refusal.
"""
from __future__ import annotations

from sync.store.sql import Rows


# the strict traits (RNIV) and the national identifier, frozen once the identity came from the INSi teleservice
LOCKED_TRAITS = ("family_name", "given_name", "birth_given_names", "birth_date", "sex", "birth_place_insee", "ins")

_TRAITS_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in LOCKED_TRAITS)

_SCHEMA_V11 = f"""
    ALTER TABLE patients ADD COLUMN field_stamps TEXT NOT NULL DEFAULT '{{}}'
        CHECK (json_valid(field_stamps) AND json_type(field_stamps) = 'object');
    ALTER TABLE patients ADD COLUMN server_version TEXT;
    ALTER TABLE patients ADD COLUMN merged_into TEXT CHECK (merged_into IS NULL OR merged_into <> id);
    UPDATE patients SET field_stamps = json_object(
        'family_name', created_at, 'given_name', created_at, 'birth_given_names', created_at,
        'birth_date', created_at, 'sex', created_at, 'birth_place_insee', created_at, 'reliability', created_at,
        'usual_name', created_at, 'room', created_at, 'resident_id', created_at, 'gp', created_at);

    CREATE TRIGGER patients_qualified_identity_kept BEFORE UPDATE ON patients
    WHEN OLD.identity_status IN ('QUAL', 'RECUP')
     AND NOT (OLD.identity_status = 'RECUP' AND NEW.identity_status = 'QUAL')
     AND (NEW.identity_status IS NOT OLD.identity_status OR {_TRAITS_CHANGED})
    BEGIN SELECT RAISE(ABORT, 'the identity traits of a retrieved or qualified identity are kept'); END;

    CREATE TABLE patient_outbox (
        patient_id TEXT PRIMARY KEY REFERENCES patients(id) ON DELETE CASCADE,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
        generation INTEGER NOT NULL DEFAULT 1 CHECK (generation >= 1),
        sent_generation INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT,
        queued_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX patient_outbox_due ON patient_outbox(state, next_attempt_at);

    CREATE TABLE probable_duplicates (
        id TEXT PRIMARY KEY CHECK (id <> ''),
        patient_a TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
        patient_b TEXT NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
        reason TEXT NOT NULL CHECK (reason IN ('ins', 'traits')),
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'merged')),
        survivor_id TEXT,
        found_at TEXT NOT NULL,
        resolved_at TEXT,
        CHECK (patient_a < patient_b),
        CHECK ((state = 'merged') = (survivor_id IS NOT NULL)),
        UNIQUE (patient_a, patient_b)
    );
"""


def migration_11(db: Rows) -> None:
    """Schema v11: see the module's docstring."""
    db.executescript(_SCHEMA_V11)
