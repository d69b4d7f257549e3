"""The store's schema, as an ordered list of migrations: position i upgrades a file to schema version i + 1.

Append only: a released migration is never edited, since files in the field were upgraded by it. CHECK
constraints and triggers repeat the Python validation, so no code path can store something the uploader cannot
ship, and they freeze what a closed session's bundle was built from. Tables are rebuilt (new table, copy, drop,
rename) where SQLite cannot change a constraint in place, following the SQLite documentation, "ALTER TABLE",
section 7 ("Making Other Kinds Of Table Schema Changes"); the migration runner (sync.store.database) switches
foreign keys off around each migration and checks them before commit. Versions 1 to 7 are in `early`, each later
version in a module of its own.
"""
from __future__ import annotations

from sync.store.migrations.early import (EARLY_MIGRATIONS, Migration, migration_1, migration_2, migration_3,
                                         migration_4, migration_5, migration_6, migration_7)
from sync.store.migrations.v8_delivery import migration_8
from sync.store.migrations.v9_directory import migration_9
from sync.store.migrations.v10_pull import migration_10
from sync.store.migrations.v11_residents import migration_11
from sync.store.migrations.v12_own_history import migration_12
from sync.store.migrations.v13_live import migration_13
from sync.store.migrations.v14_answers import migration_14
from sync.store.migrations.v15_guards import migration_15
from sync.store.migrations.v16_search import migration_16
from sync.store.migrations.v17_frozen_payloads import migration_17
from sync.store.migrations.v18_outbox_counts import migration_18
from sync.store.migrations.v19_patient_order import migration_19

# Append only: position i holds the migration to schema version i + 1. Never edit a released migration.
MIGRATIONS: tuple[Migration, ...] = (*EARLY_MIGRATIONS, migration_8, migration_9, migration_10, migration_11, migration_12,
                                 migration_13, migration_14, migration_15, migration_16, migration_17,
                                 migration_18, migration_19)

__all__ = ["MIGRATIONS", "Migration", "migration_1", "migration_2", "migration_3", "migration_4", "migration_5",
           "migration_6", "migration_7", "migration_8", "migration_9", "migration_10", "migration_11", "migration_12",
           "migration_13", "migration_14", "migration_15",
           "migration_16", "migration_17", "migration_18", "migration_19"]
