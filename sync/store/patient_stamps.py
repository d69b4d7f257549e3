"""When each field of a resident was last changed, and the queue of residents whose record must go up.

A resident is edited on several tablets of one site, offline. Every store function that changes a resident's field
stamps that field with the instant of the change (`stamp_fields`) and queues the resident for the server
(`queue_resident`), in the transaction making the change. Merging a server copy (sync.store.patient_merge) then
takes, field by field, the value with the latest stamp: the "last writer wins per field" rule, kept in the audit
trail. Fields that only make sense together are stamped as one: the identity's reliability (status, INS, document,
collection method, which the schema constrains together) and the médecin traitant (name, RPPS, address).
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable, Mapping

from sync.store.database import Database, iso

# stamp key → the columns of `patients` it covers
FIELDS: dict[str, tuple[str, ...]] = {
    "family_name": ("family_name",), "given_name": ("given_name",), "birth_given_names": ("birth_given_names",),
    "birth_date": ("birth_date",), "sex": ("sex",), "birth_place_insee": ("birth_place_insee",),
    "reliability": ("identity_status", "ins", "identity_document", "identity_method"),
    "usual_name": ("usual_name",), "room": ("room",), "resident_id": ("resident_id",),
    "gp": ("gp_name", "gp_rpps", "gp_mssante"),
}
# the strict identity traits (RNIV 1): never changed by a tablet once the identity is retrieved or qualified
TRAIT_FIELDS = ("family_name", "given_name", "birth_given_names", "birth_date", "sex", "birth_place_insee")
LOCKED_STATUSES = ("RECUP", "QUAL")
# RECUP and VALI are not ordered (RNIV 1): each reaches QUAL by the step the other one has
STATUS_RANK = {"PROV": 0, "RECUP": 1, "VALI": 1, "QUAL": 2}


def field_of(column: str) -> str:
    """The stamp key covering a column of `patients`."""
    return next(key for key, columns in FIELDS.items() if column in columns)


def stamps_of(row: Mapping[str, Any]) -> dict[str, str]:
    """The field stamps of a patient row (field → ISO instant, UTC)."""
    try:
        stamps = json.loads(row.get("field_stamps") or "{}")
    except ValueError:
        return {}
    return stamps if isinstance(stamps, dict) else {}


def field_values(row: Mapping[str, Any], key: str) -> tuple[Any, ...]:
    return tuple(row.get(column) for column in FIELDS[key])


def stamp_fields(db: Database, patient_id: str, keys: Iterable[str], at: str | None = None) -> None:
    """Stamp these fields of the resident as changed now (or `at`), inside the caller's transaction."""
    db.require_transaction()
    moment = at or db.stamp()
    for key in keys:
        if key not in FIELDS:
            raise KeyError(key)
        db.conn.execute("UPDATE patients SET field_stamps = json_set(field_stamps, '$.' || ?, ?) WHERE id = ?",
                        [key, moment, patient_id])


def all_fields_stamped(moment: str) -> str:
    """The `field_stamps` of a resident created at `moment`: every field set then."""
    return json.dumps(dict.fromkeys(FIELDS, moment), sort_keys=True)


def queue_resident(db: Database, patient_id: str) -> None:
    """Queue the resident's current record for the server, inside the caller's transaction: a new row, or the
    queued one with its generation raised (due at once, whatever it waited for)."""
    db.require_transaction()
    db.conn.execute(
        "INSERT INTO patient_outbox (patient_id, state, generation, queued_at) VALUES (?, 'pending', 1, ?) "
        "ON CONFLICT (patient_id) DO UPDATE SET state = 'pending', generation = generation + 1, "
        "queued_at = excluded.queued_at, next_attempt_at = NULL, last_error = NULL",
        [patient_id, db.stamp()])


def normal_instant(value: Any) -> str | None:
    """A stamp as the store compares them (`iso`: UTC, microseconds), or None when it is not an aware instant."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return iso(moment)
