"""The mail outbox: one entry per report document and recipient, frozen at close as the exact RFC 5322 message
bytes with their Message-ID (table `report_outbox`, schema v8).

A retry sends those same bytes with the same Message-ID, never a new message: the Message-ID is what the
recipient's software and the MSSanté acknowledgements (RFC 8098 MDN, whose Original-Message-ID echoes it) use to
recognise one message (RFC 5322 §3.6.4: a Message-ID identifies exactly one instance of a message). The schema's
triggers forbid changing the frozen message; only the delivery state moves: pending → sent (the server accepted
it) or pending → refused (a permanent 5xx reply, kept as the server's text for staff to read). A temporary failure
stays pending with a capped exponential back-off (1 min, 2, 4 … at most 1 h), jitter-free so that it is
predictable; it is separate from the FHIR outbox's back-off because a mail server and a FHIR server fail
independently.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

from sync.errors import RelaisError
from sync.outbox import error_record, read_error
from sync.store.database import iso
from sync.store.trail import trace

if TYPE_CHECKING:
    from sync.store.database import Database

MAIL_STATES = ("pending", "sent", "refused")
RECIPIENT_KINDS = ("gp", "patient")
BACKOFF_FIRST_SECONDS = 60.0
BACKOFF_CAP_SECONDS = 3600.0
CLAIM_LEASE_SECONDS = 600.0  # longer than one submission can take (each SMTP step has its own timeout)


class MailOutboxError(RelaisError, ValueError):
    """`mail.message_id.mismatch` (the bytes do not carry the given Message-ID), `mail.recipient_kind.unknown`,
    `mail.entry.not_pending` (a sent or refused entry is final), `mail.entry.not_found`."""


@dataclass(frozen=True)
class QueuedMessage:
    """One entry of the mail outbox, as the send pass needs it."""
    id: str
    session_id: str
    recipient_kind: str
    recipient: str
    message_id: str
    message: bytes
    attempts: int


@contextlib.contextmanager
def _transaction(db: "Database") -> Iterator[None]:
    """The caller's transaction when there is one (closing a session queues its messages in the transaction that
    freezes the report), else a short one of our own."""
    if db.conn.in_transaction:
        yield
    else:
        with db.transaction():
            yield


def _message_id_of(message: bytes) -> str | None:
    from email.parser import BytesHeaderParser  # here: `sync status` counts this outbox without the email package
    from email.policy import SMTP as SMTP_POLICY

    headers = BytesHeaderParser(policy=SMTP_POLICY).parsebytes(message)
    value = headers.get("Message-ID")
    return str(value).strip() if value is not None else None


def queue_message(db: "Database", *, document_id: str, session_id: str, recipient_kind: str, recipient: str,
                  message_id: str, message: bytes) -> str:
    """Queue `message` for `recipient`, pending, due now; returns the entry's id. Idempotent on (document_id,
    recipient): a second call returns the existing entry and never replaces its bytes."""
    if recipient_kind not in RECIPIENT_KINDS:
        raise MailOutboxError("mail.recipient_kind.unknown", "recipient_kind", kind=recipient_kind)
    if _message_id_of(message) != message_id:
        raise MailOutboxError("mail.message_id.mismatch", "message_id")
    with _transaction(db):
        existing = db.conn.execute("SELECT id FROM report_outbox WHERE document_id = ? AND recipient = ?",
                                   [document_id, recipient]).fetchone()
        if existing:
            return existing[0]
        entry_id = str(uuid.uuid4())
        db.conn.execute(
            "INSERT INTO report_outbox (id, document_id, session_id, recipient_kind, recipient, message_id, message,"
            " state, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
            [entry_id, document_id, session_id, recipient_kind, recipient, message_id, bytes(message), db.stamp()])
    return entry_id


def due_messages(db: "Database", now: dt.datetime | None = None) -> list[QueuedMessage]:
    """Pending entries whose back-off has passed, oldest first."""
    rows = db.query("SELECT id, session_id, recipient_kind, recipient, message_id, message, attempts "
                    "FROM report_outbox WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
                    " ORDER BY created_at, rowid", [iso(now or db.now())])
    return [QueuedMessage(**{**row, "message": bytes(row["message"])}) for row in rows]


def backoff_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: 60, 120, 240 … capped at one hour."""
    return min(BACKOFF_CAP_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, attempts - 1))


def claim(db: "Database", entry_id: str, now: dt.datetime | None = None,
          lease_seconds: float = CLAIM_LEASE_SECONDS) -> bool:
    """Take a due entry for one send attempt: its next attempt moves `lease_seconds` ahead, so another sender on
    the same store (the app's loop and `python -m sync push`) skips it meanwhile. False when it is no longer due
    (sent, refused, or claimed by the other one). A sender killed while holding it leaves it due again once the
    lease ends."""
    when = now or db.now()
    with db.transaction():
        claimed = db.conn.execute(
            "UPDATE report_outbox SET next_attempt_at = ? WHERE id = ? AND state = 'pending' "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
            [iso(when + dt.timedelta(seconds=lease_seconds)), entry_id, iso(when)]).rowcount
    return claimed == 1


