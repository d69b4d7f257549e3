"""The report messages against a real SMTP server (aiosmtpd, STARTTLS and a client certificate required): exactly
one copy per recipient when nothing fails; with refused connections, dropped connections, 4xx and 5xx replies,
nothing lost, every resend the same bytes with the same Message-ID, a 5xx kept as the server's words and never
retried, a 4xx retried only after its back-off."""
from __future__ import annotations

import datetime as dt
import email
import smtplib
import socket
import ssl
import threading

import pytest
import trustme

from sync.delivery import mail_outbox
from sync.delivery.message import Recipient, new_message_id
from sync.delivery.message import report_message as real_report_message
from sync.delivery.send_pass import send_pending_reports
from sync.delivery.smtp_client import SubmitOutcome, submit
from tests.support.servers import free_port
from tests.support.smtp import SENDER, SmtpTestServer
from tests.support.samples import closed_session
from tests.sync.delivery.mail_samples import GP, PATIENT, freeze_document, queue_report, report_message


def frozen(store, entry_id: str) -> tuple[str, bytes]:
    row = store.query("SELECT message_id, message FROM report_outbox WHERE id = ?", [entry_id])[0]
    return row["message_id"], bytes(row["message"])


def state(store, entry_id: str) -> dict:
    return store.query("SELECT * FROM report_outbox WHERE id = ?", [entry_id])[0]


def message_id_of(content: bytes) -> str:
    return email.message_from_bytes(content)["Message-ID"]


def test_fault_free_exactly_one_copy_per_recipient_and_a_second_pass_sends_nothing(store, mail_server):
    ids = queue_report(store) + queue_report(store) + queue_report(store)
    report = send_pending_reports(store, mail_server.settings(), timeout=5)
    assert (report.sent, report.refused, report.deferred, report.waiting) == (6, 0, 0, 0)
    received = mail_server.handler.messages()
    assert sorted(r.content for r in received) == sorted(frozen(store, i)[1] for i in ids)  # the bytes, unchanged
    assert sorted(r.recipients for r in received) == sorted([(GP,)] * 3 + [(PATIENT,)] * 3)
    assert {r.sender for r in received} == {mail_server.settings().sender}
    assert {state(store, i)["state"] for i in ids} == {"sent"}
    again = send_pending_reports(store, mail_server.settings(), timeout=5)
    assert (again.sent, len(mail_server.handler.messages())) == (0, 6)


@pytest.mark.parametrize("fault", ["421_rcpt", "451_rcpt", "421_data", "451_data"])
def test_a_4xx_waits_for_its_backoff_then_the_same_message_goes_once(store, clock, mail_server, fault):
    entry_id, = queue_report(store, recipients=[("gp", GP)])
    mail_server.handler.inject(fault)
    report = send_pending_reports(store, mail_server.settings(), timeout=5)
    assert (report.sent, report.deferred, report.waiting) == (0, 1, 1)
    row = state(store, entry_id)
    assert row["state"] == "pending" and row["attempts"] == 1
    assert mail_outbox.last_error(store, entry_id) == ("mssante.deferred", {"reply": int(fault[:3]),
                                                                            "stage": fault[4:]})
    assert dt.datetime.fromisoformat(row["next_attempt_at"]) == clock.now + dt.timedelta(minutes=1)
    clock.advance(30)  # before the back-off: not even tried
    assert send_pending_reports(store, mail_server.settings(), timeout=5).sent == 0
    assert mail_server.handler.transactions == 1
    clock.advance(31)
    assert send_pending_reports(store, mail_server.settings(), timeout=5).sent == 1
    (copy,) = mail_server.handler.messages()
    assert copy.content == frozen(store, entry_id)[1] and message_id_of(copy.content) == frozen(store, entry_id)[0]
    assert state(store, entry_id)["state"] == "sent"


@pytest.mark.parametrize("fault", ["550_rcpt", "554_rcpt", "550_data", "554_data"])
def test_a_5xx_is_a_refusal_in_the_servers_words_never_retried(store, clock, mail_server, fault):
    refused_id, other_id = queue_report(store)
    mail_server.handler.inject(fault)
    report = send_pending_reports(store, mail_server.settings(), timeout=5)
    assert (report.sent, report.refused, report.waiting) == (1, 1, 0)
    row = state(store, refused_id)
    assert row["state"] == "refused" and row["refusal"] == {
        "550": "550 5.1.1 Mailbox unknown", "554": "554 5.7.1 Message refused by policy"}[fault[:3]]
    assert state(store, other_id)["state"] == "sent"  # the next message went on a fresh connection
    clock.advance(3 * 3600)
    assert send_pending_reports(store, mail_server.settings(), timeout=5).sent == 0
    assert [r.recipients for r in mail_server.handler.messages()] == [(PATIENT,)]
    session_id = row["session_id"]
    states = {s["kind"]: s for s in mail_outbox.delivery_states(store, session_id)}
    assert states["gp"]["state"] == "refused" and states["gp"]["refusal"].startswith(fault[:3])
    assert states["patient"]["state"] == "sent" and states["patient"]["sent_at"]


