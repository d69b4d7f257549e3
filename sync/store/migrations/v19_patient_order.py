"""Schema v19: the patient list and a search by name read only the residents they show, in their order, by index,
however many residents the store holds.

- `patient_order`: for every patient not merged into another record, the key the list sorts by: the folded family
  name, the folded given name, the birth date and the id (`relais_list_key()`). The list with nothing typed is the
  first entries of the `patient_order_key` index; a search of several words or by birth date sorts the keys of the
  residents it matched without reading their rows.
- `patient_name_prefixes`: every prefix of every search token of a listed patient (sync.store.identity
  .name_prefixes, `relais_name_prefixes()`), with the patient's list key: one word typed is one range of the
  primary key, already in the list's order, read up to the length of the page (a prefix found twice in one
  patient's names is one row). About eighteen rows a resident.

Both are kept by triggers on `patients` (insert, change of the id, a name, the birth date or `merged_into`,
delete), whatever writes the row. The functions are registered by the app on every connection it opens
(sync.store.database), as `relais_name_tokens()` for v16. A migration that rebuilds `patients` must create these
triggers again (dropping a table drops its triggers).
"""
from __future__ import annotations

from sync.store.sql import Rows

_KEY = "relais_list_key({row}.family_name, {row}.given_name, {row}.birth_date, {row}.id)"
_PREFIXES = "json_each(relais_name_prefixes({row}.family_name, {row}.usual_name, {row}.given_name))"

_LIST_NEW = f"""
        INSERT OR REPLACE INTO patient_order (patient_id, sort_key) SELECT NEW.id, {_KEY.format(row='NEW')}
        WHERE NEW.merged_into IS NULL;
        INSERT OR IGNORE INTO patient_name_prefixes (prefix, sort_key)
        SELECT value, {_KEY.format(row='NEW')} FROM {_PREFIXES.format(row='NEW')} WHERE NEW.merged_into IS NULL;"""
_UNLIST_OLD = f"""
        DELETE FROM patient_order WHERE patient_id = OLD.id;
        DELETE FROM patient_name_prefixes WHERE sort_key = {_KEY.format(row='OLD')}
        AND prefix IN (SELECT value FROM {_PREFIXES.format(row='OLD')});"""

PATIENT_ORDER_TRIGGERS = f"""
    CREATE TRIGGER patients_order_insert AFTER INSERT ON patients
    BEGIN{_LIST_NEW}
    END;
    CREATE TRIGGER patients_order_update
    AFTER UPDATE OF id, family_name, usual_name, given_name, birth_date, merged_into ON patients
    BEGIN{_UNLIST_OLD}{_LIST_NEW}
    END;
    CREATE TRIGGER patients_order_delete AFTER DELETE ON patients
    BEGIN{_UNLIST_OLD}
    END;
"""

_SCHEMA_V19 = f"""
    CREATE TABLE patient_order (
        patient_id TEXT PRIMARY KEY,
        sort_key TEXT NOT NULL
    );
    CREATE INDEX patient_order_key ON patient_order(sort_key);
    CREATE TABLE patient_name_prefixes (
        prefix TEXT NOT NULL CHECK (prefix <> ''),
        sort_key TEXT NOT NULL,
        PRIMARY KEY (prefix, sort_key)
    ) WITHOUT ROWID;
    INSERT INTO patient_order (patient_id, sort_key)
        SELECT p.id, {_KEY.format(row='p')} FROM patients AS p WHERE p.merged_into IS NULL;
    INSERT OR IGNORE INTO patient_name_prefixes (prefix, sort_key)
        SELECT t.value, {_KEY.format(row='p')} FROM patients AS p, {_PREFIXES.format(row='p')} AS t
        WHERE p.merged_into IS NULL;
    {PATIENT_ORDER_TRIGGERS}
"""


def migration_19(db: Rows) -> None:
    """Schema v19: see the module's docstring."""
    db.executescript(_SCHEMA_V19)
