"""The tablet's local store: patients, sessions, measurements, and the outbox that ships closed sessions.

Design choices (shared/notes/sync.md):
- one SQLite file in WAL mode with foreign keys on; the schema is versioned with `PRAGMA user_version` and upgraded
  by an ordered list of migrations, each in its own transaction, so later issues append migrations;
- closing a session freezes its FHIR bundle into an outbox row in the same transaction: an outbox row exists if and
  only if the session is closed, and the payload is never rebuilt (a trigger refuses any change to it);
- threads: the Kivy app calls the store from the asyncio thread and uploads run in a worker thread
  (asyncio.to_thread). One connection is shared (check_same_thread=False) and every public method holds one
  re-entrant lock, so a thread never sees another thread's half-done transaction. Writes use BEGIN IMMEDIATE with a
  busy timeout, so another process on the same file (`python -m sync push`) waits instead of failing.

Schema v2 (issue "Sync: offline-first store … as standard FHIR R4"): staff, sites, consents, notes and summaries;
sessions gain their site, staff member, state `abandoned`, call times, remote doctor, companion / interpreter and a
call-back number; patients gain the identity collection method; measurements gain `panel_id` (the systolic,
diastolic and mean pressure of one cuff reading share it and become one FHIR blood pressure panel). Everything a
closed session's frozen bundle was built from is frozen with it (triggers), so the payload never disagrees with the
data it came from.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import sqlite3
import threading
import unicodedata
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import sqlite_utils

from sync import fhir

log = logging.getLogger(__name__)

IDENTITY_STATUSES = ("PROV", "RECUP", "VALI", "QUAL")
SEXES = ("F", "M", "I")
SOURCES = ("bluetooth", "manual")
OUTBOX_STATES = ("pending", "in_flight", "sent", "rejected")
DEVICE_KEYS = ("address", "name", "manufacturer", "model", "serial", "firmware")
SESSION_STATES = ("open", "closed", "abandoned")
IDENTITY_METHODS = ("SM", "CV", "INSI", "CB", "RFID", "AV")  # FR Core fr-core-cs-method-collection (RNIV 1 v2.0)
STAFF_ROLES = ("aide_soignant", "infirmier", "assistant_medical", "pharmacien", "medecin", "administrateur")
SITE_KINDS = ("ehpad", "pharmacie")
CONSENT_DECISIONS = ("given", "refused")
CONSENT_GRANTORS = ("patient", "legal_representative", "trusted_person")
NOTE_KINDS = ("remote_doctor_conclusion", "staff_note", "orientation", "prescription")

Clock = Callable[[], dt.datetime]
Migration = Callable[[sqlite_utils.Database], None]


class StoreError(Exception):
    """Base class for store errors."""


class IdentityError(StoreError, ValueError):
    """Identity traits refused; `str(exc)` is a plain-French message for staff, `field` names the trait."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InputError(StoreError, ValueError):
    """Input refused; `str(exc)` is a plain-French message for staff, `field` names the offending argument."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(StoreError, LookupError):
    """No patient / session / outbox entry with that id."""


class SessionStateError(StoreError):
    """The session is not in a state that allows the operation (e.g. adding to, or closing, a closed session)."""


class StoreKeyError(StoreError):
    """The store cannot be decrypted: wrong key, or an encrypted file opened without its key."""


class StoreCorruptError(StoreError):
    """The file is not an intact SQLite/SQLCipher database."""


# Messages with a number in them: the screens translate the template, then put the number back (mobile texts).
PIN_LOCKED_SECONDS = "Trop de codes erronés : compte bloqué, réessayez dans {n} s."
PIN_LOCKED_MINUTES = "Trop de codes erronés : compte bloqué, réessayez dans {n} min."
MESSAGE_TEMPLATES = (PIN_LOCKED_SECONDS, PIN_LOCKED_MINUTES)


class PinLockedError(StoreError):
    """Too many wrong PINs: this staff member must wait `remaining`."""

    def __init__(self, remaining: dt.timedelta) -> None:
        self.remaining = remaining
        seconds = max(1, int(remaining.total_seconds() + 0.999))
        if seconds < 60:
            super().__init__(PIN_LOCKED_SECONDS.format(n=seconds))
        else:
            super().__init__(PIN_LOCKED_MINUTES.format(n=(seconds + 59) // 60))


class SchemaError(StoreError):
    """The file's schema cannot be used by this version of the app (newer schema, failed migration)."""


try:  # SQLCipher (the sqlcipher3 package): the store's encryption at rest; plain sqlite3 without a key
    import sqlcipher3 as _sqlcipher
except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
    _sqlcipher = None

DB_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,) + ((_sqlcipher.Error,) if _sqlcipher else ())
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError,) + (
    (_sqlcipher.IntegrityError,) if _sqlcipher else ())
_SQLITE_HEADER = b"SQLite format 3\x00"


def _connect(path: Path, key: bytes | None) -> Any:
    """A connection to `path`, decrypted with `key` when given, checked before any write: the header, the key
    (reading sqlite_master needs it) and the pages (`PRAGMA quick_check`)."""
    with open(path, "rb") as f:
        header = f.read(16)
    plain_file = header == _SQLITE_HEADER
    if key is None:
        if header and not plain_file:
            raise StoreKeyError("Cette base est chiffrée ou endommagée : elle ne s'ouvre pas sans sa clé.")
        conn = sqlite3.connect(path, check_same_thread=False, timeout=15)
    else:
        if len(key) != 32:
            raise StoreKeyError("La clé de chiffrement doit faire 32 octets.")
        if _sqlcipher is None:
            raise StoreKeyError("SQLCipher (paquet sqlcipher3) n'est pas installé : base chiffrée illisible.")
        if plain_file:
            raise StoreKeyError("Cette base n'est pas chiffrée : chiffrez-la d'abord (sync.store.encrypt_plain_store).")
        conn = _sqlcipher.connect(str(path), check_same_thread=False, timeout=15)
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")  # a raw key: no passphrase derivation needed
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except DB_ERRORS as exc:
        conn.close()
        if key is not None and "not a database" in str(exc):
            raise StoreKeyError("Clé de chiffrement incorrecte pour cette base (ou base endommagée).") from None
        raise StoreCorruptError(f"Base de données endommagée : {exc}") from None
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
    except DB_ERRORS as exc:
        conn.close()
        raise StoreCorruptError(f"Base de données endommagée : {exc}") from None
    if problems != ["ok"]:
        conn.close()
        raise StoreCorruptError(f"Base de données endommagée : {'; '.join(map(str, problems[:3]))}")
    return conn


def encrypt_plain_store(path: str | os.PathLike[str], key: bytes) -> None:
    """Encrypt a plain store in place (a tablet upgraded from a version without encryption): export into a new
    SQLCipher file next to it, then an atomic rename; the plain file is gone afterwards (WAL included)."""
    if _sqlcipher is None:
        raise StoreKeyError("SQLCipher (paquet sqlcipher3) n'est pas installé.")
    path = Path(path)
    target = path.with_name(path.name + ".encrypting")
    target.unlink(missing_ok=True)
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = _sqlcipher.connect(str(path))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute(f"ATTACH DATABASE ? AS encrypted KEY \"x'{key.hex()}'\"", [str(target)])
        conn.execute("SELECT sqlcipher_export('encrypted')")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        conn.execute("DETACH DATABASE encrypted")
    finally:
        conn.close()
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(target, path)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


