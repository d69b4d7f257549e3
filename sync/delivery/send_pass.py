"""One pass over the mail outbox: every due report message submitted to the MSSanté operator, each outcome written
right after the server's reply.

- One SMTP connection serves the whole pass while it works; after a failure or a dropped connection the next
  message opens a new one (sync.delivery.smtp_client).
- Each outcome is written in its own short transaction right after the reply, so a fault later in the pass never
  undoes what the server already answered. A kill between the server's 250 and that write leaves the entry
  pending: the next pass sends it again, the same bytes with the same Message-ID. That is the accepted
  at-least-once edge (SMTP gives no way to ask whether a message was already taken); the recipient's software can
  recognise the duplicate by its Message-ID (RFC 5322 §3.6.4).
- Each message is claimed before it is sent (sync.delivery.mail_outbox.claim), so the app's sync loop and a
  `python -m sync push` on the same store never submit the same message at the same time.
- Without MSSanté settings nothing is sent: the report says "not configured" and the messages wait, pending.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync.delivery import mail_outbox
from sync.delivery.freeze import queue_waiting_messages, unqueued_count
from sync.delivery.mssante_settings import MssanteSettings
from sync.delivery.smtp_client import DEFAULT_TIMEOUT, SmtpConnection, SubmitOutcome

if TYPE_CHECKING:
    from sync.store.database import Database

log = logging.getLogger(__name__)
# retry codes that no waiting cures: the settings or the operator's side must change
_FOR_THE_ADMINISTRATOR = ("mssante.tls_failed", "mssante.starttls_missing")


@dataclass(frozen=True)
class SendReport:
    """What a pass did: `sent`, `refused` and `deferred` (retried later) in this pass; `waiting`: messages still
    pending after it (due later or not sent); `not_configured`: no MSSanté settings, nothing tried; `errors`: the
    retry codes met in this pass (for the status line, e.g. `mssante.tls_failed`)."""
    sent: int = 0
    refused: int = 0
    deferred: int = 0
    waiting: int = 0
    not_configured: bool = False
    errors: tuple[str, ...] = ()


def _record(db: "Database", entry: mail_outbox.QueuedMessage, outcome: SubmitOutcome, now: dt.datetime) -> None:
    if outcome.kind == "accepted":
        mail_outbox.mark_sent(db, entry.id, now)
    elif outcome.kind == "refused":
        mail_outbox.mark_refused(db, entry.id, outcome.reply)
    else:
        mail_outbox.mark_retry(db, entry.id, outcome.error_code or "mssante.disconnected", now, **outcome.params)


def send_pending_reports(db: "Database", settings: MssanteSettings | None, *, now: dt.datetime | None = None,
                         timeout: float = DEFAULT_TIMEOUT) -> SendReport:
    """Submit every due message once (see the module's docstring). `now`: the pass's time (default: the store's
    clock), for what is due and for the back-off."""
    if settings is None:
        return SendReport(not_configured=True, waiting=mail_outbox.counts(db)["pending"] + unqueued_count(db))
    queue_waiting_messages(db)  # reports closed before secure mail was configured, recipients added later
    when = now or db.now()
    counted = {"accepted": 0, "refused": 0, "retry": 0}
    errors: list[str] = []
    blocked: SubmitOutcome | None = None
    with SmtpConnection(settings, timeout=timeout) as smtp:
        for entry in mail_outbox.due_messages(db, when):
            if not mail_outbox.claim(db, entry.id, when):  # another sender on this store has it
                continue
            # once no session can be opened, the rest of the pass waits under the same code instead of knocking
            # on the same closed door once per message
            outcome = blocked or smtp.send(entry.message, sender=settings.sender, recipients=[entry.recipient])
            blocked = outcome if outcome.no_session else None
            _record(db, entry, outcome, when)
            counted[outcome.kind] += 1
            if outcome.error_code and outcome.error_code not in errors:
                errors.append(outcome.error_code)
            # ids and codes only: the recipient's address and the message are patient data
            log.log(logging.WARNING if outcome.error_code in _FOR_THE_ADMINISTRATOR else logging.INFO,
                    "report mail %s: %s", entry.id, outcome.error_code or outcome.kind)
    return SendReport(sent=counted["accepted"], refused=counted["refused"], deferred=counted["retry"],
                      waiting=mail_outbox.counts(db)["pending"], errors=tuple(errors))
