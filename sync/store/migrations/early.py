"""Schema versions 1 to 7 (released; never edited)."""
from __future__ import annotations

from typing import Callable

from sync.store.sql import Rows


Migration = Callable[[Rows], None]


_SCHEMA_V1 = """
    CREATE TABLE patients (
        id TEXT PRIMARY KEY,
        family_name TEXT NOT NULL CHECK (family_name <> ''),
        given_name TEXT NOT NULL CHECK (given_name <> ''),
        birth_date TEXT NOT NULL CHECK (birth_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
        sex TEXT NOT NULL CHECK (sex IN ('F', 'M', 'I')),
        birth_place_insee TEXT NOT NULL CHECK (length(birth_place_insee) = 5),
        identity_status TEXT NOT NULL DEFAULT 'PROV' CHECK (identity_status IN ('PROV', 'RECUP', 'VALI', 'QUAL')),
        ins TEXT CHECK (ins IS NULL OR identity_status = 'QUAL'),
        resident_id TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX patients_birth_date ON patients(birth_date);

    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        patient_id TEXT NOT NULL REFERENCES patients(id),
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        reason TEXT,
        staff TEXT,
        CHECK ((state = 'closed') = (closed_at IS NOT NULL))
    );
    CREATE INDEX sessions_patient ON sessions(patient_id);

    CREATE TABLE measurements (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        code TEXT NOT NULL,
        value TEXT NOT NULL,
        unit TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('bluetooth', 'manual')),
        device_address TEXT,
        device_name TEXT,
        device_manufacturer TEXT,
        device_model TEXT,
        device_serial TEXT,
        device_firmware TEXT,
        raw BLOB,
        status TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(status) AND json_type(status) = 'array'),
        measured_at TEXT,
        received_at TEXT NOT NULL
    );
    CREATE INDEX measurements_session ON measurements(session_id);
    CREATE TRIGGER measurements_only_in_open_sessions BEFORE INSERT ON measurements
    WHEN (SELECT state FROM sessions WHERE id = NEW.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'session is not open'); END;
    CREATE TRIGGER measurements_frozen_after_close BEFORE UPDATE ON measurements
    WHEN (SELECT state FROM sessions WHERE id = OLD.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'measurements of a closed session are frozen'); END;

    CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL UNIQUE REFERENCES sessions(id),
        idempotency_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight', 'sent', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
    CREATE TRIGGER outbox_payload_frozen BEFORE UPDATE OF payload, idempotency_key, session_id ON outbox
    WHEN NEW.payload IS NOT OLD.payload OR NEW.idempotency_key IS NOT OLD.idempotency_key
         OR NEW.session_id IS NOT OLD.session_id
    BEGIN SELECT RAISE(ABORT, 'outbox payload is frozen'); END;
"""

