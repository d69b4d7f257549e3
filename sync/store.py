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
"""
from __future__ import annotations

import contextlib
import datetime as dt
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

Clock = Callable[[], dt.datetime]
Migration = Callable[[sqlite_utils.Database], None]


class StoreError(Exception):
    """Base class for store errors."""


class IdentityError(StoreError, ValueError):
    """Identity traits refused; `str(exc)` is a plain-French message for staff, `field` names the trait."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(StoreError, LookupError):
    """No patient / session / outbox entry with that id."""


class SessionStateError(StoreError):
    """The session is not in a state that allows the operation (e.g. adding to, or closing, a closed session)."""


class SchemaError(StoreError):
    """The file's schema cannot be used by this version of the app (newer schema, failed migration)."""


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


# Append only: position i holds the migration to schema version i + 1. Never edit a released migration.
MIGRATIONS: tuple[Migration, ...] = (_migration_1,)


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


# -- the store --------------------------------------------------------------------------------------------------------

class Store:
    """The offline-first data layer. Usable as a context manager; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str], *, migrations: Sequence[Migration] | None = None,
                 clock: Clock | None = None, recover_in_flight: bool = True) -> None:
        """Open or create the store at `path` and bring its schema up to date.

        `migrations` replaces MIGRATIONS (tests and tools); `clock` returns an aware datetime (tests);
        `recover_in_flight=False` opens without touching the outbox (read-only tools such as `sync status`)."""
        self.path = Path(path)
        self._clock = clock or utc_now
        self._lock = threading.RLock()
        self._migrations = tuple(MIGRATIONS if migrations is None else migrations)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))  # private from the first byte
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=15)
        try:
            self.db = sqlite_utils.Database(conn)
            conn.execute("PRAGMA busy_timeout = 15000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise SchemaError(f"cannot enable WAL journal mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")  # a tablet losing power must not lose a closed session
            conn.execute("PRAGMA foreign_keys = ON")
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
            except sqlite3.Error as exc:
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
                    identity_status: str = "PROV", ins: str | None = None, resident_id: str | None = None) -> str:
        """Create a patient from the RNIV strict traits. Everything is checked before anything is written; refusals
        raise IdentityError with a message staff can act on. An identical identity is refused (no duplicates)."""
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
                "created_at": iso(self.now()),
            })
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

    # -- sessions ---------------------------------------------------------------------------------------------------
    def open_session(self, patient_id: str, *, reason: str | None = None, staff: str | None = None) -> str:
        """Open a session; its idempotency key is minted here, once, and identifies the upload forever."""
        session_id = str(uuid.uuid4())
        with self.transaction():
            self._row("patients", patient_id, "patient")
            self.db["sessions"].insert({
                "id": session_id, "idempotency_key": str(uuid.uuid4()), "patient_id": patient_id, "state": "open",
                "opened_at": iso(self.now()), "closed_at": None, "reason": reason, "staff": staff,
            })
        return session_id

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
                        received_at: str | dt.datetime | None = None) -> str:
        """Store one reading exactly as read. Refuses floats, unknown codes or units (the bundle could not be built),
        naive time stamps, and sessions that are not open."""
        kind = fhir.OBSERVATION_TYPES.get(code)
        if kind is None:
            raise ValueError(f"unsupported measurement code {code!r}")
        if unit not in kind.units:
            raise ValueError(f"unit {unit!r} is not allowed for {code}")
        value_text = _decimal_text(value)
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}")
        device = dict(device or {})
        unknown = set(device) - set(DEVICE_KEYS)
        if unknown:
            raise ValueError(f"unknown device keys: {sorted(unknown)}")
        if any(v is not None and not isinstance(v, str) for v in device.values()):
            raise ValueError("device fields must be strings")
        if raw is not None:
            if not isinstance(raw, (bytes, bytearray, memoryview)):
                raise ValueError("raw must be bytes")
            raw = bytes(raw)
        if isinstance(status, str):
            raise ValueError("status must be a list of strings, not a string")
        status_list = list(status)
        if not all(isinstance(s, str) for s in status_list):
            raise ValueError("status must be a list of strings")
        measured = _aware_iso(measured_at, "measured_at") if measured_at is not None else None
        received = _aware_iso(received_at, "received_at") if received_at is not None else iso(self.now())
        measurement_id = str(uuid.uuid4())
        with self.transaction():
            session = self._row("sessions", session_id, "séance")
            if session["state"] != "open":
                raise SessionStateError("La séance est close : aucune mesure ne peut y être ajoutée.")
            self.db["measurements"].insert({
                "id": measurement_id, "session_id": session_id, "code": code, "value": value_text, "unit": unit,
                "source": source, **{f"device_{k}": device.get(k) for k in DEVICE_KEYS}, "raw": raw,
                "status": json.dumps(status_list, ensure_ascii=False), "measured_at": measured,
                "received_at": received,
            })
        return measurement_id

    def close_session(self, session_id: str) -> str:
        """Close the session and queue its frozen bundle, in one transaction: either both happen or neither does.
        Returns the outbox entry id. Closing twice, or closing a session without measurements, is an error."""
        outbox_id = str(uuid.uuid4())
        with self.transaction():
            session = self._row("sessions", session_id, "séance")
            if session["state"] != "open":
                raise SessionStateError("La séance est déjà close.")
            measurements = self.measurements(session_id)
            if not measurements:
                raise SessionStateError("La séance ne contient aucune mesure.")
            now = iso(self.now())
            self.db["sessions"].update(session_id, {"state": "closed", "closed_at": now})
            session = {**session, "state": "closed", "closed_at": now}
            patient = self._row("patients", session["patient_id"], "patient")
            payload = fhir.dumps_bundle(fhir.session_bundle(patient, session, measurements)).decode("utf-8")
            self.db["outbox"].insert({
                "id": outbox_id, "session_id": session_id, "idempotency_key": session["idempotency_key"],
                "payload": payload, "state": "pending", "attempts": 0, "last_error": None, "next_attempt_at": None,
                "created_at": now, "sent_at": None,
            })
        return outbox_id

    # -- sync state -------------------------------------------------------------------------------------------------
    def session_sync_state(self, session_id: str) -> str:
        """'open' while the session is open, then the state of its outbox entry."""
        with self._lock:
            session = self._row("sessions", session_id, "séance")
            if session["state"] == "open":
                return "open"
            rows = list(self.db.query("SELECT state FROM outbox WHERE session_id = ?", [session_id]))
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