# Staff PINs: salted scrypt (RFC 7914) with parameters stored alongside, so they can be raised later without a
# migration; n=2^14, r=8, p=1 costs ~16 MiB and tens of ms per check, fine for a tablet sign-in and costly for a
# thief brute-forcing a copied database (whose PIN space is small: the lock-out below protects the live app).
PIN_ATTEMPTS = 5
PIN_LOCK_FIRST_SECONDS = 30
PIN_LOCK_MAX_SECONDS = 3600
_PIN = re.compile(r"\d{4,8}")


def hash_pin(pin: str, *, n: int = 2 ** 14, r: int = 8, p: int = 1) -> str:
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise InputError("Le code PIN doit faire de 4 à 8 chiffres.", "pin")
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(str(pin).encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                   dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    """Internal time stamps: UTC, microseconds, one fixed format so text comparison orders them."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


# -- schema -----------------------------------------------------------------------------------------------------------

def _migration_1(db: sqlite_utils.Database) -> None:
    """Initial schema. CHECK constraints and triggers repeat the Python validation so no code path can store
    something the uploader cannot ship."""
    db.executescript("""
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
    """)


def _migration_2(db: sqlite_utils.Database) -> None:
    """Schema v2: who (staff), where (sites), consent, notes, the summary for the patient's own doctor, the session's
    context, the identity collection method, blood pressure panels.

    `sessions` is rebuilt (SQLite cannot change a CHECK constraint in place) following SQLite's documented
    procedure: new table, copy, drop, rename, with foreign keys off (the migration runner does that) and checked
    before commit. The measurement triggers name `sessions` in their bodies, so they are dropped first and created
    again afterwards. Outbox rows are not touched: their payloads stay byte for byte what was frozen at close."""
    db.executescript("""
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
    """)
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


def _migration_3(db: sqlite_utils.Database) -> None:
    """Schema v3: the guided session. The room checklist on the session, orientation and prescriptions as notes
    (the notes table is rebuilt: SQLite cannot widen a CHECK in place), addenda written after a session was closed
    (append-only), the PIN lock-out counters of staff, and the tablet's settings (site chosen at first run, idle
    lock delay, language)."""
    db.executescript("""
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
    """)


def _migration_4(db: sqlite_utils.Database) -> None:
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
    db.executescript("""
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
    """)
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


# Append only: position i holds the migration to schema version i + 1. Never edit a released migration.
MIGRATIONS: tuple[Migration, ...] = (_migration_1, _migration_2, _migration_3, _migration_4)


# -- validation -------------------------------------------------------------------------------------------------------

_NAME_CHARS = re.compile(r"[^\W\d_]|[ '\-’]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSEE = re.compile(r"\d{5}|2[AB]\d{3}")
_INS = re.compile(r"[1-478]\d{4}(?:\d{2}|2[AB])\d{8}")


def _clean_name(value: Any, field: str, label: str) -> str:
    if not isinstance(value, str):
        raise IdentityError(f"Le {label} est obligatoire.", field)
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        raise IdentityError(f"Le {label} est obligatoire.", field)
    if len(text) > 100:
        raise IdentityError(f"Le {label} est trop long (100 caractères au plus).", field)
    if not all(_NAME_CHARS.fullmatch(ch) for ch in text) or not any(ch.isalpha() for ch in text):
        raise IdentityError(f"Le {label} ne doit contenir que des lettres, espaces, tirets ou apostrophes.", field)
    return text


def _clean_birth_date(value: Any, today: dt.date) -> str:
    if isinstance(value, dt.datetime):
        raise IdentityError("La date de naissance doit être une date (AAAA-MM-JJ), sans heure.", "birth_date")
    if isinstance(value, dt.date):
        value = value.isoformat()
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise IdentityError("La date de naissance doit être au format AAAA-MM-JJ.", "birth_date")
    try:
        date = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise IdentityError("La date de naissance n'existe pas dans le calendrier.", "birth_date") from None
    if date > today:
        raise IdentityError("La date de naissance ne peut pas être dans le futur.", "birth_date")
    if date.year < 1890:
        raise IdentityError("La date de naissance est trop ancienne : vérifiez l'année.", "birth_date")
    return date.isoformat()


def ins_key_valid(ins: str) -> bool:
    """NIR control key: 97 - (first 13 characters mod 97), Corsica departments 2A/2B counted as 19/18."""
    body = ins[:13]
    if body[5:7] == "2A":
        body = body[:5] + "19" + body[7:]
    elif body[5:7] == "2B":
        body = body[:5] + "18" + body[7:]
    return 97 - int(body) % 97 == int(ins[13:])


def _clean_ins(value: Any, status: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if status != "QUAL":
        raise IdentityError("Le matricule INS ne peut être enregistré que pour une identité qualifiée (QUAL).", "ins")
    text = value.replace(" ", "").upper() if isinstance(value, str) else ""
    if not _INS.fullmatch(text):
        raise IdentityError("Le matricule INS doit comporter 15 caractères (13 chiffres et la clé).", "ins")
    if not ins_key_valid(text):
        raise IdentityError("La clé du matricule INS est incorrecte : vérifiez la saisie.", "ins")
    return text


def fold(text: str) -> str:
    """Case- and accent-insensitive form for search: 'Hélène' → 'helene', 'Œuvray' → 'oeuvray'."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().replace("’", "'")


def _aware_iso(value: Any, field: str) -> str:
    """Time stamps must carry a zone: a naive device time is ambiguous, the caller decides how to read it."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{field}: not an ISO 8601 date-time") from None
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{field}: expected an ISO 8601 date-time string or datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: a timezone is required")
    return value.isoformat()


def _decimal_text(value: Any) -> str:
    """The value exactly as read, as a decimal string. Floats are refused: they already lost the precision."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("value must be a finite decimal")
        value = format(value, "f")
    try:
        fhir.decimal_from_text(value)  # JSON number syntax: no exponent, no leading zeros, no comma
    except ValueError:
        raise ValueError(f"value must be a decimal string such as '37.60', got {value!r}") from None
    return value


_RPPS = re.compile(r"\d{11}")
_ADELI = re.compile(r"(?:\d{2}|2[AB])\d{7}")
_FINESS = re.compile(r"(?:\d{2}|2[AB])\d{7}")
_PHONE_CHARS = re.compile(r"\+?[\d .\-()]+")


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check over a string of digits, the last one being the key."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def finess_key_valid(finess: str) -> bool:
    """The 9th character of a FINESS number is a Luhn key over the first eight (checked on real numbers such as
    750712184). Corsican numbers (2A/2B) are checked for format only: how their letters enter the key is not
    documented in the notes."""
    return not finess.isdigit() or luhn_valid(finess)