_SCHEMA_V2 = """
    CREATE TABLE staff (
        id TEXT PRIMARY KEY,
        display_name TEXT NOT NULL CHECK (display_name <> ''),
        role TEXT NOT NULL CHECK (role IN ('aide_soignant', 'infirmier', 'assistant_medical', 'pharmacien',
                                           'medecin', 'administrateur')),
        rpps TEXT CHECK (rpps IS NULL OR (length(rpps) = 11 AND rpps NOT GLOB '*[^0-9]*')),
        adeli TEXT CHECK (adeli IS NULL OR length(adeli) = 9),
        pin_hash TEXT,
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        created_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX staff_rpps ON staff(rpps) WHERE rpps IS NOT NULL;
    CREATE UNIQUE INDEX staff_adeli ON staff(adeli) WHERE adeli IS NOT NULL;

    CREATE TABLE sites (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('ehpad', 'pharmacie')),
        name TEXT NOT NULL CHECK (name <> ''),
        finess TEXT CHECK (finess IS NULL OR finess GLOB '[0-9][0-9AB][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
        ars_declaration TEXT CHECK (ars_declaration IS NULL OR ars_declaration <> ''),
        created_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX sites_finess ON sites(finess) WHERE finess IS NOT NULL;

    ALTER TABLE patients ADD COLUMN identity_method TEXT
        CHECK (identity_method IS NULL OR identity_method IN ('SM', 'CV', 'INSI', 'CB', 'RFID', 'AV'));
    ALTER TABLE patients ADD COLUMN birth_given_names TEXT CHECK (birth_given_names IS NULL OR birth_given_names <> '');

    DROP TRIGGER measurements_only_in_open_sessions;
    DROP TRIGGER measurements_frozen_after_close;
    CREATE TABLE sessions_v2 (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        patient_id TEXT NOT NULL REFERENCES patients(id),
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed', 'abandoned')),
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        reason TEXT,
        staff TEXT,
        site_id TEXT REFERENCES sites(id),
        staff_id TEXT REFERENCES staff(id),
        started_at TEXT,
        ended_at TEXT,
        remote_doctor_name TEXT,
        remote_doctor_rpps TEXT CHECK (remote_doctor_rpps IS NULL OR
                                       (length(remote_doctor_rpps) = 11 AND remote_doctor_rpps NOT GLOB '*[^0-9]*')),
        companion_present INTEGER CHECK (companion_present IS NULL OR companion_present IN (0, 1)),
        interpreter_present INTEGER CHECK (interpreter_present IS NULL OR interpreter_present IN (0, 1)),
        callback_phone TEXT,
        CHECK ((state = 'open') = (closed_at IS NULL))
    );
    INSERT INTO sessions_v2 (id, idempotency_key, patient_id, state, opened_at, closed_at, reason, staff)
        SELECT id, idempotency_key, patient_id, state, opened_at, closed_at, reason, staff FROM sessions ORDER BY rowid;
    DROP TABLE sessions;
    ALTER TABLE sessions_v2 RENAME TO sessions;
    CREATE INDEX sessions_patient ON sessions(patient_id);
    CREATE INDEX sessions_state ON sessions(state);
    -- what a closed (or abandoned) session's frozen bundle was built from does not change any more
    CREATE TRIGGER sessions_frozen_after_close BEFORE UPDATE ON sessions
    WHEN OLD.state IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'a closed session is frozen'); END;

    ALTER TABLE measurements ADD COLUMN panel_id TEXT CHECK (panel_id IS NULL OR panel_id <> '');
    CREATE UNIQUE INDEX measurements_panel_code ON measurements(session_id, panel_id, code) WHERE panel_id IS NOT NULL;
    CREATE TRIGGER measurements_only_in_open_sessions BEFORE INSERT ON measurements
    WHEN (SELECT state FROM sessions WHERE id = NEW.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'session is not open'); END;
    CREATE TRIGGER measurements_frozen_after_close BEFORE UPDATE ON measurements
    WHEN (SELECT state FROM sessions WHERE id = OLD.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'measurements of a closed session are frozen'); END;

    CREATE TABLE consents (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        decision TEXT NOT NULL CHECK (decision IN ('given', 'refused')),
        given_by TEXT NOT NULL DEFAULT 'patient'
            CHECK (given_by IN ('patient', 'legal_representative', 'trusted_person')),
        given_by_name TEXT CHECK (given_by_name IS NULL OR given_by_name <> ''),
        recorded_at TEXT NOT NULL,
        recorded_by TEXT NOT NULL REFERENCES staff(id),
        CHECK ((given_by = 'patient') = (given_by_name IS NULL))
    );
    CREATE INDEX consents_session ON consents(session_id);

    CREATE TABLE notes (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        kind TEXT NOT NULL CHECK (kind IN ('remote_doctor_conclusion', 'staff_note')),
        author TEXT NOT NULL CHECK (author <> ''),
        staff_id TEXT REFERENCES staff(id),
        text TEXT NOT NULL CHECK (text <> ''),
        created_at TEXT NOT NULL
    );
    CREATE INDEX notes_session ON notes(session_id);

    CREATE TABLE summaries (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL UNIQUE REFERENCES sessions(id),
        text TEXT NOT NULL CHECK (text <> ''),
        recipient_name TEXT,
        recipient_rpps TEXT CHECK (recipient_rpps IS NULL OR
                                   (length(recipient_rpps) = 11 AND recipient_rpps NOT GLOB '*[^0-9]*')),
        created_at TEXT NOT NULL
    );
"""