def test_dropped_before_the_data_reply_the_resend_carries_the_same_message_id(store, clock, mail_server):
    entry_id, = queue_report(store, recipients=[("gp", GP)])
    mail_server.handler.inject("drop_before_data_reply")
    report = send_pending_reports(store, mail_server.settings(), timeout=5)
    assert (report.sent, report.deferred) == (0, 1)
    assert state(store, entry_id)["state"] == "pending"
    assert mail_outbox.last_error(store, entry_id)[0] == "mssante.disconnected"
    clock.advance(61)
    assert send_pending_reports(store, mail_server.settings(), timeout=5).sent == 1
    # the documented at-least-once edge: the server got it twice, the same bytes under the same Message-ID
    first, second = mail_server.handler.messages()
    assert first.content == second.content == frozen(store, entry_id)[1]
    assert message_id_of(first.content) == message_id_of(second.content) == frozen(store, entry_id)[0]
    assert state(store, entry_id)["state"] == "sent"


def test_dropped_after_the_250_the_message_counts_as_sent_and_the_next_one_reconnects(store, mail_server):
    first_id, second_id = queue_report(store)
    mail_server.handler.inject("drop_after_data_reply")
    report = send_pending_reports(store, mail_server.settings(), timeout=5)
    assert (report.sent, report.deferred) == (2, 0)
    assert [message_id_of(r.content) for r in mail_server.handler.messages()] == \
        [frozen(store, first_id)[0], frozen(store, second_id)[0]]


def test_connection_refused_nothing_lost_then_sent_once(store, clock, mail_server):
    ids = queue_report(store) + queue_report(store)
    closed = mail_server.settings(port=free_port())
    report = send_pending_reports(store, closed, timeout=5)
    assert (report.sent, report.deferred, report.waiting, report.errors) == (0, 4, 4, ("mssante.unreachable",))
    assert all(mail_outbox.last_error(store, i)[0] == "mssante.unreachable" for i in ids)
    clock.advance(61)
    assert send_pending_reports(store, mail_server.settings(), timeout=5).sent == 4
    assert sorted(message_id_of(r.content) for r in mail_server.handler.messages()) == \
        sorted(frozen(store, i)[0] for i in ids)


def test_retries_back_off_up_to_an_hour(store, clock):
    entry_id, = queue_report(store, recipients=[("gp", GP)])
    delays = []
    for _ in range(9):
        next_at = mail_outbox.mark_retry(store, entry_id, "mssante.unreachable", clock.now)
        delays.append((next_at - clock.now).total_seconds() / 60)
        clock.now = next_at
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert state(store, entry_id)["attempts"] == 9


def test_the_server_requires_a_client_certificate(mail_server):
    """Proves the test server is the one the task asks for: a client without certificate gets nowhere."""
    context = ssl.create_default_context(cadata=mail_server.ca.cert_pem.bytes().decode())
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
        with smtplib.SMTP("localhost", mail_server.port, timeout=5) as smtp:
            smtp.starttls(context=context)
            smtp.sendmail(SENDER, [GP], report_message(GP)[1])
    assert mail_server.handler.messages() == []


def test_a_server_certificate_from_an_unknown_ca_is_not_trusted(store, mail_server):
    entry_id, = queue_report(store, recipients=[("gp", GP)])
    stranger = trustme.CA().cert_pem.bytes().decode()
    report = send_pending_reports(store, mail_server.settings(ca_pem=stranger), timeout=5)
    assert (report.sent, report.errors) == (0, ("mssante.tls_failed",))
    assert state(store, entry_id)["state"] == "pending"
    assert mail_outbox.last_error(store, entry_id)[0] == "mssante.tls_failed"
    assert mail_server.handler.messages() == []


def test_without_starttls_nothing_is_sent_in_plain_text(store):
    plain = SmtpTestServer(starttls=False).start()
    try:
        entry_id, = queue_report(store, recipients=[("gp", GP)])
        report = send_pending_reports(store, plain.settings(), timeout=5)
        assert (report.sent, report.errors) == (0, ("mssante.starttls_missing",))
        assert state(store, entry_id)["state"] == "pending"
        assert plain.handler.messages() == [] and plain.handler.transactions == 0
    finally:
        plain.stop()


