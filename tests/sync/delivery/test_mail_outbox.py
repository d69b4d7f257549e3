"""The mail outbox: one entry per document and recipient, queued once (a second call never replaces the frozen
bytes), the bytes and Message-ID frozen by the schema, sent and refused final, the states the screens show."""
from __future__ import annotations

import pytest

from sync.delivery import mail_outbox
from tests.sync.delivery.mail_samples import GP, PATIENT, freeze_document, queue_report, report_message
from tests.support.samples import closed_session


def test_queueing_twice_returns_the_first_entry_and_keeps_its_bytes(store):
    _, session_id, _ = closed_session(store)
    document_id = freeze_document(store, session_id)
    first_id, first = report_message(GP)
    second_id, second = report_message(GP, body="another rendering")
    entry = mail_outbox.queue_message(store, document_id=document_id, session_id=session_id, recipient_kind="gp",
                                      recipient=GP, message_id=first_id, message=first)
    again = mail_outbox.queue_message(store, document_id=document_id, session_id=session_id, recipient_kind="gp",
                                      recipient=GP, message_id=second_id, message=second)
    assert again == entry
    row = store.query("SELECT message_id, message FROM report_outbox")
    assert [(r["message_id"], bytes(r["message"])) for r in row] == [(first_id, first)]


def test_queueing_joins_the_callers_transaction(store):
    _, session_id, _ = closed_session(store)
    document_id = freeze_document(store, session_id)
    message_id, message = report_message(PATIENT)
    with pytest.raises(RuntimeError):
        with store.transaction():
            mail_outbox.queue_message(store, document_id=document_id, session_id=session_id,
                                      recipient_kind="patient", recipient=PATIENT, message_id=message_id,
                                      message=message)
            raise RuntimeError("the close failed after queueing")
    assert mail_outbox.counts(store) == {"pending": 0, "sent": 0, "refused": 0}


def test_a_message_must_carry_the_message_id_it_is_queued_under(store):
    _, session_id, _ = closed_session(store)
    document_id = freeze_document(store, session_id)
    _, message = report_message(GP)
    with pytest.raises(mail_outbox.MailOutboxError) as refused:
        mail_outbox.queue_message(store, document_id=document_id, session_id=session_id, recipient_kind="gp",
                                  recipient=GP, message_id="<other@relais.example.org>", message=message)
    assert refused.value.code == "mail.message_id.mismatch"


def test_the_frozen_message_cannot_change(store):
    entry_id, = queue_report(store, recipients=[("gp", GP)])
    with pytest.raises(Exception, match="sent as it was frozen"):
        with store.transaction():
            store.conn.execute("UPDATE report_outbox SET message = ? WHERE id = ?", [b"other", entry_id])


def test_sent_and_refused_are_final(store, clock):
    sent_id, refused_id = queue_report(store)
    mail_outbox.mark_sent(store, sent_id, clock.now)
    mail_outbox.mark_refused(store, refused_id, "550 5.1.1 Mailbox unknown")
    for entry_id in (sent_id, refused_id):
        with pytest.raises(mail_outbox.MailOutboxError) as refused:
            mail_outbox.mark_retry(store, entry_id, "mssante.unreachable", clock.now)
        assert refused.value.code == "mail.entry.not_pending"
    assert mail_outbox.due_messages(store, clock.now) == []
    assert mail_outbox.counts(store) == {"pending": 0, "sent": 1, "refused": 1}


def test_delivery_states_for_the_screens(store, clock):
    gp_id, patient_id = queue_report(store)
    session_id = store.query("SELECT session_id FROM report_outbox WHERE id = ?", [gp_id])[0]["session_id"]
    mail_outbox.mark_retry(store, patient_id, "mssante.unreachable", clock.now, stage="connect")
    mail_outbox.mark_sent(store, gp_id, clock.now)
    states = mail_outbox.delivery_states(store, session_id)
    assert [(s["recipient"], s["kind"], s["state"], s["attempts"]) for s in states] == \
        [(GP, "gp", "sent", 1), (PATIENT, "patient", "pending", 1)]
    assert states[0]["sent_at"] and states[0]["next_attempt_at"] is None
    assert states[1]["last_error"] == ("mssante.unreachable", {"stage": "connect"})
    assert states[1]["next_attempt_at"] > states[0]["sent_at"]
    traced = store.query("SELECT detail FROM audit_log WHERE subject_id = ? AND detail LIKE 'report mail%'",
                         [session_id])
    assert [row["detail"] for row in traced] == ["report mail sent (gp)"]  # no address in the trail


def test_a_claimed_message_is_left_to_its_sender_until_the_lease_ends(store, clock):
    entry_id, = queue_report(store, recipients=[("gp", GP)])
    assert mail_outbox.claim(store, entry_id, clock.now)
    assert not mail_outbox.claim(store, entry_id, clock.now)  # the other sender on this store skips it
    assert mail_outbox.due_messages(store, clock.now) == []
    clock.advance(mail_outbox.CLAIM_LEASE_SECONDS)  # its sender was killed mid-send: due again, same bytes
    assert [m.id for m in mail_outbox.due_messages(store, clock.now)] == [entry_id]
    assert mail_outbox.claim(store, entry_id, clock.now)
    mail_outbox.mark_sent(store, entry_id, clock.now)
    clock.advance(mail_outbox.CLAIM_LEASE_SECONDS)
    assert not mail_outbox.claim(store, entry_id, clock.now)