_SCHEMA_V3 = """
    ALTER TABLE sessions ADD COLUMN checklist_room_closed INTEGER
        CHECK (checklist_room_closed IS NULL OR checklist_room_closed IN (0, 1));
    ALTER TABLE sessions ADD COLUMN checklist_device_hygiene INTEGER
        CHECK (checklist_device_hygiene IS NULL OR checklist_device_hygiene IN (0, 1));
    ALTER TABLE sessions ADD COLUMN checklist_accessibility INTEGER
        CHECK (checklist_accessibility IS NULL OR checklist_accessibility IN (0, 1));

    DROP TRIGGER notes_only_in_open_sessions;
    DROP TRIGGER notes_frozen_after_close;
    DROP TRIGGER notes_kept_after_close;
    CREATE TABLE notes_v3 (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        kind TEXT NOT NULL CHECK (kind IN ('remote_doctor_conclusion', 'staff_note', 'orientation', 'prescription')),
        author TEXT NOT NULL CHECK (author <> ''),
        staff_id TEXT REFERENCES staff(id),
        text TEXT NOT NULL CHECK (text <> ''),
        created_at TEXT NOT NULL
    );
    INSERT INTO notes_v3 SELECT id, session_id, kind, author, staff_id, text, created_at FROM notes ORDER BY rowid;
    DROP TABLE notes;
    ALTER TABLE notes_v3 RENAME TO notes;
    CREATE INDEX notes_session ON notes(session_id);
    CREATE TRIGGER notes_only_in_open_sessions BEFORE INSERT ON notes
    WHEN (SELECT state FROM sessions WHERE id = NEW.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'session is not open'); END;
    CREATE TRIGGER notes_frozen_after_close BEFORE UPDATE ON notes
    WHEN (SELECT state FROM sessions WHERE id = OLD.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'notes of a closed session are frozen'); END;
    CREATE TRIGGER notes_kept_after_close BEFORE DELETE ON notes
    WHEN (SELECT state FROM sessions WHERE id = OLD.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'notes of a closed session are frozen'); END;

    -- a closed session is never edited: what comes later is an addendum, kept apart and append-only
    CREATE TABLE addenda (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        staff_id TEXT NOT NULL REFERENCES staff(id),
        text TEXT NOT NULL CHECK (text <> ''),
        created_at TEXT NOT NULL
    );
    CREATE INDEX addenda_session ON addenda(session_id);
    CREATE TRIGGER addenda_only_after_close BEFORE INSERT ON addenda
    WHEN (SELECT state FROM sessions WHERE id = NEW.session_id) IS NOT 'closed'
    BEGIN SELECT RAISE(ABORT, 'an addendum is for a closed session'); END;
    CREATE TRIGGER addenda_append_only BEFORE UPDATE ON addenda
    BEGIN SELECT RAISE(ABORT, 'addenda are append-only'); END;

    ALTER TABLE staff ADD COLUMN pin_failures INTEGER NOT NULL DEFAULT 0 CHECK (pin_failures >= 0);
    ALTER TABLE staff ADD COLUMN pin_locked_until TEXT;

    CREATE TABLE settings (
        key TEXT PRIMARY KEY CHECK (key <> ''),
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
"""

