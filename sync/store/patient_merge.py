"""Merging a resident's server copy into this tablet's record, field by field.

The rules (a site's tablets edit residents offline, each edit stamped per field, sync.store.patient_stamps):
- an unknown resident is created here (`origin = 'pulled'`);
- for a known one, each field takes the value with the latest stamp, local or remote (the server's on a tie, so
  every tablet settles on the same value);
- the identity of a retrieved or qualified resident (RECUP / QUAL) is never lowered or changed by a pull, while a
  qualification made elsewhere (a higher RECUP / QUAL status with its INS and traits) is taken whatever the stamps;
- every field a pull changes is written in the audit trail (the field names and the server version, no values);
- when this tablet still holds newer fields than the server, the resident is queued to go up again, so the tablets
  converge;
- a server copy linked `replaced-by` another resident (an administrator merged them elsewhere) is marked merged
  here too;
- a new or changed resident that is probably the same person as another one is recorded as a probable duplicate
  (sync.store.duplicates) and the outcome is "duplicate".
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Iterator

from sync.store.database import Database
from sync.store.duplicates import mark_merged, record_duplicates
from sync.store.errors import InputError
from sync.store.fields import TextRule
from sync.store.identity import (clean_birth_date, clean_birth_given_names, clean_birth_place, clean_document,
                                 clean_ins, clean_method, clean_name, clean_resident_id, clean_room, clean_sex,
                                 clean_status, clean_usual_name)
from sync.store.patient_stamps import (FIELDS, LOCKED_STATUSES, STATUS_RANK, TRAIT_FIELDS, field_values,
                                       queue_resident, stamps_of)
from sync.store.trail import trace

_REQUIRED = ("family_name", "given_name", "birth_date", "sex", "birth_place_insee", "identity_status")
_IDENTITY_KEYS = (*TRAIT_FIELDS, "reliability")


@dataclass(frozen=True)
class RemoteResident:
    """A resident as the server holds it, in the store's columns: `values` (column → value, only the columns the
    server copy says something about), `stamps` (field → UTC instant), the server's version, and the merge links
    (patient ids)."""

    patient_id: str
    values: dict[str, Any]
    stamps: dict[str, str]
    version: str | None = None
    replaced_by: str | None = None
    replaces: tuple[str, ...] = field(default=())


_GP_NAME = TextRule("gp_name", 120, "recipient.name.too_long")


def checked_values(values: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """The server copy's columns through the very checks a resident typed on the tablet goes through
    (sync.store.identity): IdentityError / InputError (ValueError) for anything the tablet would refuse."""
    status = clean_status(values.get("identity_status") or "PROV")
    given = clean_name(values.get("given_name"), "given_name")
    checked = {"family_name": clean_name(values.get("family_name"), "family_name"), "given_name": given,
               "birth_date": clean_birth_date(values.get("birth_date"), today), "sex": clean_sex(values.get("sex")),
               "birth_place_insee": clean_birth_place(values.get("birth_place_insee")), "identity_status": status,
               "ins": clean_ins(values.get("ins"), status), "identity_method": clean_method(values.get("identity_method")),
               "identity_document": clean_document(values.get("identity_document"), status),
               "birth_given_names": clean_birth_given_names(values.get("birth_given_names"), given),
               "usual_name": clean_usual_name(values.get("usual_name")), "room": clean_room(values.get("room")),
               "resident_id": clean_resident_id(values.get("resident_id")),
               "gp_name": _GP_NAME.clean(values.get("gp_name"))}
    return {**values, **{column: value for column, value in checked.items() if column in values}}


@contextlib.contextmanager
def _within_transaction(db: Database) -> Iterator[None]:
    """The caller's transaction when there is one (a page of the pull), else one of its own."""
    if db.conn.in_transaction:
        yield
    else:
        with db.transaction():
            yield


