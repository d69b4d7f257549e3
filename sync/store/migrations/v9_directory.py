"""Schema v9: a local copy of the public Annuaire Santé MSSanté extraction, so staff find the médecin traitant's
secure mail address offline (a tablet in an EHPAD or a pharmacy cabin often has no network).

- `mssante_directory`: one row per mailbox address (the extraction's "Adresse BAL"), people's boxes (PER, CAB) and
  organisational ones (ORG, with their organisation); `search` holds the searchable words of the row without
  accents, in upper case (sync.delivery.annuaire fills it).
- `mssante_directory_search`: an FTS5 index of `search` (external content: the text lives once, in the table), so
  a search by name, city or postal code answers in milliseconds on the ~500,000 rows of the national file
  (SQLite documentation, "SQLite FTS5 Extension", section 4.4.3 "External Content Tables").
- `directory_meta`: what copy the tablet holds (file name, import time, row count); one row at most.

The directory is public data, not patient data: it is replaced as a whole by each import and never uploaded.
"""
from __future__ import annotations

from sync.store.sql import Rows


_SCHEMA_V9 = """
    CREATE TABLE mssante_directory (
        address TEXT PRIMARY KEY CHECK (address GLOB '?*@?*.?*' AND address NOT GLOB '*[ <>,;]*'),
        bal_type TEXT NOT NULL CHECK (bal_type IN ('PER', 'CAB', 'ORG')),
        national_id TEXT,
        rpps TEXT CHECK (rpps IS NULL OR (length(rpps) = 11 AND rpps NOT GLOB '*[^0-9]*')),
        family_name TEXT,
        given_name TEXT,
        profession TEXT,
        specialty TEXT,
        organisation TEXT,
        address_lines TEXT,
        postal_code TEXT,
        city TEXT,
        search TEXT NOT NULL
    );
    CREATE INDEX mssante_directory_rpps ON mssante_directory(rpps);
    CREATE INDEX mssante_directory_national_id ON mssante_directory(national_id);
    CREATE VIRTUAL TABLE mssante_directory_search USING fts5(
        search, content = 'mssante_directory', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2');

    CREATE TABLE directory_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        file_name TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        row_count INTEGER NOT NULL CHECK (row_count >= 0)
    );
"""


def migration_9(db: Rows) -> None:
    """Schema v9: see the module's docstring."""
    db.executescript(_SCHEMA_V9)