_SCHEMA_V4 = """
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        staff_id TEXT,
        action TEXT NOT NULL CHECK (action IN ('view', 'create', 'change', 'close', 'abandon', 'export', 'purge',
                                               'sign_in', 'sign_in_refused', 'sign_out')),
        subject_kind TEXT NOT NULL CHECK (subject_kind IN ('patient', 'session', 'staff', 'site', 'setting',
                                                           'audit_log')),
        subject_id TEXT,
        detail TEXT,
        prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
        hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
    );
    CREATE INDEX audit_log_subject ON audit_log(subject_kind, subject_id);
    CREATE INDEX audit_log_at ON audit_log(at);
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TABLE audit_anchor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL CHECK (length(hash) = 64),
        moved_at TEXT
    );
    INSERT INTO audit_anchor (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
    CREATE TRIGGER audit_anchor_forward_only BEFORE UPDATE ON audit_anchor
    WHEN NEW.seq < OLD.seq OR NEW.id IS NOT OLD.id
    BEGIN SELECT RAISE(ABORT, 'the audit anchor only moves forward'); END;
    CREATE TRIGGER audit_anchor_kept BEFORE DELETE ON audit_anchor
    BEGIN SELECT RAISE(ABORT, 'the audit anchor is kept'); END;
    CREATE TRIGGER audit_log_kept BEFORE DELETE ON audit_log
    WHEN OLD.seq > (SELECT seq FROM audit_anchor)
    BEGIN SELECT RAISE(ABORT, 'audit rows are kept six months'); END;

    -- an addendum (a remark after close) travels as its own outbox entry: a session now has one entry for its
    -- bundle (addendum_id NULL, at most one) and one per addendum. Rebuilt: SQLite cannot drop a UNIQUE in place.
    DROP TRIGGER outbox_payload_frozen;
    CREATE TABLE outbox_v4 (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        addendum_id TEXT UNIQUE REFERENCES addenda(id),
        idempotency_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight', 'sent', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    INSERT INTO outbox_v4 (id, session_id, addendum_id, idempotency_key, payload, state, attempts, last_error,
                           next_attempt_at, created_at, sent_at)
        SELECT id, session_id, NULL, idempotency_key, payload, state, attempts, last_error, next_attempt_at,
               created_at, sent_at FROM outbox ORDER BY rowid;
    DROP TABLE outbox;
    ALTER TABLE outbox_v4 RENAME TO outbox;
    CREATE UNIQUE INDEX outbox_session_bundle ON outbox(session_id) WHERE addendum_id IS NULL;
    CREATE INDEX outbox_session ON outbox(session_id);
    CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
    CREATE TRIGGER outbox_payload_frozen BEFORE UPDATE OF payload, idempotency_key, session_id, addendum_id ON outbox
    WHEN NEW.payload IS NOT OLD.payload OR NEW.idempotency_key IS NOT OLD.idempotency_key
         OR NEW.session_id IS NOT OLD.session_id OR NEW.addendum_id IS NOT OLD.addendum_id
    BEGIN SELECT RAISE(ABORT, 'outbox payload is frozen'); END;

    -- the audit trail also leaves the tablet: frozen extracts (sync.audit.freeze_extract), uploaded like sessions,
    -- so a lost or stolen tablet does not take the trail with it, and a rewritten chain shows against the copy
    CREATE TABLE audit_outbox (
        id TEXT PRIMARY KEY,
        extract_no INTEGER NOT NULL UNIQUE CHECK (extract_no >= 1),
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL CHECK (last_seq >= first_seq),
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE TRIGGER audit_outbox_payload_frozen BEFORE UPDATE OF payload, first_seq, last_seq, extract_no ON audit_outbox
    BEGIN SELECT RAISE(ABORT, 'an audit extract is frozen'); END;

    CREATE TABLE purge_queue (session_id TEXT PRIMARY KEY);
    CREATE TRIGGER purge_only_confirmed BEFORE INSERT ON purge_queue
    WHEN NOT ((SELECT state FROM sessions WHERE id = NEW.session_id) IS 'abandoned'
              OR (EXISTS (SELECT 1 FROM outbox WHERE session_id = NEW.session_id AND addendum_id IS NULL
                                                   AND state = 'sent')
                  AND NOT EXISTS (SELECT 1 FROM outbox WHERE session_id = NEW.session_id AND state <> 'sent')))
    BEGIN SELECT RAISE(ABORT, 'only a session the server confirmed (or an abandoned one) is purged'); END;

    -- administering the tablet is a right, not a profession: the pharmacist who set it up keeps their role
    ALTER TABLE staff ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1));
    UPDATE staff SET is_admin = 1 WHERE role = 'administrateur';

    ALTER TABLE patients ADD COLUMN last_seen_at TEXT;
    UPDATE patients SET last_seen_at = coalesce(
        (SELECT max(opened_at) FROM sessions WHERE sessions.patient_id = patients.id), created_at);
"""


def migration_1(db: Rows) -> None:
    """Initial schema. CHECK constraints and triggers repeat the Python validation so no code path can store
    something the uploader cannot ship."""
    db.executescript(_SCHEMA_V1)