def test_without_settings_nothing_is_sent_and_the_reports_wait(store, mail_server):
    queue_report(store)
    report = send_pending_reports(store, None)
    assert (report.not_configured, report.sent, report.waiting) == (True, 0, 2)
    assert mail_server.handler.messages() == []


def test_a_delivery_notification_is_asked_for_only_when_the_server_offers_it(store, mail_server, monkeypatch):
    asked: list[tuple[str, ...]] = []
    real_rcpt, real_has_extn = smtplib.SMTP.rcpt, smtplib.SMTP.has_extn

    def rcpt(smtp, recip, options=()):  # what the client asks for; aiosmtpd itself takes no RCPT parameters
        asked.append(tuple(options))
        return real_rcpt(smtp, recip, ())

    monkeypatch.setattr(smtplib.SMTP, "rcpt", rcpt)
    queue_report(store, recipients=[("gp", GP)])
    assert send_pending_reports(store, mail_server.settings(), timeout=5).sent == 1  # aiosmtpd: no DSN in EHLO
    monkeypatch.setattr(smtplib.SMTP, "has_extn", lambda smtp, name: name.lower() == "dsn" or real_has_extn(smtp, name))
    queue_report(store, recipients=[("gp", GP)])
    assert send_pending_reports(store, mail_server.settings(), timeout=5).sent == 1
    assert asked == [(), ("NOTIFY=SUCCESS,FAILURE",)]


def test_a_server_that_never_answers_times_out_and_the_message_waits(store, mail_server):
    entry_id, = queue_report(store, recipients=[("gp", GP)])
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never says a word
        report = send_pending_reports(store, mail_server.settings(port=silent.getsockname()[1]), timeout=0.5)
    assert (report.sent, report.errors) == (0, ("mssante.timeout",))
    assert state(store, entry_id)["state"] == "pending"


def test_a_server_turning_the_session_away_does_not_refuse_the_message(store, mail_server):
    """A 554 greeting (RFC 5321 §3.1: "no SMTP service here") says nothing about the report: it waits."""
    entry_id, = queue_report(store, recipients=[("gp", GP)])
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def greet_and_hang_up():
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"554 5.3.2 No service here\r\n")
        threading.Thread(target=greet_and_hang_up, daemon=True).start()
        report = send_pending_reports(store, mail_server.settings(port=listener.getsockname()[1]), timeout=5)
    assert (report.sent, report.refused) == (0, 0)
    assert state(store, entry_id)["state"] == "pending"
    assert mail_outbox.last_error(store, entry_id) == ("mssante.deferred", {"reply": 554, "stage": "connect"})


def test_submit_one_message_on_its_own_connection(mail_server):
    message_id, message = report_message(PATIENT)
    outcome = submit(mail_server.settings(), message, sender=SENDER, recipients=[PATIENT], timeout=5)
    assert outcome == SubmitOutcome.accepted()
    (copy,) = mail_server.handler.messages()
    assert (copy.sender, copy.recipients, copy.content) == (SENDER, (PATIENT,), message)


def test_a_pass_skips_a_message_another_sender_took_after_the_pass_listed_it(store, clock, mail_server, monkeypatch):
    held, free = queue_report(store)
    listed = mail_outbox.due_messages

    def due_then_taken(db, now):  # `python -m sync push` claims one right after the app's loop listed them
        entries = listed(db, now)
        assert mail_outbox.claim(db, held, now)
        return entries

    monkeypatch.setattr(mail_outbox, "due_messages", due_then_taken)
    report = send_pending_reports(store, mail_server.settings(), timeout=5)
    assert (report.sent, report.waiting) == (1, 1)
    assert [message_id_of(r.content) for r in mail_server.handler.messages()] == [frozen(store, free)[0]]


def test_the_real_report_message_arrives_byte_for_byte(store, mail_server, reports):
    """The message the report builder writes (sync.delivery.message), queued and submitted as it is."""
    report = reports["full"]
    message_id = new_message_id(SENDER)
    recipient = Recipient("gp", GP, name="Dr Michel Traitant")
    message = real_report_message(report.content, pdf=report.documents.pdf, xdm=report.documents.xdm,
                                  sender=SENDER, recipient=recipient, message_id=message_id,
                                  date=report.created_at)
    _, session_id, _ = closed_session(store)
    entry_id = mail_outbox.queue_message(store, document_id=freeze_document(store, session_id),
                                         session_id=session_id, recipient_kind="gp", recipient=GP,
                                         message_id=message_id, message=message)
    assert send_pending_reports(store, mail_server.settings(), timeout=5).sent == 1
    (copy,) = mail_server.handler.messages()
    assert copy.content == message and copy.recipients == (GP,)
    assert state(store, entry_id)["state"] == "sent"
