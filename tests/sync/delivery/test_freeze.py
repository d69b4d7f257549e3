"""The report frozen at close and after an addendum, for the recipients chosen before the close, and delivered by
the sending pass to a real SMTP server: one message per recipient and version, the exact frozen bytes, versions of
one document set; a tablet without secure mail keeps the documents and freezes the messages when it is set up."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import zipfile

import pytest
from lxml import etree

from sync.delivery import freeze, mail_outbox
from sync.delivery.mssante_settings import load_mssante_settings, save_mssante_settings
from sync.delivery.send_pass import send_pending_reports
from sync.store import Store
from sync.vocabulary import INS_DEMO_SYSTEM
from tests.support.clocks import SettableClock
from tests.sync.delivery.sessions import add_addendum, full_session, partial_session

GP = "paul.generaliste@demo.mssante.fr"
MES = "238047505612394@patient.mssante.fr"
CDA = "{urn:hl7-org:v3}"


@pytest.fixture
def store(tmp_path):
    clock = SettableClock(dt.datetime(2024, 5, 1, 8, 55, tzinfo=dt.timezone.utc))
    with Store(tmp_path / "relais.db", clock=clock, ins_system=INS_DEMO_SYSTEM) as store:
        yield store


def _configure(store, server) -> None:
    settings = server.settings()
    save_mssante_settings(store, smtp=f"{settings.host}:{settings.port}", sender=settings.sender,
                          cert_pem=settings.cert_pem, key_pem=settings.key_pem, ca_pem=settings.ca_pem)


def _send(store):
    return send_pending_reports(store, load_mssante_settings(store), now=store.now() + dt.timedelta(hours=2))


def _cda(document) -> etree._Element:
    archive = zipfile.ZipFile(io.BytesIO(document["xdm"]))
    assert archive.read("IHE_XDM/SUBSET01/DOC0001.XML") == document["cda"]
    return etree.fromstring(document["cda"])


def test_close_freezes_the_report_and_each_recipient_gets_it_once_then_the_addendum_as_version_2(store, mail_server):
    _configure(store, mail_server)
    session_id = full_session(store, recipients=(("gp", GP), ("patient", MES)))
    (first,) = store.query("SELECT * FROM report_documents WHERE session_id = ?", [session_id])
    queued = {e["recipient"]: e for e in store.query("SELECT * FROM report_outbox WHERE document_id = ?",
                                                     [first["id"]])}
    assert set(queued) == {GP, MES} and first["version"] == 1
    assert _send(store).sent == 2 and _send(store).sent == 0
    got = {m.recipients[0]: m.content for m in mail_server.handler.messages()}
    assert set(got) == {GP, MES}
    for address, entry in queued.items():       # what left is what was frozen, byte for byte
        assert got[address].replace(b"\r\n", b"\n").rstrip() == entry["message"].replace(b"\r\n", b"\n").rstrip()
        parsed = email.message_from_bytes(got[address], policy=email.policy.default)
        assert parsed["Message-ID"].strip() == entry["message_id"]
        pdfs = [p for p in parsed.walk() if p.get_content_type() == "application/pdf"]
        assert pdfs[0].get_payload(decode=True) == first["pdf"]

    add_addendum(store, session_id)
    second = freeze.latest_document(store, session_id)
    assert (second["version"], second["set_id"]) == (2, first["set_id"]) and second["addendum_id"]
    cda = _cda(second)
    assert cda.find(f"{CDA}versionNumber").get("value") == "2"
    assert cda.find(f"{CDA}relatedDocument").get("typeCode") == "RPLC"
    assert _send(store).sent == 2
    assert len(mail_server.handler.messages()) == 4
    states = {(s["recipient"], s["state"]) for s in mail_outbox.delivery_states(store, session_id)}
    assert states == {(GP, "sent"), (MES, "sent")}


def test_without_secure_mail_the_documents_wait_and_the_messages_are_frozen_once_it_is_set_up(store, mail_server):
    session_id = full_session(store, recipients=(("gp", GP),))
    assert freeze.latest_document(store, session_id) is not None
    assert store.query("SELECT count(*) AS n FROM report_outbox")[0]["n"] == 0
    waiting = send_pending_reports(store, None)
    assert waiting.not_configured and waiting.waiting == 1 and not mail_server.handler.messages()
    _configure(store, mail_server)
    assert _send(store).sent == 1 and freeze.queue_waiting_messages(store) == 0
    assert [m.recipients for m in mail_server.handler.messages()] == [(GP,)]


def test_a_session_without_recipient_freezes_nothing_and_its_pdf_is_built_when_asked(store):
    session_id = partial_session(store)
    assert freeze.latest_document(store, session_id) is None
    pdf = freeze.session_pdf(store, session_id)
    assert pdf.startswith(b"%PDF-1.4") and pdf == freeze.session_pdf(store, session_id)