def merge_remote(db: Database, remote: RemoteResident, *, now: str | None = None) -> str:
    """Merge one server copy; "created", "updated", "unchanged" or "duplicate". `now`: when the pull runs (the
    store's clock by default), the creation time of a resident whose copy carries no stamps. Its values are checked
    first (`checked_values`): a copy the tablet would refuse is refused whole, nothing stored."""
    remote = RemoteResident(remote.patient_id, checked_values(remote.values, db.now().astimezone().date()),
                            remote.stamps, remote.version, remote.replaced_by, remote.replaces)
    with _within_transaction(db):
        rows = db.query("SELECT * FROM patients WHERE id = ?", [remote.patient_id])
        outcome = _create(db, remote, now or db.stamp()) if not rows else _update(db, rows[0], remote)
        if _follow_links(db, remote) and outcome == "unchanged":
            outcome = "updated"
        if outcome != "unchanged" and record_duplicates(db, remote.patient_id):
            outcome = "duplicate"
    return outcome


def _create(db: Database, remote: RemoteResident, now: str) -> str:
    missing = [column for column in _REQUIRED if not remote.values.get(column)]
    if missing:
        raise InputError("pull.patient.incomplete", missing[0])
    columns = [c for key in FIELDS for c in FIELDS[key] if c in remote.values]
    created = min(remote.stamps.values(), default=now)
    row = {c: remote.values[c] for c in columns}
    row.update({"id": remote.patient_id, "created_at": created, "last_seen_at": now, "origin": "pulled",
                "field_stamps": json.dumps(remote.stamps, sort_keys=True), "server_version": remote.version})
    db.db["patients"].insert(row)
    trace(db, "create", "patient", remote.patient_id, f"pulled, server version {remote.version}")
    return "created"


def _decide(local: dict[str, Any], remote: RemoteResident) -> tuple[list[str], list[str]]:
    """(fields to take from the server, fields where this tablet keeps a value the server lacks)."""
    local_stamps = stamps_of(local)
    local_status = local["identity_status"]
    remote_status = remote.values.get("identity_status") or local_status
    qualification = remote_status in LOCKED_STATUSES and STATUS_RANK[remote_status] > STATUS_RANK[local_status]
    take, keep = [], []
    for key, columns in FIELDS.items():
        if not any(c in remote.values for c in columns):
            continue
        remote_values = tuple(remote.values.get(c) for c in columns)
        if remote_values == field_values(local, key):
            continue
        if key in _IDENTITY_KEYS and qualification:
            take.append(key)
        elif key in _IDENTITY_KEYS and local_status in LOCKED_STATUSES:
            keep.append(key)
        elif (remote.stamps.get(key) or "") >= (local_stamps.get(key) or ""):
            take.append(key)
        else:
            keep.append(key)
    return take, keep


def _update(db: Database, local: dict[str, Any], remote: RemoteResident) -> str:
    take, keep = _decide(local, remote)
    if take:
        stamps = stamps_of(local)
        values = {c: remote.values.get(c) for key in take for c in FIELDS[key]}
        for key in take:
            stamps[key] = remote.stamps.get(key) or db.stamp()
        values["field_stamps"] = json.dumps(stamps, sort_keys=True)
        values["server_version"] = remote.version
        db.db["patients"].update(local["id"], values)
        trace(db, "change", "patient", local["id"], f"pulled from server version {remote.version}: "
                                                    f"{', '.join(take)}")
    elif remote.version != local["server_version"]:
        db.conn.execute("UPDATE patients SET server_version = ? WHERE id = ?", [remote.version, local["id"]])
    if keep and not db.query("SELECT 1 FROM patient_outbox WHERE patient_id = ? AND state = 'rejected'",
                             [local["id"]]):
        queue_resident(db, local["id"])
    return "updated" if take else "unchanged"


def _follow_links(db: Database, remote: RemoteResident) -> bool:
    """Merges made on another tablet: this resident replaced by another, or others replaced by it."""
    followed = False
    pairs = [(remote.patient_id, remote.replaced_by)] if remote.replaced_by else []
    pairs += [(other, remote.patient_id) for other in remote.replaces]
    for merged_id, survivor_id in pairs:
        rows = db.query("SELECT merged_into FROM patients WHERE id = ?", [merged_id])
        if rows and rows[0]["merged_into"] is None and merged_id != survivor_id:
            mark_merged(db, merged_id, survivor_id, "merged on another tablet")
            followed = True
    return followed
