"""A session's report frozen for its recipients: at close (version 1) and after each addendum (the next version of
the same document set), in the transaction that closes the session or records the addendum.

Frozen means the exact bytes: the PDF, the CDA and the XDM archive are stored once per version and never rebuilt,
and each recipient's message is stored as the RFC 5322 bytes with their Message-ID, which every retry sends again
unchanged. A message needs the tablet's MSSanté sender address: on a tablet where secure mail is not configured
yet, the documents are frozen at close and the messages when it first is (`queue_waiting_messages`, run before
each sending pass); until then the report waits on the tablet. A session without a recipient gets no document:
its PDF copy is built from the closed (immutable) session when staff ask for it (`session_pdf`).
"""
from __future__ import annotations

import uuid
from typing import Any, Mapping

from sync.delivery.content import report_content
from sync.delivery.mail_outbox import queue_message
from sync.delivery.message import Recipient, new_message_id, report_message
from sync.delivery.renderer import renderer_of
from sync.store.database import Database
from sync.store.settings import get_setting

SENDER_SETTING = "mssante_from"


def _recipients(db: Database, session_id: str) -> list[Recipient]:
    rows = db.query("SELECT kind, address, name, rpps FROM report_recipients WHERE session_id = ? ORDER BY rowid",
                    [session_id])
    return [Recipient(kind=r["kind"], address=r["address"], name=r["name"], rpps=r["rpps"]) for r in rows]


def latest_document(db: Database, session_id: str) -> dict[str, Any] | None:
    rows = db.query("SELECT * FROM report_documents WHERE session_id = ? ORDER BY version DESC LIMIT 1",
                    [session_id])
    return rows[0] if rows else None


def freeze_report(db: Database, session_id: str, *, addendum_id: str | None = None) -> str | None:
    """Freeze the next version of the session's report and queue it for each recipient, in the caller's
    transaction. Returns the document id, or None when the session has no recipient (nothing to deliver)."""
    recipients = _recipients(db, session_id)
    if not recipients:
        return None
    previous = latest_document(db, session_id)
    if addendum_id is not None and previous is None:
        return None  # closed before its recipients were known: the addendum travels with the first version
    sender = get_setting(db, SENDER_SETTING)
    created_at = db.stamp()
    documents = renderer_of(db).documents(
        report_content(db, session_id), document_id=str(uuid.uuid4()),
        set_id=previous["set_id"] if previous else str(uuid.uuid4()),
        version=previous["version"] + 1 if previous else 1, created_at=created_at,
        previous_id=previous["id"] if previous else None, sender=sender,
        recipients=[r.address for r in recipients])
    db.db["report_documents"].insert({
        "id": documents.document_id, "session_id": session_id, "set_id": documents.set_id,
        "version": documents.version, "addendum_id": addendum_id if previous else None,
        "pdf": documents.pdf, "cda": documents.cda, "xdm": documents.xdm, "created_at": created_at})
    if sender:
        document = latest_document(db, session_id)
        for recipient in recipients:
            _queue(db, document, recipient, sender)
    return documents.document_id


def _queue(db: Database, document: Mapping[str, Any], recipient: Recipient, sender: str) -> str:
    content = report_content(db, document["session_id"])
    message_id = new_message_id(sender)
    message = report_message(content, pdf=document["pdf"], xdm=document["xdm"], sender=sender, recipient=recipient,
                             message_id=message_id, date=document["created_at"])
    return queue_message(db, document_id=document["id"], session_id=document["session_id"],
                         recipient_kind=recipient.kind, recipient=recipient.address, message_id=message_id,
                         message=message)


_UNQUEUED = (
    " FROM report_documents d JOIN report_recipients r ON r.session_id = d.session_id"
    " WHERE d.version = (SELECT max(version) FROM report_documents WHERE session_id = d.session_id)"
    " AND NOT EXISTS (SELECT 1 FROM report_outbox o WHERE o.document_id = d.id AND o.recipient = r.address)")


def unqueued_count(db: Database) -> int:
    """Reports frozen for a recipient whose message waits for the tablet's MSSanté sender address."""
    return db.query("SELECT count(*) AS n" + _UNQUEUED)[0]["n"]


def queue_waiting_messages(db: Database) -> int:
    """Freeze the message of every recipient whose report has no message yet (secure mail configured after the
    close, or a recipient added after it): the latest version of each session's report. Returns how many."""
    sender = get_setting(db, SENDER_SETTING)
    if not sender:
        return 0
    rows = db.query("SELECT d.id AS document_id, r.kind, r.address, r.name, r.rpps" + _UNQUEUED
                    + " ORDER BY d.rowid, r.rowid")
    with db.transaction():
        for row in rows:
            document = db.row("report_documents", row["document_id"])
            _queue(db, document, Recipient(kind=row["kind"], address=row["address"], name=row["name"],
                                           rpps=row["rpps"]), sender)
    return len(rows)


def session_pdf(db: Database, session_id: str) -> bytes:
    """The PDF of the session's report: the latest frozen version, else one built now from the closed session
    (whose data no longer changes), dated by its close."""
    document = latest_document(db, session_id)
    if document is not None:
        return document["pdf"]
    session = db.row("sessions", session_id)
    return renderer_of(db).pdf(report_content(db, session_id), version=1, created_at=session["closed_at"])