def _update_pending(db: "Database", entry_id: str, sets_for: Callable[[int], dict[str, Any]],
                    trace_detail: str | None = None) -> dict[str, Any]:
    """Move a pending entry in one short transaction: `sets_for(attempts before)` gives the columns to set; the
    attempt is counted. Traced when `trace_detail` (ids and kinds, never the recipient's address)."""
    with db.transaction():
        row = db.conn.execute("SELECT session_id, state, attempts, recipient_kind FROM report_outbox WHERE id = ?",
                              [entry_id]).fetchone()
        if row is None:
            raise MailOutboxError("mail.entry.not_found", id=entry_id)
        session_id, current, attempts, kind = row
        if current != "pending":
            raise MailOutboxError("mail.entry.not_pending", id=entry_id, state=current)
        sets = sets_for(attempts)
        columns = ", ".join(f"{name} = ?" for name in sets)
        db.conn.execute(f"UPDATE report_outbox SET {columns}, attempts = attempts + 1 WHERE id = ?",
                        [*sets.values(), entry_id])
        if trace_detail:
            trace(db, "change", "session", session_id, trace_detail.format(kind=kind))
    return sets


def mark_sent(db: "Database", entry_id: str, now: dt.datetime | None = None) -> None:
    """The server accepted the message (250 after DATA): sent, for good."""
    sent_at = iso(now or db.now())
    _update_pending(db, entry_id, lambda _: {"state": "sent", "sent_at": sent_at, "next_attempt_at": None,
                                             "last_error": None}, "report mail sent ({kind})")


def mark_retry(db: "Database", entry_id: str, error_code: str, now: dt.datetime | None = None,
               **params: Any) -> dt.datetime:
    """A temporary failure: still pending, next attempt after the back-off. Returns when that is."""
    when, error = now or db.now(), error_record(error_code, **params)
    sets = _update_pending(db, entry_id, lambda attempts: {
        "next_attempt_at": iso(when + dt.timedelta(seconds=backoff_delay(attempts + 1))), "last_error": error})
    return dt.datetime.fromisoformat(sets["next_attempt_at"])


def mark_refused(db: "Database", entry_id: str, reply_text: str) -> None:
    """A permanent refusal (5xx): kept with the server's reply for staff to read; never retried."""
    refusal = reply_text or "refused"
    _update_pending(db, entry_id, lambda _: {"state": "refused", "refusal": refusal, "next_attempt_at": None},
                    "report mail refused ({kind})")


def delivery_states(db: "Database", session_id: str) -> list[dict[str, Any]]:
    """Where each report message of a session stands, for the screens: recipient, kind, state, attempts, refusal
    (the server's reply), sent_at, next_attempt_at, and the last temporary error as (code, params) or None."""
    rows = db.query("SELECT document_id, recipient, recipient_kind, state, attempts, refusal, sent_at, "
                    "next_attempt_at, last_error FROM report_outbox WHERE session_id = ? ORDER BY created_at, rowid",
                    [session_id])
    return [{"document_id": r["document_id"], "recipient": r["recipient"], "kind": r["recipient_kind"],
             "state": r["state"], "attempts": r["attempts"], "refusal": r["refusal"], "sent_at": r["sent_at"],
             "next_attempt_at": r["next_attempt_at"], "last_error": read_error(r["last_error"])} for r in rows]


def last_error(db: "Database", entry_id: str) -> tuple[str, dict[str, Any]] | None:
    """The last temporary error of an entry as (code, params)."""
    rows = db.query("SELECT last_error FROM report_outbox WHERE id = ?", [entry_id])
    return read_error(rows[0]["last_error"]) if rows else None


def counts(db: "Database") -> dict[str, int]:
    """Number of report messages per state; the three states always present."""
    found = dict.fromkeys(MAIL_STATES, 0)
    for row in db.query("SELECT state, count(*) AS n FROM report_outbox GROUP BY state"):
        found[row["state"]] = row["n"]
    return found


def refused_reports(db: "Database") -> list[dict[str, Any]]:
    """Report messages a mail server refused, for staff to act on (on the tablet's screen only, never in a log):
    whose session, when, to whom (kind and address) and the server's reply."""
    return db.query(
        "SELECT o.session_id, o.recipient_kind, o.recipient, o.refusal, s.opened_at, p.family_name, p.given_name "
        "FROM report_outbox o JOIN sessions s ON s.id = o.session_id JOIN patients p ON p.id = s.patient_id "
        "WHERE o.state = 'refused' ORDER BY s.opened_at, o.rowid")
