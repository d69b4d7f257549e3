"""The tablet's local store: patients, staff, sites, sessions with their measurements, consents and notes, on one
encrypted SQLite file, each refusal a code (sync.store.errors).

Layers, bottom up: `database` (the file, its key, connection, lock, transactions, clock and schema; the schema
itself in `migrations`), the checks of what comes in (`identity`, `fields`), the audit trail and the outbox on the
Database (sync.audit, sync.outbox), then one module per aggregate (`patients`, `staff` and `pins`, `sites`,
`sessions` and `measurements`, `consents`, `notes`, `settings`). `Store` (`facade`) puts them behind one object;
closing a session into its frozen FHIR bundle is sync.closing.
"""
from sync.store.consents import CONSENT_DECISIONS, CONSENT_GRANTORS
from sync.store.database import DB_ERRORS, INTEGRITY_ERRORS, Database, encrypt_plain_store, iso, utc_now
from sync.store.errors import (IdentityError, InputError, NotFoundError, PinLockedError, SchemaError,
                               SessionStateError, StoreCorruptError, StoreError, StoreFullError,
                               StoreKeyError)
from sync.store.facade import Store
from sync.store.identity import (IDENTITY_METHODS, IDENTITY_STATUSES, SEXES, finess_key_valid, fold, ins_key_valid,
                                 luhn_valid)
from sync.store.measurements import DEVICE_KEYS, SOURCES
from sync.store.migrations import MIGRATIONS
from sync.store.notes import NOTE_KINDS
from sync.store.opening import open_app_store, open_store_file
from sync.store.pins import (ADMIN_PIN_DIGITS, PIN_ATTEMPTS, PIN_LOCK_FIRST_SECONDS, PIN_LOCK_MAX_SECONDS, check_pin,
                             hash_pin, validate_pin)
from sync.store.sessions import SESSION_STATES
from sync.store.sites import SITE_KINDS
from sync.store.staff import STAFF_ROLES

__all__ = [
    "ADMIN_PIN_DIGITS", "CONSENT_DECISIONS", "CONSENT_GRANTORS", "DB_ERRORS", "DEVICE_KEYS", "IDENTITY_METHODS",
    "IDENTITY_STATUSES", "INTEGRITY_ERRORS", "MIGRATIONS", "NOTE_KINDS", "PIN_ATTEMPTS", "PIN_LOCK_FIRST_SECONDS",
    "PIN_LOCK_MAX_SECONDS", "SESSION_STATES", "SEXES", "SITE_KINDS", "SOURCES", "STAFF_ROLES", "Database",
    "IdentityError", "InputError", "NotFoundError", "PinLockedError", "SchemaError", "SessionStateError", "Store",
    "StoreCorruptError", "StoreFullError", "StoreError", "StoreKeyError", "check_pin", "encrypt_plain_store",
    "finess_key_valid", "fold", "hash_pin", "ins_key_valid", "iso", "luhn_valid", "open_app_store",
    "open_store_file", "utc_now", "validate_pin",
]
