"""Who receives a session's report by secure mail (MSSanté): the patient's médecin traitant, remembered on the
patient for the next session, and the session's report recipients (the doctor, the patient's Mon espace santé box).

Recipients are chosen while the session is open and may be replaced or removed until it closes; after close one may
still be added (the frozen report is then sent to them too), never removed (schema v8 enforces both). Each
recipient's delivery state is read from the mail outbox: waiting until the mail server accepted the message (sent)
or refused it (refused, with the server's reply).

An MSSanté address is an e-mail address (RFC 5322 addr-spec, restricted to its common form: one "@", a domain
with a dot, no spaces); the directory (sync.delivery.annuaire) gives real ones, a typed one is checked for form only.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from sync.ids import new_id
from sync.store.database import INTEGRITY_ERRORS, Database
from sync.store.errors import InputError, SessionStateError
from sync.store.fields import TextRule, choice
from sync.store.patient_stamps import queue_resident, stamp_fields
from sync.store.sessions import open_session_row
from sync.store.trail import trace

RECIPIENT_KINDS = ("gp", "patient")
DELIVERY_STATES = ("waiting", "sent", "refused")
DOCTOR_NAME = TextRule("name", 120, "recipient.name.too_long")
_ADDRESS = re.compile(r"[^@\s<>,;()\[\]\\\"]+@[^@\s<>,;()\[\]\\\"]+\.[^@\s<>,;()\[\]\\\".]+")


def check_address(value: Any, field: str = "address") -> str:
    """The address as stored (trimmed, lower case); `recipient.address.invalid` unless it has the form
    local@domain.tld with one "@" and no spaces."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if not text:
        raise InputError("recipient.address.required", field)
    if len(text) > 254 or not _ADDRESS.fullmatch(text) or ".." in text or text.split("@")[1].startswith("."):
        raise InputError("recipient.address.invalid", field)
    return text


def check_rpps(value: Any, field: str = "rpps") -> str | None:
    """An RPPS number (11 digits) or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else ""
    if len(text) != 11 or not text.isdigit():
        raise InputError("recipient.rpps.invalid", field)
    return text


# -- the patient's médecin traitant -------------------------------------------------------------------------------
def set_patient_gp(db: Database, patient_id: str, *, name: str | None, address: str | None,
                   rpps: str | None = None) -> None:
    """Remember the patient's médecin traitant (a name and an MSSanté address, the RPPS when known), or forget
    them (every argument None: "no médecin traitant known")."""
    if name is None and address is None and rpps is None:
        values: dict[str, Any] = {"gp_name": None, "gp_rpps": None, "gp_mssante": None}
    else:
        values = {"gp_name": DOCTOR_NAME.clean(name), "gp_rpps": check_rpps(rpps),
                  "gp_mssante": check_address(address)}
        if values["gp_name"] is None:
            raise InputError("recipient.name.required", "name")
    with db.transaction():
        db.row("patients", patient_id)
        db.db["patients"].update(patient_id, values)
        stamp_fields(db, patient_id, ["gp"])
        queue_resident(db, patient_id)
        trace(db, "change", "patient", patient_id, "gp set" if values["gp_mssante"] else "gp removed")


def patient_gp(db: Database, patient_id: str) -> dict[str, Any] | None:
    """{name, rpps, address} of the remembered médecin traitant, or None."""
    row = db.row("patients", patient_id)
    if not row.get("gp_mssante"):
        return None
    return {"name": row["gp_name"], "rpps": row["gp_rpps"], "address": row["gp_mssante"]}


# -- a session's report recipients --------------------------------------------------------------------------------
def _recipient_row(db: Database, session_id: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": new_id(), "session_id": session_id,
            "kind": choice(entry.get("kind"), RECIPIENT_KINDS, "kind", "recipient.kind.invalid"),
            "address": check_address(entry.get("address")), "name": DOCTOR_NAME.clean(entry.get("name")),
            "rpps": check_rpps(entry.get("rpps")), "created_at": db.stamp()}


def _insert(db: Database, row: dict[str, Any]) -> None:
    try:
        db.db["report_recipients"].insert(row)
    except INTEGRITY_ERRORS:
        raise InputError("recipient.address.duplicate", "address") from None


def add_report_recipient(db: Database, session_id: str, *, kind: str, address: str, name: str | None = None,
                         rpps: str | None = None) -> str:
    """Add a recipient to the session's report: while it is open, or after close (then the frozen report goes to
    them too); never to an abandoned session."""
    row = _recipient_row(db, session_id, {"kind": kind, "address": address, "name": name, "rpps": rpps})
    with db.transaction():
        if db.row("sessions", session_id)["state"] == "abandoned":
            raise SessionStateError("session.abandoned", session_id=session_id)
        _insert(db, row)
        trace(db, "change", "session", session_id, f"report recipient added ({row['kind']})")
    return row["id"]


def set_report_recipients(db: Database, session_id: str, entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Replace the recipients of an open session with `entries` ({kind, address, name?, rpps?}) in one
    transaction: what staff chose on the summary screen, saved again if closing is tried twice."""
    rows = [_recipient_row(db, session_id, entry) for entry in entries]
    with db.transaction():
        open_session_row(db, session_id)
        db.conn.execute("DELETE FROM report_recipients WHERE session_id = ?", [session_id])
        for row in rows:
            _insert(db, row)
        trace(db, "change", "session", session_id, "report recipients: " + (
            ", ".join(row["kind"] for row in rows) or "none"))
    return [row["id"] for row in rows]


def remove_report_recipient(db: Database, recipient_id: str) -> None:
    """Remove a recipient while the session is open (`session.closed` after close: the report may be on its way)."""
    with db.transaction():
        rows = db.query("SELECT session_id FROM report_recipients WHERE id = ?", [recipient_id])
        if not rows:
            raise InputError("recipient.not_found", "recipient_id")
        open_session_row(db, rows[0]["session_id"])
        db.conn.execute("DELETE FROM report_recipients WHERE id = ?", [recipient_id])
        trace(db, "change", "session", rows[0]["session_id"], "report recipient removed")


def report_recipients(db: Database, session_id: str) -> list[dict[str, Any]]:
    """The session's recipients in the order they were chosen (the médecin traitant before the patient)."""
    return db.query("SELECT * FROM report_recipients WHERE session_id = ? ORDER BY kind = 'patient', rowid",
                    [session_id])


def recipient_states(db: Database, session_id: str) -> list[dict[str, Any]]:
    """Per recipient of the session: kind, address, name, and the delivery of the latest report version to them —
    state "waiting" (no message queued yet, or queued and not yet accepted), "sent" (accepted by the mail server,
    `sent_at`) or "refused" (`refusal`: the server's reply)."""
    rows = db.query(
        "SELECT r.id, r.kind, r.address, r.name, r.rpps, o.state AS outbox_state, o.sent_at, o.refusal, "
        "o.last_error, o.attempts FROM report_recipients AS r "
        "LEFT JOIN report_outbox AS o ON o.id = (SELECT x.id FROM report_outbox AS x "
        "  JOIN report_documents AS d ON d.id = x.document_id "
        "  WHERE x.session_id = r.session_id AND x.recipient = r.address "
        "  ORDER BY d.version DESC, x.created_at DESC LIMIT 1) "
        "WHERE r.session_id = ? ORDER BY r.kind = 'patient', r.rowid", [session_id])
    for row in rows:
        row["state"] = {"sent": "sent", "refused": "refused"}.get(row.pop("outbox_state"), "waiting")
    return rows