def _text(value: Any, field: str, label: str, *, required: bool = False, max_length: int = 200) -> str | None:
    """Free text from staff: trimmed, inner whitespace kept as typed (notes are multi-line), None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError(f"{label[0].upper()}{label[1:]} est obligatoire.", field)
        return None
    if not isinstance(value, str):
        raise InputError(f"{label[0].upper()}{label[1:]} doit être un texte.", field)
    text = unicodedata.normalize("NFC", value.strip())
    if len(text) > max_length:
        raise InputError(f"{label[0].upper()}{label[1:]} est trop long ({max_length} caractères au plus).", field)
    return text


def _choice(value: Any, choices: Sequence[str], field: str, message: str) -> str:
    if not isinstance(value, str) or value.strip() not in choices:
        raise InputError(message, field)
    return value.strip()


def _rpps(value: Any, field: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.replace(" ", "") if isinstance(value, str) else ""
    if not _RPPS.fullmatch(text):
        raise InputError("Le numéro RPPS doit comporter 11 chiffres.", field)
    return text


def _adeli(value: Any, field: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.replace(" ", "").upper() if isinstance(value, str) else ""
    if not _ADELI.fullmatch(text):
        raise InputError("Le numéro ADELI doit comporter 9 caractères (chiffres, 2A ou 2B pour la Corse).", field)
    return text


def _aware_iso_fr(value: Any, field: str, label: str) -> str:
    try:
        return _aware_iso(value, field)
    except ValueError:
        raise InputError(f"{label[0].upper()}{label[1:]} doit être une date et heure avec fuseau horaire "
                         "(ex. 2024-05-01T10:15:00+02:00).", field) from None


def _bool_or_none(value: Any, field: str, label: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InputError(f"{label[0].upper()}{label[1:]} : répondez oui (True) ou non (False).", field)
    return int(value)


def _phone(value: Any, field: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else ""
    digits = re.sub(r"\D", "", text)
    if not _PHONE_CHARS.fullmatch(text) or not 6 <= len(digits) <= 15:
        raise InputError("Le numéro de rappel doit être un numéro de téléphone (ex. 01 23 45 67 89).", field)
    return ("+" if text.startswith("+") else "") + digits


_UNSET: Any = object()


# -- the store --------------------------------------------------------------------------------------------------------

class Store:
    """The offline-first data layer. Usable as a context manager; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str], *, migrations: Sequence[Migration] | None = None,
                 clock: Clock | None = None, recover_in_flight: bool = True, ins_system: str | None = None,
                 key: bytes | None = None) -> None:
        """Open or create the store at `path` and bring its schema up to date.

        `key` (32 bytes, see sync.keys): the file is a SQLCipher database encrypted with it; None: plain SQLite
        (tests and tools on copies). A wrong key, a missing key for an encrypted file, or a damaged file raise
        StoreKeyError / StoreCorruptError before anything is written: never a fresh empty database in its place.

        `migrations` replaces MIGRATIONS (tests and tools); `clock` returns an aware datetime (tests);
        `recover_in_flight=False` opens without touching the outbox (read-only tools such as `sync status`);
        `ins_system` is the INS authority written in the bundles of qualified identities: None follows
        `sync.fhir.INS_SYSTEM` (production NIR unless a demo build changed it), `fhir.INS_DEMO_SYSTEM` or
        `fhir.INS_TEST_SYSTEM` for demo and training stores."""
        if ins_system is not None and ins_system not in fhir.INS_IDENTIFIER_TYPES:
            raise ValueError(f"unknown INS authority {ins_system!r}")
        self.ins_system = ins_system
        self.path = Path(path)
        self._clock = clock or utc_now
        self._lock = threading.RLock()
        self._migrations = tuple(MIGRATIONS if migrations is None else migrations)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))  # private from the first byte
        self.encrypted = key is not None
        conn = _connect(self.path, key)
        try:
            self.db = sqlite_utils.Database(conn)
            conn.execute("PRAGMA busy_timeout = 15000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise SchemaError(f"cannot enable WAL journal mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")  # a tablet losing power must not lose a closed session
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")  # purged rows are overwritten, not left in free pages
            self._migrate()
            if recover_in_flight:
                from sync import outbox
                recovered = outbox.recover_in_flight(self)
                if recovered:
                    log.info("outbox: %d in-flight entries put back to pending", recovered)
        except BaseException:
            conn.close()
            raise
        self._closed = False
        # who is acting on this store now (the signed-in staff member), written in the audit log; None: the tablet
        # itself (background sync, retention purge)
        self.actor: str | None = None

    # -- plumbing ---------------------------------------------------------------------------------------------------
    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if not getattr(self, "_closed", True):
                self._closed = True
                self.db.conn.close()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def now(self) -> dt.datetime:
        return self._clock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """BEGIN IMMEDIATE … COMMIT under the store lock; rolled back on any exception. Not re-entrant by design:
        nested calls would silently join the outer transaction."""
        with self._lock:
            if self.conn.in_transaction:
                raise StoreError("transaction already open")
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def _audit(self, action: str, subject_kind: str, subject_id: str | None = None, detail: str | None = None,
               *, staff_id: str | None = None) -> None:
        """Trace an act in the audit log, inside the transaction doing it (sync.audit)."""
        from sync import audit

        audit.append(self, action, subject_kind, subject_id, detail=detail,
                     staff_id=staff_id if staff_id is not None else self.actor)

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Apply each missing migration in its own transaction, with the version bump inside it. Foreign keys are
        switched off around a migration (they cannot change inside a transaction) so table rebuilds work, and
        checked before commit (SQLite's documented schema-change procedure)."""
        target = len(self._migrations)
        current = self.schema_version
        if current > target:
            raise SchemaError(f"store schema v{current} is newer than this app (v{target}); update the app")
        for version in range(current + 1, target + 1):
            self.conn.execute("PRAGMA foreign_keys = OFF")
            try:
                with self.transaction():
                    self._migrations[version - 1](self.db)
                    broken = self.conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise SchemaError(f"migration to v{version} broke {len(broken)} foreign keys")
                    self.conn.execute(f"PRAGMA user_version = {version}")
            except DB_ERRORS as exc:
                raise SchemaError(f"migration to v{version} failed: {exc}") from exc
            finally:
                self.conn.execute("PRAGMA foreign_keys = ON")
            log.info("store schema migrated to v%d", version)

    def _row(self, table: str, row_id: str, what: str) -> dict[str, Any]:
        rows = list(self.db.query(f"SELECT * FROM [{table}] WHERE id = ?", [row_id]))
        if not rows:
            raise NotFoundError(f"{what} inconnu(e) : {row_id}")
        return rows[0]

    # -- patients ---------------------------------------------------------------------------------------------------
    def add_patient(self, *, family_name: str, given_name: str, birth_date: str, sex: str, birth_place_insee: str,
                    identity_status: str = "PROV", ins: str | None = None, resident_id: str | None = None,
                    identity_method: str | None = None, birth_given_names: str | None = None) -> str:
        """Create a patient from the RNIV strict traits. Everything is checked before anything is written; refusals
        raise IdentityError with a message staff can act on. An identical identity is refused (no duplicates).

        `identity_method`: how the traits were collected (FR Core codes SM manual entry, CV carte Vitale, INSI
        teleservice, CB INS Datamatrix, RFID, AV Appli carte Vitale); `birth_given_names`: the full list of birth
        given names, space-separated, starting with the first one (FR Core INS profile)."""
        family = _clean_name(family_name, "family_name", "nom de naissance")
        given = _clean_name(given_name, "given_name", "premier prénom de naissance")
        birth = _clean_birth_date(birth_date, self.now().astimezone().date())
        sex_code = sex.strip().upper() if isinstance(sex, str) else None
        if sex_code not in SEXES:
            raise IdentityError("Le sexe doit être F (féminin), M (masculin) ou I (indéterminé).", "sex")
        insee = birth_place_insee.strip().upper() if isinstance(birth_place_insee, str) else ""
        if not _INSEE.fullmatch(insee):
            raise IdentityError("Le lieu de naissance doit être un code INSEE à 5 caractères (ex. 75056, 2A004, "
                                "ou 99xxx pour un pays étranger).", "birth_place_insee")
        status = identity_status.strip().upper() if isinstance(identity_status, str) else None
        if status not in IDENTITY_STATUSES:
            raise IdentityError("Le statut de l'identité doit être PROV, RECUP, VALI ou QUAL.", "identity_status")
        ins_value = _clean_ins(ins, status)
        if resident_id is not None and not isinstance(resident_id, str):
            raise IdentityError("Le numéro de résident doit être un texte.", "resident_id")
        resident = (resident_id.strip() or None) if resident_id is not None else None
        method = None
        if identity_method is not None and not (isinstance(identity_method, str) and not identity_method.strip()):
            method = identity_method.strip().upper() if isinstance(identity_method, str) else None
            if method not in IDENTITY_METHODS:
                raise IdentityError("Le mode de recueil de l'identité doit être SM (saisie manuelle), CV (carte "
                                    "Vitale), INSI (téléservice INSi), CB (Datamatrix INS), RFID ou AV (appli carte "
                                    "Vitale).", "identity_method")
        birth_names = None
        if birth_given_names is not None and not (isinstance(birth_given_names, str)
                                                  and not birth_given_names.strip()):
            birth_names = _clean_name(birth_given_names, "birth_given_names", "liste des prénoms de naissance")
            if fold(birth_names).split(" ")[0] != fold(given).split(" ")[0] or \
                    not fold(birth_names).startswith(fold(given)):
                raise IdentityError("La liste des prénoms de naissance doit commencer par le premier prénom de "
                                    "naissance.", "birth_given_names")
        patient_id = str(uuid.uuid4())
        with self.transaction():
            for other in self.db.query("SELECT family_name, given_name FROM patients WHERE birth_date = ? AND sex = ? "
                                       "AND birth_place_insee = ?", [birth, sex_code, insee]):
                if fold(other["family_name"]) == fold(family) and fold(other["given_name"]) == fold(given):
                    raise IdentityError("Cette identité existe déjà : sélectionnez le patient dans la liste.",
                                        "family_name")
            if ins_value and list(self.db.query("SELECT 1 FROM patients WHERE ins = ?", [ins_value])):
                raise IdentityError("Ce matricule INS est déjà attribué à un autre patient.", "ins")
            self.db["patients"].insert({
                "id": patient_id, "family_name": family, "given_name": given, "birth_date": birth, "sex": sex_code,
                "birth_place_insee": insee, "identity_status": status, "ins": ins_value, "resident_id": resident,
                "identity_method": method, "birth_given_names": birth_names, "created_at": iso(self.now()),
                "last_seen_at": iso(self.now()),
            })
            self._audit("create", "patient", patient_id, f"identity {status}")
        return patient_id

    def get_patient(self, patient_id: str) -> dict[str, Any]:
        with self._lock:
            return self._row("patients", patient_id, "patient")

    def find_patients(self, query: str = "") -> list[dict[str, Any]]:
        """Every word of `query` must match: a birth date prefix ('1942-03', '12/03/19') or a case- and
        accent-insensitive prefix of the family or given name (or of one of their parts, 'martin' finds
        'Dupont-Martin'). Empty query: all patients. Sorted by family name, given name, birth date."""
        with self._lock:
            patients = list(self.db.query("SELECT * FROM patients"))
        tokens = (query or "").split()

        def matches(p: dict[str, Any], token: str) -> bool:
            if re.fullmatch(r"[\d/\-]+", token):
                y, m, d = p["birth_date"].split("-")
                return p["birth_date"].startswith(token) or f"{d}/{m}/{y}".startswith(token)
            folded = fold(token)
            for name in (p["family_name"], p["given_name"]):
                name_folded = fold(name)
                if name_folded.startswith(folded):
                    return True
                if any(part.startswith(folded) for part in re.split(r"[ \-']+", name_folded)):
                    return True
            return False

        found = [p for p in patients if all(matches(p, t) for t in tokens)]
        found.sort(key=lambda p: (fold(p["family_name"]), fold(p["given_name"]), p["birth_date"], p["id"]))
        return found

    # -- staff and sites --------------------------------------------------------------------------------------------
    def add_staff(self, *, display_name: str, role: str, rpps: str | None = None, adeli: str | None = None,
                  pin_hash: str | None = None, active: bool = True, pin: str | None = None,
                  is_admin: bool = False) -> str:
        """A staff member of the site: name as shown, role, national identifier (RPPS 11 digits, or ADELI) when the
        profession has one. `pin`: their sign-in PIN, stored as a salted scrypt hash (`pin_hash`: an existing one)."""
        if pin is not None:
            pin_hash = hash_pin(pin)
        name = _text(display_name, "display_name", "le nom affiché", required=True, max_length=100)
        role_code = _choice(role, STAFF_ROLES, "role",
                            "Le rôle doit être aide_soignant, infirmier, assistant_medical, pharmacien, medecin ou "
                            "administrateur.")
        rpps_value = _rpps(rpps, "rpps")
        adeli_value = _adeli(adeli, "adeli")
        if pin_hash is not None and (not isinstance(pin_hash, str) or not pin_hash):
            raise InputError("L'empreinte du code PIN doit être un texte non vide.", "pin_hash")
        if not isinstance(active, bool):
            raise InputError("Le champ « actif » doit valoir True ou False.", "active")
        if not isinstance(is_admin, bool):
            raise InputError("Le champ « administrateur » doit valoir True ou False.", "is_admin")
        staff_id = str(uuid.uuid4())
        with self.transaction():
            if rpps_value and list(self.db.query("SELECT 1 FROM staff WHERE rpps = ?", [rpps_value])):
                raise InputError("Ce numéro RPPS est déjà attribué à un autre membre du personnel.", "rpps")
            if adeli_value and list(self.db.query("SELECT 1 FROM staff WHERE adeli = ?", [adeli_value])):
                raise InputError("Ce numéro ADELI est déjà attribué à un autre membre du personnel.", "adeli")
            self.db["staff"].insert({"id": staff_id, "display_name": name, "role": role_code, "rpps": rpps_value,
                                     "adeli": adeli_value, "pin_hash": pin_hash, "active": int(active),
                                     "is_admin": int(is_admin or role_code == "administrateur"),
                                     "created_at": iso(self.now())})
            self._audit("create", "staff", staff_id, f"role {role_code}" + (" admin" if is_admin else ""))
        return staff_id

    def get_staff(self, staff_id: str) -> dict[str, Any]:
        with self._lock:
            return self._row("staff", staff_id, "membre du personnel")

    def list_staff(self, *, active_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM staff" + (" WHERE active = 1" if active_only else "") + " ORDER BY display_name, id"
        with self._lock:
            return list(self.db.query(sql))

    def set_staff_active(self, staff_id: str, active: bool) -> None:
        """Deactivate (or reactivate) a staff member: they can no longer be chosen for a session. Their past sessions
        are untouched."""
        if not isinstance(active, bool):
            raise InputError("Le champ « actif » doit valoir True ou False.", "active")
        with self.transaction():
            self._row("staff", staff_id, "membre du personnel")
            self.conn.execute("UPDATE staff SET active = ? WHERE id = ?", [int(active), staff_id])
            self._audit("change", "staff", staff_id, "active" if active else "deactivated")

    def set_staff_admin(self, staff_id: str, is_admin: bool) -> None:
        """Grant or withdraw the right to manage the tablet."""
        if not isinstance(is_admin, bool):
            raise InputError("Le champ « administrateur » doit valoir True ou False.", "is_admin")
        with self.transaction():
            self._row("staff", staff_id, "membre du personnel")
            self.conn.execute("UPDATE staff SET is_admin = ? WHERE id = ?", [int(is_admin), staff_id])
            self._audit("change", "staff", staff_id, "admin granted" if is_admin else "admin withdrawn")

    # -- staff PINs (scrypt, lock-out) -----------------------------------------------------------------------------
    def set_pin(self, staff_id: str, pin: str) -> None:
        """Store a new PIN for this staff member as a salted scrypt hash (never the PIN); clears any lock-out."""
        digest = hash_pin(pin)
        with self.transaction():
            self._row("staff", staff_id, "membre du personnel")
            self.db["staff"].update(staff_id, {"pin_hash": digest, "pin_failures": 0, "pin_locked_until": None})
            self._audit("change", "staff", staff_id, "pin")

    def verify_pin(self, staff_id: str, pin: str) -> bool:
        """True when `pin` is this active staff member's PIN. Each wrong PIN counts; from the fifth in a row the
        member is locked for a delay that doubles each time (30 s, 1 min, 2 min… capped at 1 h): PinLockedError,
        also raised while the lock lasts, whatever the PIN. A right PIN resets the count."""
        with self.transaction():
            member = self._row("staff", staff_id, "membre du personnel")
            if not member["active"]:
                raise InputError("Ce compte est désactivé : voyez l'administrateur.", "staff_id")
            now = self.now()
            if member["pin_locked_until"] and dt.datetime.fromisoformat(member["pin_locked_until"]) > now:
                raise PinLockedError(dt.datetime.fromisoformat(member["pin_locked_until"]) - now)
            if not member["pin_hash"]:
                raise InputError("Aucun code PIN n'est défini pour ce compte : voyez l'administrateur.", "pin")
            if check_pin(pin, member["pin_hash"]):
                self.db["staff"].update(staff_id, {"pin_failures": 0, "pin_locked_until": None})
                self._audit("sign_in", "staff", staff_id, staff_id=staff_id)
                return True
            failures = member["pin_failures"] + 1
            changes: dict[str, Any] = {"pin_failures": failures}
            if failures >= PIN_ATTEMPTS:
                delay = min(PIN_LOCK_MAX_SECONDS, PIN_LOCK_FIRST_SECONDS * 2 ** (failures - PIN_ATTEMPTS))
                changes["pin_locked_until"] = iso(now + dt.timedelta(seconds=delay))
            self.db["staff"].update(staff_id, changes)
            self._audit("sign_in_refused", "staff", staff_id,
                        f"wrong pin {failures}" + (", locked" if "pin_locked_until" in changes else ""))
            return False

    def reset_pin(self, admin_id: str, staff_id: str, new_pin: str) -> None:
        """An administrator sets a new PIN for a staff member (forgotten PIN, lock-out)."""
        admin = self._active_staff(admin_id, "admin_id")
        if not admin["is_admin"]:
            raise InputError("Seul un administrateur peut réinitialiser un code PIN.", "admin_id")
        digest = hash_pin(new_pin)
        with self.transaction():
            self._row("staff", staff_id, "membre du personnel")
            self.db["staff"].update(staff_id, {"pin_hash": digest, "pin_failures": 0, "pin_locked_until": None})
            self._audit("change", "staff", staff_id, "pin reset by administrator", staff_id=admin_id)

    # -- settings of this tablet ------------------------------------------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            rows = list(self.db.query("SELECT value FROM settings WHERE key = ?", [key]))
        return rows[0]["value"] if rows else default

    def set_setting(self, key: str, value: str) -> None:
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise InputError("Réglage invalide.", "key")
        with self.transaction():
            self.conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                              "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                              [key, value, iso(self.now())])
            self._audit("change", "setting", key)

    # -- addenda ----------------------------------------------------------------------------------------------------
    def add_addendum(self, session_id: str, *, staff_id: str, text: str) -> str:
        """A later remark on a CLOSED session (the session itself never changes after close): append-only."""
        body = _text(text, "text", "le texte de l'addendum", required=True, max_length=5000)
        addendum_id = str(uuid.uuid4())
        with self.transaction():
            session = self._row("sessions", session_id, "séance")
            if session["state"] != "closed":
                raise SessionStateError("Un addendum complète une séance close ; modifiez directement la séance "
                                        "en cours.")
            author = self._active_staff(staff_id, "staff_id")
            now = iso(self.now())
            addendum = {"id": addendum_id, "session_id": session_id, "staff_id": staff_id, "text": body,
                        "created_at": now}
            self.db["addenda"].insert(addendum)
            # queued in the same transaction, as its own frozen bundle: the addendum reaches the server too
            patient = self._row("patients", session["patient_id"], "patient")
            payload = fhir.dumps_bundle(fhir.addendum_bundle(patient, session, addendum, author=author,
                                                             ins_system=self.ins_system)).decode("utf-8")
            self.db["outbox"].insert({
                "id": str(uuid.uuid4()), "session_id": session_id, "addendum_id": addendum_id,
                "idempotency_key": addendum_id, "payload": payload, "state": "pending", "attempts": 0,
                "last_error": None, "next_attempt_at": None, "created_at": now, "sent_at": None,
            })
            self._audit("change", "session", session_id, "addendum", staff_id=staff_id)
        return addendum_id

    def addenda(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query("SELECT * FROM addenda WHERE session_id = ? ORDER BY rowid", [session_id]))

    def open_sessions(self) -> list[dict[str, Any]]:
        """Sessions still open on this tablet (after a crash or a lock, to resume them)."""
        with self._lock:
            return list(self.db.query("SELECT * FROM sessions WHERE state = 'open' ORDER BY opened_at"))

    def add_site(self, *, kind: str, name: str, finess: str | None = None,
                 ars_declaration: str | None = None) -> str:
        """A place where sessions happen: an EHPAD or a pharmacy, its FINESS (9 characters, key checked) and the
        number of its teleconsultation equipment declaration to the ARS, when known."""
        kind_code = _choice(kind, SITE_KINDS, "kind", "Le type de site doit être ehpad ou pharmacie.")
        site_name = _text(name, "name", "le nom du site", required=True)
        finess_value = None
        if finess is not None and not (isinstance(finess, str) and not finess.strip()):
            finess_value = finess.replace(" ", "").upper() if isinstance(finess, str) else ""
            if not _FINESS.fullmatch(finess_value):
                raise InputError("Le numéro FINESS doit comporter 9 caractères (chiffres, 2A ou 2B pour la Corse).",
                                 "finess")
            if not finess_key_valid(finess_value):
                raise InputError("La clé du numéro FINESS est incorrecte : vérifiez la saisie.", "finess")
        declaration = _text(ars_declaration, "ars_declaration", "le numéro de déclaration ARS", max_length=64)
        site_id = str(uuid.uuid4())
        with self.transaction():
            if finess_value and list(self.db.query("SELECT 1 FROM sites WHERE finess = ?", [finess_value])):
                raise InputError("Un site avec ce numéro FINESS existe déjà.", "finess")
            self.db["sites"].insert({"id": site_id, "kind": kind_code, "name": site_name, "finess": finess_value,
                                     "ars_declaration": declaration, "created_at": iso(self.now())})
            self._audit("create", "site", site_id)
        return site_id

    def get_site(self, site_id: str) -> dict[str, Any]:
        with self._lock:
            return self._row("sites", site_id, "site")

    def list_sites(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query("SELECT * FROM sites ORDER BY name, id"))

    # -- sessions ---------------------------------------------------------------------------------------------------
    def open_session(self, patient_id: str, *, reason: str | None = None, staff: str | None = None,
                     site_id: str | None = None, staff_id: str | None = None) -> str:
        """Open a session; its idempotency key is minted here, once, and identifies the upload forever.
        `staff` is the free-text name of v1 callers; `staff_id` / `site_id` point to registered staff and sites."""
        session_id = str(uuid.uuid4())
        with self.transaction():
            self._row("patients", patient_id, "patient")
            if site_id is not None:
                self._row("sites", site_id, "site")
            if staff_id is not None:
                self._active_staff(staff_id, "staff_id")
            self.db["sessions"].insert({
                "id": session_id, "idempotency_key": str(uuid.uuid4()), "patient_id": patient_id, "state": "open",
                "opened_at": iso(self.now()), "closed_at": None, "reason": reason, "staff": staff,
                "site_id": site_id, "staff_id": staff_id,
            })
            self.conn.execute("UPDATE patients SET last_seen_at = ? WHERE id = ?", [iso(self.now()), patient_id])
            self._audit("create", "session", session_id, f"patient {patient_id}")
        return session_id

    def _active_staff(self, staff_id: Any, field: str) -> dict[str, Any]:
        if not isinstance(staff_id, str):
            raise InputError("Choisissez un membre du personnel enregistré.", field)
        row = self._row("staff", staff_id, "membre du personnel")
        if not row["active"]:
            raise InputError(f"{row['display_name']} est désactivé(e) : choisissez un membre du personnel actif.",
                             field)
        return row

    def _open_session_row(self, session_id: str, action: str) -> dict[str, Any]:
        session = self._row("sessions", session_id, "séance")
        if session["state"] != "open":
            state = "close" if session["state"] == "closed" else "abandonnée"
            raise SessionStateError(f"La séance est {state} : {action}.")
        return session

    def update_session(self, session_id: str, *, reason: Any = _UNSET, site_id: Any = _UNSET, staff_id: Any = _UNSET,
                       staff: Any = _UNSET, started_at: Any = _UNSET, ended_at: Any = _UNSET,
                       remote_doctor_name: Any = _UNSET, remote_doctor_rpps: Any = _UNSET,
                       companion_present: Any = _UNSET, interpreter_present: Any = _UNSET,
                       callback_phone: Any = _UNSET, checklist_room_closed: Any = _UNSET,
                       checklist_device_hygiene: Any = _UNSET, checklist_accessibility: Any = _UNSET
                       ) -> dict[str, Any]:
        """Set the context of an open session; only the arguments given change (None clears a field). Returns the
        updated session. `started_at` / `ended_at`: the teleconsultation call itself, as noted by staff."""
        changes: dict[str, Any] = {}
        if reason is not _UNSET:
            changes["reason"] = _text(reason, "reason", "le motif", max_length=500)
        if staff is not _UNSET:
            changes["staff"] = _text(staff, "staff", "le nom du professionnel", max_length=100)
        if started_at is not _UNSET:
            changes["started_at"] = None if started_at is None else _aware_iso_fr(started_at, "started_at",
                                                                                  "l'heure de début")
        if ended_at is not _UNSET:
            changes["ended_at"] = None if ended_at is None else _aware_iso_fr(ended_at, "ended_at", "l'heure de fin")
        if remote_doctor_name is not _UNSET:
            changes["remote_doctor_name"] = _text(remote_doctor_name, "remote_doctor_name", "le nom du médecin",
                                                  max_length=100)
        if remote_doctor_rpps is not _UNSET:
            changes["remote_doctor_rpps"] = _rpps(remote_doctor_rpps, "remote_doctor_rpps")
        if companion_present is not _UNSET:
            changes["companion_present"] = _bool_or_none(companion_present, "companion_present",
                                                         "accompagnant présent")
        if interpreter_present is not _UNSET:
            changes["interpreter_present"] = _bool_or_none(interpreter_present, "interpreter_present",
                                                           "interprète présent")
        if callback_phone is not _UNSET:
            changes["callback_phone"] = _phone(callback_phone, "callback_phone")
        for name, value, label in (("checklist_room_closed", checklist_room_closed, "pièce fermée"),
                                   ("checklist_device_hygiene", checklist_device_hygiene, "appareils désinfectés"),
                                   ("checklist_accessibility", checklist_accessibility, "accessibilité vérifiée")):
            if value is not _UNSET:
                changes[name] = _bool_or_none(value, name, label)
        with self.transaction():
            session = self._open_session_row(session_id, "elle ne peut plus être modifiée")
            if site_id is not _UNSET:
                if site_id is not None:
                    self._row("sites", site_id, "site")
                changes["site_id"] = site_id
            if staff_id is not _UNSET:
                if staff_id is not None:
                    self._active_staff(staff_id, "staff_id")
                changes["staff_id"] = staff_id
            start = changes.get("started_at", session["started_at"])
            end = changes.get("ended_at", session["ended_at"])
            if start and end and dt.datetime.fromisoformat(end) < dt.datetime.fromisoformat(start):
                raise InputError("L'heure de fin de la téléconsultation précède l'heure de début.", "ended_at")
            if changes:
                self.db["sessions"].update(session_id, changes)
                self._audit("change", "session", session_id, " ".join(sorted(changes)))
            return self._row("sessions", session_id, "séance")

    def get_session(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            return self._row("sessions", session_id, "séance")

    def measurements(self, session_id: str) -> list[dict[str, Any]]:
        """The session's measurements in the order they were stored, `status` decoded to a list."""
        with self._lock:
            rows = list(self.db.query("SELECT * FROM measurements WHERE session_id = ? ORDER BY rowid", [session_id]))
        for row in rows:
            row["status"] = json.loads(row["status"])
        return rows

    def add_measurement(self, session_id: str, *, code: str, value: str, unit: str, source: str = "bluetooth",
                        device: Mapping[str, Any] | None = None, raw: bytes | None = None,
                        status: Iterable[str] = (), measured_at: str | dt.datetime | None = None,
                        received_at: str | dt.datetime | None = None, panel_id: str | None = None) -> str:
        """Store one reading exactly as read. Refuses floats, unknown codes or units (the bundle could not be built),
        naive time stamps, and sessions that are not open.

        Blood pressure (systolic 8480-6, diastolic 8462-4, mean 8478-0) is stored one value per row, the rows of
        one cuff reading sharing a `panel_id` (any text chosen by the caller, unique within the session): they
        become one FHIR blood pressure panel. A panel holds each code at most once, in one unit."""
        kind = fhir.OBSERVATION_TYPES.get(code)
        if kind is None:
            raise InputError(f"Type de mesure non pris en charge : {code!r}.", "code")
        if unit not in kind.units:
            allowed = ", ".join(kind.units)
            raise InputError(f"Unité {unit!r} non admise pour {kind.label_fr.lower()} ({code}) : {allowed}.", "unit")
        if kind.answers is not None:  # a coded value (consciousness ACVPU, supplemental oxygen)
            if value not in kind.answers:
                raise InputError(f"Valeur non admise pour {kind.label_fr.lower()} : {value!r}.", "value")
            value_text = value
        else:
            try:
                value_text = _decimal_text(value)
            except ValueError:
                raise InputError(f"La valeur doit être un nombre décimal écrit avec un point, comme '37.60' "
                                 f"(reçu : {value!r}).", "value") from None
        if source not in SOURCES:
            raise InputError("La source doit être bluetooth ou manual.", "source")
        device = dict(device or {})
        unknown = set(device) - set(DEVICE_KEYS)
        if unknown:
            raise InputError(f"Champs d'appareil inconnus : {sorted(unknown)}.", "device")
        if any(v is not None and not isinstance(v, str) for v in device.values()):
            raise InputError("Les champs de l'appareil doivent être des textes.", "device")
        if raw is not None:
            if not isinstance(raw, (bytes, bytearray, memoryview)):
                raise InputError("Les octets bruts (raw) doivent être de type bytes.", "raw")
            raw = bytes(raw)
        if isinstance(status, str):
            raise InputError("Le statut doit être une liste de textes, pas un texte.", "status")
        status_list = list(status)
        if not all(isinstance(s, str) for s in status_list):
            raise InputError("Le statut doit être une liste de textes.", "status")
        measured = _aware_iso_fr(measured_at, "measured_at", "l'heure de mesure") if measured_at is not None else None
        received = (_aware_iso_fr(received_at, "received_at", "l'heure de réception") if received_at is not None
                    else iso(self.now()))
        if kind.panel:
            if panel_id is None or not isinstance(panel_id, str) or not panel_id.strip():
                raise InputError("Une valeur de tension doit être rattachée à son relevé (panel_id commun à la "
                                 "systolique, la diastolique et la moyenne).", "panel_id")
            panel_id = panel_id.strip()
        elif panel_id is not None:
            raise InputError("Seules les valeurs de tension (systolique, diastolique, moyenne) se regroupent en "
                             "relevé (panel_id).", "panel_id")
        measurement_id = str(uuid.uuid4())
        with self.transaction():
            self._open_session_row(session_id, "aucune mesure ne peut y être ajoutée")
            if panel_id is not None:
                for other in self.db.query("SELECT code, unit FROM measurements WHERE session_id = ? AND panel_id = ?",
                                           [session_id, panel_id]):
                    if other["code"] == code:
                        raise InputError(f"Ce relevé de tension contient déjà une {kind.label_fr.lower()}.",
                                         "panel_id")
                    if other["unit"] != unit:
                        raise InputError("Les valeurs d'un même relevé de tension doivent être dans la même unité.",
                                         "unit")
            self.db["measurements"].insert({
                "id": measurement_id, "session_id": session_id, "code": code, "value": value_text, "unit": unit,
                "source": source, **{f"device_{k}": device.get(k) for k in DEVICE_KEYS}, "raw": raw,
                "status": json.dumps(status_list, ensure_ascii=False), "measured_at": measured,
                "received_at": received, "panel_id": panel_id,
            })
            self._audit("change", "session", session_id, f"measurement {code} {source}")
        return measurement_id

    # -- consent, notes, summary ------------------------------------------------------------------------------------
    def record_consent(self, session_id: str, *, decision: str, recorded_by: str, given_by: str = "patient",
                       given_by_name: str | None = None, recorded_at: str | dt.datetime | None = None) -> str:
        """Record the patient's decision after oral information (HAS 2019: consent or its refusal is recorded, with
        the time, who decided and the staff member). `given_by`: patient, legal_representative (tutelle) or
        trusted_person (personne de confiance), whose name is then required. A later record replaces the decision
        (the earlier ones are kept)."""
        decision_code = _choice(decision, CONSENT_DECISIONS, "decision",
                                "La décision doit être given (consentement donné) ou refused (refus).")
        grantor = _choice(given_by, CONSENT_GRANTORS, "given_by",
                          "Le consentement est donné par patient, legal_representative (représentant légal) ou "
                          "trusted_person (personne de confiance).")
        name = _text(given_by_name, "given_by_name", "le nom de la personne qui consent", max_length=100)
        if grantor == "patient" and name is not None:
            raise InputError("Ne renseignez le nom que si ce n'est pas le patient qui consent.", "given_by_name")
        if grantor != "patient" and name is None:
            raise InputError("Indiquez le nom du représentant légal ou de la personne de confiance.",
                             "given_by_name")
        when = (_aware_iso_fr(recorded_at, "recorded_at", "l'heure du recueil") if recorded_at is not None
                else iso(self.now()))
        consent_id = str(uuid.uuid4())
        with self.transaction():
            self._open_session_row(session_id, "le consentement ne peut plus être enregistré")
            self._active_staff(recorded_by, "recorded_by")
            self.db["consents"].insert({"id": consent_id, "session_id": session_id, "decision": decision_code,
                                        "given_by": grantor, "given_by_name": name, "recorded_at": when,
                                        "recorded_by": recorded_by})
            self._audit("change", "session", session_id, f"consent {decision_code} by {grantor}",
                        staff_id=recorded_by)
        return consent_id

    def consents(self, session_id: str) -> list[dict[str, Any]]:
        """Every decision recorded for the session, oldest first: the last one is in force."""
        with self._lock:
            return list(self.db.query("SELECT * FROM consents WHERE session_id = ? ORDER BY rowid", [session_id]))

    def consent_decision(self, session_id: str) -> str | None:
        """'given', 'refused', or None when nothing was recorded."""
        rows = self.consents(session_id)
        return rows[-1]["decision"] if rows else None

    def add_note(self, session_id: str, *, kind: str, text: str, author: str | None = None,
                 staff_id: str | None = None) -> str:
        """A remote doctor's conclusion (author defaults to the session's remote doctor) or a staff note (author
        defaults to the staff member's name)."""
        kind_code = _choice(kind, NOTE_KINDS, "kind",
                            "Le type de note doit être remote_doctor_conclusion (conclusion du médecin) ou "
                            "staff_note (note de l'équipe).")
        body = _text(text, "text", "le texte de la note", required=True, max_length=10000)
        author_text = _text(author, "author", "l'auteur", max_length=100)
        note_id = str(uuid.uuid4())
        with self.transaction():
            session = self._open_session_row(session_id, "aucune note ne peut y être ajoutée")
            if staff_id is not None:
                member = self._active_staff(staff_id, "staff_id")
                author_text = author_text or member["display_name"]
            if author_text is None and kind_code == "remote_doctor_conclusion":
                author_text = session["remote_doctor_name"]
            if author_text is None:
                raise InputError("Indiquez l'auteur de la note.", "author")
            self.db["notes"].insert({"id": note_id, "session_id": session_id, "kind": kind_code,
                                     "author": author_text, "staff_id": staff_id, "text": body,
                                     "created_at": iso(self.now())})
            self._audit("change", "session", session_id, f"note {kind_code}")
        return note_id

    def notes(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query("SELECT * FROM notes WHERE session_id = ? ORDER BY rowid", [session_id]))

    def set_summary(self, session_id: str, *, text: str, recipient_name: str | None = None,
                    recipient_rpps: str | None = None) -> str:
        """The summary for the patient's own doctor (médecin traitant). Setting it again replaces it while the
        session is open (`created_at` is the time of the current text). Returns the summary id."""
        body = _text(text, "text", "le texte de la synthèse", required=True, max_length=20000)
        name = _text(recipient_name, "recipient_name", "le nom du destinataire", max_length=100)
        rpps = _rpps(recipient_rpps, "recipient_rpps")
        with self.transaction():
            self._open_session_row(session_id, "la synthèse ne peut plus être modifiée")
            existing = list(self.db.query("SELECT id FROM summaries WHERE session_id = ?", [session_id]))
            summary_id = existing[0]["id"] if existing else str(uuid.uuid4())
            row = {"text": body, "recipient_name": name, "recipient_rpps": rpps, "created_at": iso(self.now())}
            if existing:
                self.db["summaries"].update(summary_id, row)
            else:
                self.db["summaries"].insert({"id": summary_id, "session_id": session_id, **row})
            self._audit("change", "session", session_id, "summary")
        return summary_id

    def get_summary(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM summaries WHERE session_id = ?", [session_id]))
        return rows[0] if rows else None

    # -- closing ----------------------------------------------------------------------------------------------------
    def close_session(self, session_id: str, *, require_complete: bool = False) -> str:
        """Close the session and queue its frozen bundle, in one transaction: either both happen or neither does.
        Returns the outbox entry id. Closing twice, or closing a session without measurements, is an error; so is
        an incomplete blood pressure reading. `require_complete=True` also demands a recorded consent decision and
        the summary for the patient's own doctor (the complete teleconsultation record)."""
        outbox_id = str(uuid.uuid4())
        with self.transaction():
            session = self._row("sessions", session_id, "séance")
            if session["state"] == "closed":
                raise SessionStateError("La séance est déjà close.")
            if session["state"] != "open":
                raise SessionStateError("La séance a été abandonnée : elle ne peut pas être close.")
            measurements = self.measurements(session_id)
            if not measurements:
                raise SessionStateError("La séance ne contient aucune mesure.")
            self._check_panels(measurements)
            consents = self.consents(session_id)
            summary = self.get_summary(session_id)
            if require_complete:
                if not consents:
                    raise SessionStateError("Le consentement du patient (ou son refus) n'a pas été enregistré.")
                if summary is None:
                    raise SessionStateError("La synthèse pour le médecin traitant n'a pas été rédigée.")
            now = iso(self.now())
            self.db["sessions"].update(session_id, {"state": "closed", "closed_at": now})
            session = {**session, "state": "closed", "closed_at": now}
            payload = fhir.dumps_bundle(self._bundle(session, measurements, consents, summary)).decode("utf-8")
            self.db["outbox"].insert({
                "id": outbox_id, "session_id": session_id, "idempotency_key": session["idempotency_key"],
                "payload": payload, "state": "pending", "attempts": 0, "last_error": None, "next_attempt_at": None,
                "created_at": now, "sent_at": None,
            })
            self._audit("close", "session", session_id)
        return outbox_id

    @staticmethod
    def _check_panels(measurements: Sequence[Mapping[str, Any]]) -> None:
        panels: dict[str, set[str]] = {}
        for m in measurements:
            if m.get("panel_id"):
                panels.setdefault(m["panel_id"], set()).add(m["code"])
        for codes in panels.values():
            missing = [label for code, label in ((fhir.BP_SYSTOLIC, "systolique"), (fhir.BP_DIASTOLIC, "diastolique"))
                       if code not in codes]
            if missing:
                raise SessionStateError(f"Un relevé de tension est incomplet (il manque la {' et la '.join(missing)}) "
                                        ": reprenez la mesure ou complétez-la.")

    def _bundle(self, session: Mapping[str, Any], measurements: Sequence[Mapping[str, Any]],
                consents: Sequence[Mapping[str, Any]], summary: Mapping[str, Any] | None) -> dict[str, Any]:
        """Everything the session's bundle is built from, read in the caller's transaction."""
        patient = self._row("patients", session["patient_id"], "patient")
        site = self._row("sites", session["site_id"], "site") if session.get("site_id") else None
        notes = self.notes(session["id"])
        staff_ids = {session.get("staff_id"), *(c["recorded_by"] for c in consents), *(n["staff_id"] for n in notes)}
        staff = {sid: self._row("staff", sid, "membre du personnel") for sid in sorted(s for s in staff_ids if s)}
        return fhir.session_bundle(patient, session, measurements, site=site, staff=staff, consents=consents,
                                   notes=notes, summary=summary, ins_system=self.ins_system)

    def abandon_session(self, session_id: str) -> None:
        """The session will not take place (patient refused, call impossible…): it is kept, frozen, and never
        uploaded. An open session only."""
        with self.transaction():
            self._open_session_row(session_id, "elle ne peut pas être abandonnée")
            self.db["sessions"].update(session_id, {"state": "abandoned", "closed_at": iso(self.now())})
            self._audit("abandon", "session", session_id)

    # -- sync state -------------------------------------------------------------------------------------------------
    def session_sync_state(self, session_id: str) -> str:
        """'open' while the session is open, 'abandoned' for an abandoned one (never uploaded), then the state of
        its outbox entry."""
        with self._lock:
            session = self._row("sessions", session_id, "séance")
            if session["state"] in ("open", "abandoned"):
                return session["state"]
            # the session's own bundle is its first entry (queued at close; addenda come later)
            rows = list(self.db.query("SELECT state FROM outbox WHERE session_id = ? ORDER BY rowid LIMIT 1",
                                      [session_id]))
        if not rows:  # impossible by construction (close_session is atomic); say so loudly if it happens
            raise StoreError("closed session without outbox entry")
        return rows[0]["state"]

    def outbox_counts(self) -> dict[str, int]:
        """Number of outbox entries per state; all four states always present."""
        counts = dict.fromkeys(OUTBOX_STATES, 0)
        with self._lock:
            for row in self.db.query("SELECT state, count(*) AS n FROM outbox GROUP BY state"):
                counts[row["state"]] = row["n"]
        return counts


    # -- audit trail ------------------------------------------------------------------------------------------------
    def record_view(self, subject_kind: str, subject_id: str, detail: str | None = None) -> None:
        """Trace that the acting staff member opened a patient's record or a session (reads change nothing else)."""
        with self.transaction():
            self._audit("view", subject_kind, subject_id, detail)

    def record_sign_out(self, staff_id: str, detail: str = "sign out") -> None:
        with self.transaction():
            self._audit("sign_out", "staff", staff_id, detail, staff_id=staff_id)

    def export_audit_csv(self, admin_id: str, path: str | os.PathLike[str] | None = None) -> str:
        """The audit log as CSV, for an administrator only; the export itself is traced (first, so the file shows
        it). Written to `path` (owner-only) when given; the text is returned either way."""
        from sync import audit

        admin = self._active_staff(admin_id, "admin_id")
        if not admin["is_admin"]:
            raise InputError("Seul un administrateur peut exporter le journal d'audit.", "admin_id")
        with self.transaction():
            self._audit("export", "audit_log", None, "csv", staff_id=admin_id)
        text = audit.to_csv(self, audit.rows(self))
        if path is not None:
            target = Path(path)
            fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        return text


def open_app_store(path: str | os.PathLike[str] | None = None, *, key_path: str | os.PathLike[str] | None = None,
                   **kwargs: Any) -> Store:
    """The app's store (default $RELAIS_HOME/relais.db), encrypted with the install key (sync.keys, created at first
    run, kept apart). A plain store left by a version without encryption is encrypted in place first."""
    from sync import keys
    from sync.paths import default_store_path

    path = Path(path) if path is not None else default_store_path()
    header = b""
    if path.exists():
        with open(path, "rb") as f:
            header = f.read(16)
    plain = header == _SQLITE_HEADER
    # only an encrypted database needs an existing key; a plain one (or none) may get a new key
    key = keys.load_or_create_key(Path(key_path) if key_path else None, database_exists=bool(header) and not plain)
    if plain:
        log.info("store: encrypting a plain store from an earlier version")
        encrypt_plain_store(path, key)
    return Store(path, key=key, **kwargs)


def open_store_file(path: str | os.PathLike[str], *, key_path: str | os.PathLike[str] | None = None,
                    **kwargs: Any) -> Store:
    """An existing store as it is (tools: `python -m sync status|push --db PATH`): plain when its header says so,
    otherwise decrypted with the key file (default: the install key). Never converts, never creates a key."""
    from sync import keys

    path = Path(path)
    with open(path, "rb") as f:
        header = f.read(16)
    if not header or header == _SQLITE_HEADER:
        return Store(path, **kwargs)
    return Store(path, key=keys.read_key(Path(key_path) if key_path else keys.default_key_path()), **kwargs)
