"""Schema v14: the remote doctor's conclusions as they come down from the server, and who wrote each note.

- `received_conclusions`: what a doctor signed for one of this tablet's sessions (sync.fhir.exchange, a
  ClinicalImpression), one row per version received. A newer version replaces one staff have not accepted yet (at
  most one unaccepted row per session, a partial unique index); an accepted row is kept as it was accepted, and a
  later version lands beside it as a new unaccepted row ("nouvelle version reçue"). Accepted rows never change,
  and rows go only with their session (the retention purge).
- `notes.written_by` and `notes.author_rpps`: the remote doctor's conclusion, orientation and prescriptions are
  either the doctor's own words (`doctor`: accepted unchanged from their signed conclusions, the doctor's RPPS
  kept) or the doctor's words as the staff member typed them during the call (`staff`: transcribed). NULL for
  notes of other kinds and for notes written before this version (whose origin nobody recorded).
"""
from __future__ import annotations

from sync.store.sql import Rows


_SCHEMA_V14 = """
    CREATE TABLE received_conclusions (
        id TEXT PRIMARY KEY CHECK (id <> ''),
        session_id TEXT NOT NULL REFERENCES sessions(id),
        resource_id TEXT NOT NULL CHECK (resource_id <> ''),
        version TEXT,
        doctor_name TEXT NOT NULL CHECK (doctor_name <> ''),
        doctor_rpps TEXT CHECK (doctor_rpps IS NULL OR (length(doctor_rpps) = 11 AND doctor_rpps NOT GLOB '*[^0-9]*')),
        conclusion TEXT NOT NULL CHECK (conclusion <> ''),
        orientation TEXT CHECK (orientation IS NULL OR orientation IN ('stay', 'gp', 'specialist', 'emergency',
                                                                      'hospital')),
        orientation_detail TEXT NOT NULL DEFAULT '',
        prescriptions TEXT NOT NULL DEFAULT '',
        written_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        accepted_at TEXT,
        accepted_by TEXT REFERENCES staff(id),
        CHECK ((accepted_at IS NULL) = (accepted_by IS NULL))
    );
    CREATE INDEX received_conclusions_session ON received_conclusions(session_id);
    CREATE UNIQUE INDEX received_conclusions_one_waiting ON received_conclusions(session_id)
        WHERE accepted_at IS NULL;
    CREATE TRIGGER received_conclusions_accepted_kept BEFORE UPDATE ON received_conclusions
    WHEN OLD.accepted_at IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'accepted conclusions are kept as they were accepted'); END;
    CREATE TRIGGER received_conclusions_deleted_only_by_purge BEFORE DELETE ON received_conclusions
    WHEN OLD.accepted_at IS NOT NULL AND OLD.session_id NOT IN (SELECT session_id FROM purge_queue)
    BEGIN SELECT RAISE(ABORT, 'only the retention purge deletes session data'); END;

    ALTER TABLE notes ADD COLUMN written_by TEXT CHECK (written_by IS NULL OR written_by IN ('doctor', 'staff'));
    ALTER TABLE notes ADD COLUMN author_rpps TEXT
        CHECK (author_rpps IS NULL OR (length(author_rpps) = 11 AND author_rpps NOT GLOB '*[^0-9]*'));
"""


def migration_14(db: Rows) -> None:
    """Schema v14: see the module's docstring."""
    db.executescript(_SCHEMA_V14)
