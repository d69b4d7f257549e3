"""The report documents' tests share one store built once: a qualified patient's full session with its first
version and, after an addendum, its second; a provisional identity's session with a partial NEWS2; advice asked
without a call (a téléexpertise), with its frozen bundle. The builders are pure, so the tests only read these. The
mail tests share one real SMTP server per module, reset between tests."""
from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

import pytest

from sync import outbox
from sync.delivery.content import ReportContent, report_content
from sync.delivery.documents import ReportDocuments, build_documents
from sync.store import Store
from sync.vocabulary import INS_DEMO_SYSTEM
from tests.support.clocks import SettableClock
from tests.support.smtp import SmtpTestServer
from tests.sync.delivery.sessions import add_addendum, advice_session, full_session, partial_session

SENDER = "relais@ehpad-les-tilleuls.demo.mssante.fr"
GP_ADDRESS = "paul.generaliste@demo.mssante.fr"


@dataclass(frozen=True)
class Report:
    content: ReportContent
    documents: ReportDocuments
    created_at: str
    seconds: float  # how long build_documents took


def _build(store: Store, session_id: str, *, version: int = 1, set_id: str | None = None,
           previous_id: str | None = None, created_at: str = "2024-05-01T10:55:00+02:00") -> Report:
    with store.transaction():
        content = report_content(store, session_id)
        start = time.perf_counter()
        documents = build_documents(content, document_id=str(uuid.uuid4()), set_id=set_id or str(uuid.uuid4()),
                                    version=version, created_at=created_at, previous_id=previous_id,
                                    sender=SENDER, recipients=(GP_ADDRESS,))
        seconds = time.perf_counter() - start
    return Report(content, documents, created_at, seconds)


@pytest.fixture(scope="session")
def _built(tmp_path_factory) -> tuple[dict[str, Report], bytes]:
    clock = SettableClock(dt.datetime(2024, 5, 1, 8, 55, tzinfo=dt.timezone.utc))
    path = tmp_path_factory.mktemp("delivery") / "relais.db"
    with Store(path, clock=clock, ins_system=INS_DEMO_SYSTEM) as store:
        full = full_session(store)
        first = _build(store, full)
        add_addendum(store, full)
        second = _build(store, full, version=2, set_id=first.documents.set_id,
                        previous_id=first.documents.document_id, created_at="2024-05-02T09:00:00+02:00")
        partial = _build(store, partial_session(store), created_at="2024-05-01T11:30:00+02:00")
        advice_id = advice_session(store)
        advice = _build(store, advice_id, created_at="2024-05-01T12:00:00+02:00")
        (frozen,) = [e.payload_bytes for e in outbox.entries(store) if e.session_id == advice_id]
    return {"full": first, "addendum": second, "partial": partial, "advice": advice}, frozen


@pytest.fixture(scope="session")
def reports(_built) -> dict[str, Report]:
    return _built[0]


@pytest.fixture(scope="session")
def advice_bundle(_built) -> bytes:
    """The advice session's frozen FHIR bundle (its outbox entry's bytes)."""
    return _built[1]


@pytest.fixture(scope="module")
def smtp_server():
    """The mail tests' real SMTP server (tests.support.smtp), started once per module."""
    server = SmtpTestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_server(smtp_server):
    """The module's SMTP server, emptied and without faults, for one test."""
    smtp_server.handler.reset()
    yield smtp_server
    smtp_server.handler.reset()
