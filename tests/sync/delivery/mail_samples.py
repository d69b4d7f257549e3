"""Report-like mail for the mail tests: messages built here with `email.message.EmailMessage` (the tests need a
message with a Message-ID, not the real report), a frozen document row for a closed session, and messages queued
for its recipients."""
from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid

from tests.support.samples import closed_session
from tests.support.smtp import SENDER

GP = "dr.michel.traitant@medecin.mssante.fr"
PATIENT = "279035121518989@patient.mssante.fr"  # the demo INS of the ANS example


def report_message(recipient: str, *, body: str = "Compte rendu de téléconsultation (démo)") -> tuple[str, bytes]:
    """A report-like message to `recipient`: (its Message-ID, its exact bytes with CRLF line ends)."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = SENDER
    message["To"] = recipient
    message["Subject"] = "XDM/1.0/DDM+Compte rendu de téléconsultation DEMO Jeanne 02/04/1938"
    message_id = make_msgid(domain="relais.example.org")
    message["Message-ID"] = message_id
    message.set_content(body)
    message.add_attachment(b"PK\x05\x06" + bytes(18), maintype="application", subtype="zip",
                           filename="IHE_XDM.zip")
    return message_id, message.as_bytes()


def freeze_document(store, session_id: str) -> str:
    """A frozen report document row for a closed session (the real builder is elsewhere): its id."""
    document_id = str(uuid.uuid4())
    with store.transaction():
        store.conn.execute("INSERT INTO report_documents (id, session_id, set_id, version, pdf, cda, xdm, created_at)"
                           " VALUES (?, ?, ?, 1, ?, ?, ?, ?)",
                           [document_id, session_id, str(uuid.uuid4()), b"%PDF-1.4", b"<ClinicalDocument/>",
                            b"PK", store.stamp()])
    return document_id


def queue_report(store, recipients=(("gp", GP), ("patient", PATIENT)), session_id: str | None = None) -> list[str]:
    """A closed session (unless given), its frozen document and one queued message per recipient: entry ids."""
    from sync.delivery import mail_outbox

    if session_id is None:
        known = store.query("SELECT id FROM patients LIMIT 1")
        _, session_id, _ = closed_session(store, patient_id=known[0]["id"] if known else None)
    document_id = freeze_document(store, session_id)
    ids = []
    for kind, address in recipients:
        message_id, message = report_message(address)
        ids.append(mail_outbox.queue_message(store, document_id=document_id, session_id=session_id,
                                             recipient_kind=kind, recipient=address, message_id=message_id,
                                             message=message))
    return ids