def migration_2(db: Rows) -> None:
    """Schema v2: who (staff), where (sites), consent, notes, the summary for the patient's own doctor, the session's
    context, the identity collection method, blood pressure panels.

    `sessions` is rebuilt (SQLite cannot change a CHECK constraint in place) following SQLite's documented
    procedure: new table, copy, drop, rename, with foreign keys off (the migration runner does that) and checked
    before commit. The measurement triggers name `sessions` in their bodies, so they are dropped first and created
    again afterwards. Outbox rows are not touched: their payloads stay byte for byte what was frozen at close."""
    db.executescript(_SCHEMA_V2)
    for table in ("consents", "notes", "summaries"):
        db.executescript(f"""
        CREATE TRIGGER {table}_only_in_open_sessions BEFORE INSERT ON {table}
        WHEN (SELECT state FROM sessions WHERE id = NEW.session_id) IS NOT 'open'
        BEGIN SELECT RAISE(ABORT, 'session is not open'); END;
        CREATE TRIGGER {table}_frozen_after_close BEFORE UPDATE ON {table}
        WHEN (SELECT state FROM sessions WHERE id = OLD.session_id) IS NOT 'open'
        BEGIN SELECT RAISE(ABORT, '{table} of a closed session are frozen'); END;
        CREATE TRIGGER {table}_kept_after_close BEFORE DELETE ON {table}
        WHEN (SELECT state FROM sessions WHERE id = OLD.session_id) IS NOT 'open'
        BEGIN SELECT RAISE(ABORT, '{table} of a closed session are frozen'); END;
        """)


def migration_3(db: Rows) -> None:
    """Schema v3: the guided session. The room checklist on the session, orientation and prescriptions as notes
    (the notes table is rebuilt: SQLite cannot widen a CHECK in place), addenda written after a session was closed
    (append-only), the PIN lock-out counters of staff, and the tablet's settings (site chosen at first run, idle
    lock delay, language)."""
    db.executescript(_SCHEMA_V3)


def migration_4(db: Rows) -> None:
    """Schema v4: the audit log and retention.

    - `audit_log`: who viewed, created, changed, exported or purged which patient, session, staff member or setting,
      and when; ids only, never patient data. Each row carries the SHA-256 of its content chained to the previous
      row's hash (sync.audit), so a changed, inserted or removed row breaks the chain. Rows are never updated; they
      may only be deleted from the head of the chain once older than six months, after `audit_anchor` (the hash
      the remaining chain starts from) has been moved past them, in the same transaction.
    - `outbox` gains `addendum_id`: an addendum written after close is uploaded as its own entry, after the
      session's bundle (sync.outbox claims it only then), so a closed session's record reaches the server whole.
    - `purge_queue`: a session id can only enter it once the server confirmed the session (outbox `sent`, its
      addenda included) or the session was abandoned (never uploaded); the triggers that keep a closed session's
      data let a row go only when its session is in that queue. So no code path can purge unconfirmed data, whatever the age.
    - `patients.last_seen_at`: when the patient last had a session here; an identity with no session left is kept
      while recent (the resident list of an EHPAD) and removed later (sync.retention).
    - `staff.is_admin`: may manage staff, reset PINs, export the audit log (the `administrateur` role implies it).
    - `audit_outbox`: frozen extracts of the audit trail waiting for the server (`settings.install_id`, made at the
      first extract, names this install in their identifiers)."""
    db.executescript(_SCHEMA_V4)
    for table in ("consents", "notes", "summaries"):
        db.executescript(f"""
        DROP TRIGGER {table}_kept_after_close;
        CREATE TRIGGER {table}_kept_after_close BEFORE DELETE ON {table}
        WHEN (SELECT state FROM sessions WHERE id = OLD.session_id) IS NOT 'open'
         AND OLD.session_id NOT IN (SELECT session_id FROM purge_queue)
        BEGIN SELECT RAISE(ABORT, '{table} of a closed session are frozen'); END;
        """)
    for table, key in (("measurements", "session_id"), ("addenda", "session_id"), ("outbox", "session_id"),
                       ("sessions", "id")):
        db.executescript(f"""
        CREATE TRIGGER {table}_deleted_only_by_purge BEFORE DELETE ON {table}
        WHEN OLD.{key} NOT IN (SELECT session_id FROM purge_queue)
        BEGIN SELECT RAISE(ABORT, 'only the retention purge deletes session data'); END;
        """)


