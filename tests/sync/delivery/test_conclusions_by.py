"""The report documents say who wrote the remote doctor's conclusions: the PDF (and so the CDA's body) in words,
"Conclusions rédigées par le Dr … (RPPS …)" when they are the doctor's own (signed in their application, accepted
unchanged), "Conclusions du Dr … transcrites par <staff> (<role>)" when staff typed them; the CDA header names the
transcriber as its dataEnterer (CDA R2: who transferred content written or dictated by someone else)."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from lxml import etree

from sync import answers, closing
from sync.delivery.content import report_content
from sync.delivery.documents import build_documents
from sync.store import Store
from sync.store import conclusions as conclusion_rows
from sync.vocabulary import INS_DEMO_SYSTEM
from tests.support.clocks import SettableClock
from tests.sync.delivery.pdftext import text
from tests.sync.delivery.test_cda import NS, SCHEMA

DOCTOR = "Dr Marc Téléconsultant"
RPPS = "10000000017"
WORDS = {"conclusion": "Bronchite aiguë probable, pas de signe de gravité.", "orientation": "stay",
         "orientation_detail": "surveillance renforcée", "prescriptions": "Paracétamol 1 g si fièvre, 3 jours."}


def _open_session(store: Store) -> tuple[str, str]:
    site_id = store.add_site(kind="ehpad", name="EHPAD Les Tilleuls", finess="750712184")
    aide = store.add_staff(display_name="Aline Aide", role="aide_soignant")
    patient_id = store.add_patient(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F",
                                   birth_place_insee="75056")
    session_id = store.open_session(patient_id, reason="Toux", site_id=site_id, staff_id=aide)
    store.update_session(session_id, remote_doctor_name=DOCTOR, remote_doctor_rpps=RPPS,
                         started_at="2024-05-01T10:30:00+02:00", ended_at="2024-05-01T10:50:00+02:00")
    store.record_consent(session_id, decision="given", recorded_by=aide)
    store.add_measurement(session_id, code="8310-5", value="38.40", unit="Cel", source="manual",
                          measured_at="2024-05-01T10:15:00+02:00")
    return session_id, aide


def _documents(store: Store, session_id: str):
    closing.close_session(store, session_id)
    with store.transaction():
        content = report_content(store, session_id)
    return build_documents(content, document_id=str(uuid.uuid4()), set_id=str(uuid.uuid4()), version=1,
                           created_at="2024-05-01T10:55:00+02:00")


@pytest.fixture
def store(tmp_path):
    clock = SettableClock(dt.datetime(2024, 5, 1, 8, 55, tzinfo=dt.timezone.utc))
    with Store(tmp_path / "relais.db", clock=clock, ins_system=INS_DEMO_SYSTEM) as opened:
        yield opened


def test_the_doctors_own_conclusions(store):
    session_id, aide = _open_session(store)
    key = store.get_session(session_id)["idempotency_key"]
    with store.transaction():
        conclusion_rows.receive(store, key, {"resource_id": "ci-1", "version": "1", "doctor_name": DOCTOR,
                                             "doctor_rpps": RPPS, "written_at": "2024-05-01T10:48:00+02:00",
                                             **WORDS}, now=store.now())
    answers.accept_conclusions(store, session_id, store.waiting_conclusions(session_id)["id"], staff_id=aide)
    documents = _documents(store, session_id)
    said = text(documents.pdf)
    assert f"Conclusions rédigées par le {DOCTOR} (RPPS {RPPS})." in said
    assert WORDS["conclusion"] in said and WORDS["prescriptions"] in said and "surveillance renforcée" in said
    assert "transcrites" not in said
    doc = etree.fromstring(documents.cda)
    assert SCHEMA.validate(doc), SCHEMA.error_log
    assert doc.xpath("v3:dataEnterer", namespaces=NS) == []


def test_conclusions_transcribed_by_staff(store):
    session_id, aide = _open_session(store)
    store.add_note(session_id, kind="remote_doctor_conclusion", text=WORDS["conclusion"], author=DOCTOR,
                   staff_id=aide, written_by="staff", author_rpps=RPPS)
    documents = _documents(store, session_id)
    said = text(documents.pdf)
    assert f"Conclusions du {DOCTOR} transcrites par Aline Aide (aide-soignant(e))." in said
    assert "rédigées par" not in said
    doc = etree.fromstring(documents.cda)
    assert SCHEMA.validate(doc), SCHEMA.error_log
    [enterer] = doc.xpath("v3:dataEnterer", namespaces=NS)
    assert enterer.xpath("v3:assignedEntity/v3:assignedPerson/v3:name/text()", namespaces=NS) == ["Aline Aide"]
    # CDA R2 header order: author, then dataEnterer, then custodian
    tags = [etree.QName(child).localname for child in doc]
    assert tags.index("author") < tags.index("dataEnterer") < tags.index("custodian")
