"""The MSSanté message: it parses back with its subject, the MSSanté headers, the caller's Message-ID and the two
attachments byte for byte; `X-MSS-MES: FIN` only to a patient's box, a read receipt asked only of the doctor; no
clinical value in the body; CRLF line ends; the same message for the same input."""
from __future__ import annotations

import email
import email.policy

import pytest

from sync.delivery.message import Recipient, new_message_id, report_message
from tests.sync.delivery.conftest import GP_ADDRESS, SENDER
from tests.sync.delivery.sessions import INS

GP = Recipient("gp", GP_ADDRESS, name="Dr Paul Généraliste")
PATIENT = Recipient("patient", f"{INS}@patient.mssante.fr")
MESSAGE_ID = "<report-1@ehpad-les-tilleuls.demo.mssante.fr>"


def _message(report, recipient: Recipient = GP) -> bytes:
    return report_message(report.content, pdf=report.documents.pdf, xdm=report.documents.xdm, sender=SENDER,
                          recipient=recipient, message_id=MESSAGE_ID, date="2024-05-01T10:56:00+02:00")


def _parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_the_message_parses_back_with_subject_headers_and_attachments(reports):
    report = reports["full"]
    msg = _parsed(_message(report))
    assert msg["Subject"] == "XDM/1.0/DDM+Compte rendu de téléconsultation DÉMO Jeanne 02/04/1938"
    assert msg["Message-ID"] == MESSAGE_ID
    assert msg["From"] == SENDER and GP_ADDRESS in msg["To"]
    assert msg["Date"] == "Wed, 01 May 2024 10:56:00 +0200"
    assert (msg["X-MSS-CODECDA"], msg["X-MSS-INS"]) == ("85208-7", "O")
    attachments = {part.get_filename(): part.get_content() for part in msg.iter_attachments()}
    assert attachments == {"IHE_XDM.ZIP": report.documents.xdm,
                           "20240501_CR téléconsultation_DÉMO_Jeanne.pdf": report.documents.pdf}


def test_only_a_patient_box_is_told_not_to_answer(reports):
    to_patient, to_doctor = _parsed(_message(reports["full"], PATIENT)), _parsed(_message(reports["full"], GP))
    assert to_patient["X-MSS-MES"] == "FIN" and to_patient["Disposition-Notification-To"] is None
    assert to_doctor["X-MSS-MES"] is None and to_doctor["Disposition-Notification-To"] == SENDER


@pytest.mark.parametrize("recipient", [GP, PATIENT])
def test_the_body_carries_no_clinical_value(reports, recipient):
    body = _parsed(_message(reports["full"], recipient)).get_body(("plain",)).get_content()
    assert body.startswith("Bonjour")
    for clinical in ("38,40", "NEWS2", "Bronchite", "Paracétamol", "élevée"):
        assert clinical not in body


def test_a_provisional_identity_is_sent_without_ins(reports):
    assert _parsed(_message(reports["partial"]))["X-MSS-INS"] == "N"


def test_crlf_line_ends_and_the_same_bytes_for_the_same_input(reports):
    raw = _message(reports["full"])
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert _message(reports["full"]) == raw


def test_new_message_ids_are_unique_in_the_senders_domain():
    first, second = new_message_id(SENDER), new_message_id(SENDER)
    assert first != second
    assert first.startswith("<") and first.endswith("@ehpad-les-tilleuls.demo.mssante.fr>")