def migration_5(db: Rows) -> None:
    """Schema v5: each measurement keeps the interpretation flag the clinical rules (sync.clinical.rules) gave it
    when staff accepted it — HL7 v3 ObservationInterpretation LL, L, H or HH, NULL within the usual range — so the
    tablet's alert, the FHIR `Observation.interpretation` and the doctor's page read one decision.

    Rows of sessions still open get their flag from the same table now. Rows of closed sessions stay NULL: their
    bundles are frozen already (the triggers forbid changing them), and the flag is only read to build a bundle."""
    from sync.clinical.rules import flag_of
    from sync.vocabulary import decimal_from_text

    db.executescript("""
    ALTER TABLE measurements ADD COLUMN interpretation TEXT
        CHECK (interpretation IS NULL OR interpretation IN ('LL', 'L', 'H', 'HH'));
    """)
    rows = db.execute("SELECT m.id, m.code, m.value, m.unit FROM measurements m JOIN sessions s ON s.id = m.session_id"
                      " WHERE s.state = 'open'").fetchall()
    for measurement_id, code, value, unit in rows:
        try:
            flag = flag_of(code, decimal_from_text(value), unit)
        except ValueError:  # a coded answer (ACVPU, oxygen) is not a number: it has no rule
            flag = None
        if flag is not None:
            db.execute("UPDATE measurements SET interpretation = ? WHERE id = ?", [flag, measurement_id])


def migration_6(db: Rows) -> None:
    """Schema v6: what staff need to find and name a resident. `usual_name` (nom utilisé, the married name a
    resident is called by, RNIV "trait complémentaire"), `room` (room or bed, free text) and `identity_document`
    (the high-trust document a validated identity was checked against, FR Core fr-core-cs-mode-validation-identity:
    CN identity card, PA passport, CS residence permit, LECV / ANCV livret de famille / birth extract with a photo
    carte Vitale). All optional; existing rows keep NULL."""
    db.executescript("""
    ALTER TABLE patients ADD COLUMN usual_name TEXT CHECK (usual_name IS NULL OR usual_name <> '');
    ALTER TABLE patients ADD COLUMN room TEXT CHECK (room IS NULL OR room <> '');
    ALTER TABLE patients ADD COLUMN identity_document TEXT
        CHECK (identity_document IS NULL OR (identity_document IN ('CN', 'PA', 'CS', 'LECV', 'ANCV')
                                             AND identity_status IN ('VALI', 'QUAL')));
    """)


def migration_7(db: Rows) -> None:
    """Schema v7: `session_resume`, what the tablet needs to take an open session up again where staff left it
    (the step reached, the values accepted but not stored yet, the call's start, the notes typed so far), after
    leaving it for another resident or a restart. One JSON document per open session, on this tablet only: never
    in the outbox or a bundle. A row exists only while its session is open: closing or abandoning the session
    deletes it (trigger), and the retention purge takes whatever is left with the session."""
    db.executescript("""
    CREATE TABLE session_resume (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id),
        state TEXT NOT NULL CHECK (json_valid(state) AND json_type(state) = 'object'),
        saved_at TEXT NOT NULL
    );
    CREATE TRIGGER session_resume_only_while_open BEFORE INSERT ON session_resume
    WHEN (SELECT state FROM sessions WHERE id = NEW.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'session is not open'); END;
    CREATE TRIGGER session_resume_updated_only_while_open BEFORE UPDATE ON session_resume
    WHEN (SELECT state FROM sessions WHERE id = NEW.session_id) IS NOT 'open'
    BEGIN SELECT RAISE(ABORT, 'session is not open'); END;
    CREATE TRIGGER session_resume_gone_when_session_ends AFTER UPDATE OF state ON sessions
    WHEN NEW.state <> 'open'
    BEGIN DELETE FROM session_resume WHERE session_id = NEW.id; END;
    """)


EARLY_MIGRATIONS: tuple[Migration, ...] = (migration_1, migration_2, migration_3, migration_4, migration_5,
                                           migration_6, migration_7)
