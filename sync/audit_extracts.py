"""The audit trail off the tablet: extracts of the chain (sync.audit) frozen for the server and uploaded after the
sessions.

Each extract is a FHIR transaction Bundle with one DocumentReference holding the CSV of the rows (HL7 FHIR R4,
DocumentReference with an inline attachment), a conditional create on `EXTRACT_SYSTEM|<install id>/<extract no>`,
so a resent extract creates nothing. Extract n+1 starts where extract n ended, so the server holds the whole chain:
a tablet that is lost keeps no trail to itself alone, and a chain rewritten on the tablet (even consistently, by
someone holding the key) no longer matches the copy (`sync.audit.compare`).
"""
from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import uuid
from typing import TYPE_CHECKING, Any

from sync import audit, fhir

if TYPE_CHECKING:
    from sync.store.database import Database

EXTRACT_SYSTEM = f"{fhir.NS}/audit-extract"
EXTRACT_INTERVAL = dt.timedelta(minutes=10)
EXTRACT_MAX_ROWS = 1000


def _install_id(db: "Database") -> str:
    """This install's random id, made the first time (inside the caller's transaction; not an audited setting)."""
    row = db.conn.execute("SELECT value FROM settings WHERE key = 'install_id'").fetchone()
    if row:
        return row[0]
    value = uuid.uuid4().hex
    db.conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('install_id', ?, ?)",
                    [value, db.now().astimezone(dt.timezone.utc).isoformat()])
    return value


def install_id(db: "Database") -> str:
    with db.transaction():
        return _install_id(db)


def _site_tag(db: "Database") -> dict[str, str] | None:
    """The tag of the tablet's site (sync.fhir.bundle.site_tag) — the site chosen in its settings, else the only
    site it knows: a server that keeps each site's records apart files the extract under it, so only this site's
    tablets read it back."""
    row = db.conn.execute("SELECT s.id, s.finess FROM settings t JOIN sites s ON s.id = t.value "
                          "WHERE t.key = 'site_id'").fetchone()
    if row is None:
        only = db.conn.execute("SELECT id, finess FROM sites LIMIT 2").fetchall()
        row = only[0] if len(only) == 1 else None
    return fhir.site_tag({"id": row[0], "finess": row[1]}) if row else None


def _extract_bundle(identifier: str, rows: list[dict[str, Any]], data: bytes, created: str,
                    site_tag: dict[str, str] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "identifier": [{"system": EXTRACT_SYSTEM, "value": identifier}],
        "status": "current",
        "type": {"text": "Extrait du journal d'audit de la tablette"},
        "date": created,
        "description": f"Entrées {rows[0]['seq']} à {rows[-1]['seq']} ; empreinte de la dernière : "
                       f"{rows[-1]['hash']}",
        "content": [{"attachment": {
            "contentType": "text/csv; charset=utf-8", "data": base64.b64encode(data).decode("ascii"),
            "size": len(data), "hash": base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"),
            "title": f"journal-audit-{identifier.replace('/', '-')}.csv", "creation": created}}],
    }
    if site_tag:
        document["meta"] = {"tag": [site_tag]}
    return {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": f"urn:uuid:{fhir.resource_uuid(EXTRACT_SYSTEM, identifier)}", "resource": document,
        "request": {"method": "POST", "url": "DocumentReference",
                    "ifNoneExist": fhir.if_none_exist(EXTRACT_SYSTEM, identifier)}}]}


def freeze_extract(db: "Database", *, force: bool = False, now: dt.datetime | None = None) -> int | None:
    """Freeze the rows not yet extracted into the next extract, when there are some and (`force`, or the last
    extract is older than EXTRACT_INTERVAL, or EXTRACT_MAX_ROWS are waiting). Returns its number, or None."""
    now = now or db.now()
    with db.transaction():
        last = db.conn.execute("SELECT extract_no, last_seq, created_at FROM audit_outbox "
                               "ORDER BY extract_no DESC LIMIT 1").fetchone()
        after = int(last[1]) if last else 0
        rows = list(db.db.query("SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                                [after, EXTRACT_MAX_ROWS]))
        if not rows:
            return None
        due = force or last is None or len(rows) >= EXTRACT_MAX_ROWS or \
            now - dt.datetime.fromisoformat(last[2]) >= EXTRACT_INTERVAL
        if not due:
            return None
        number = int(last[0]) + 1 if last else 1
        data = audit.to_csv(db, rows).encode("utf-8")
        created = now.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
        identifier = f"{_install_id(db)}/{number}"
        bundle = _extract_bundle(identifier, rows, data, created, _site_tag(db))
        db.conn.execute("INSERT INTO audit_outbox (id, extract_no, first_seq, last_seq, payload, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [identifier, number, rows[0]["seq"], rows[-1]["seq"],
                         fhir.dumps_bundle(bundle).decode("utf-8"), created])
    return number


def pending_extracts(db: "Database") -> list[dict[str, Any]]:
    return db.query("SELECT * FROM audit_outbox WHERE state = 'pending' ORDER BY extract_no")


def mark_extract(db: "Database", extract_id: str, *, sent: bool, error: str | None = None) -> None:
    with db.transaction():
        if sent:
            db.conn.execute("UPDATE audit_outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, "
                            "last_error = NULL WHERE id = ?",
                            [db.now().astimezone(dt.timezone.utc).isoformat(), extract_id])
        else:
            state = "rejected" if error and error.startswith("rejected") else "pending"
            db.conn.execute("UPDATE audit_outbox SET state = ?, attempts = attempts + 1, last_error = ? "
                            "WHERE id = ?", [state, error, extract_id])


def rows_of_extract(document: dict[str, Any]) -> list[dict[str, str]]:
    """The audit rows an extract (a DocumentReference as the server returns it) holds."""
    data = base64.b64decode(document["content"][0]["attachment"]["data"])
    return list(csv.DictReader(io.StringIO(data.decode("utf-8").lstrip("\ufeff"))))
