"""Advice asked without a call is a téléexpertise, and every document about it says so: the FHIR Composition, the
PDF, the CDA's title and NGAP act (TE2, one the ANS TLM-CR volet allows), the XDS metadata and the mail. A
teleconsultation keeps its own words and act code TC."""
from __future__ import annotations

import json

from lxml import etree

from sync.delivery.message import pdf_filename, subject
from sync.delivery.xdm import metadata_xml
from sync.fhir.acts import act_of
from tests.sync.delivery import pdftext

NS = {"v3": "urn:hl7-org:v3"}
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"


def _cda(report):
    return etree.fromstring(report.documents.cda)


def _service_event(report) -> str:
    return _cda(report).xpath("//v3:serviceEvent/v3:code/@code", namespaces=NS)[0]


def test_advice_without_a_call_is_a_teleexpertise_and_a_call_makes_it_a_teleconsultation():
    assert act_of({"request_kind": "teleexpertise"}).kind == "teleexpertise"
    assert act_of({"request_kind": "teleexpertise", "started_at": "2024-05-01T10:30:00+02:00"}).kind == \
        "teleconsultation"
    assert act_of({"request_kind": "teleconsultation"}).kind == "teleconsultation"
    assert act_of({}).kind == "teleconsultation"


def test_the_advice_report_is_titled_and_coded_as_a_teleexpertise(reports):
    advice = reports["advice"]
    printed = " ".join(pdftext.text(advice.documents.pdf).split())
    assert "Compte rendu de demande d'avis (téléexpertise)" in printed
    assert "Médecin requis : Dr Hélène Requise" in printed and "Avis du médecin requis" in printed
    assert "téléconsultant" not in printed
    doc = _cda(advice)
    assert doc.xpath("v3:title/text()", namespaces=NS) == ["Compte rendu de demande d'avis (téléexpertise)"]
    assert _service_event(advice) == "TE2"
    metadata = metadata_xml(advice.content, cda=advice.documents.cda, document_id="00000000-0000-4000-8000-000000000001",
                            created_at=advice.created_at)
    assert b'nodeRepresentation="TE2"' in metadata and "téléexpertise".encode() in metadata
    assert subject(advice.content).startswith("XDM/1.0/DDM+Compte rendu de téléexpertise AVIS Marthe")
    assert "_CR téléexpertise_AVIS_" in pdf_filename(advice.content)


def test_the_advice_composition_names_the_act_and_the_doctor_asked(advice_bundle):
    bundle = json.loads(advice_bundle)
    (composition,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Composition"]
    assert composition["title"] == "Compte rendu de demande d'avis (téléexpertise)"
    text = json.dumps(composition, ensure_ascii=False)
    assert "Médecin requis : Dr Hélène Requise" in text and "Avis du médecin requis" in text
    assert "téléconsultant" not in text


def test_a_teleconsultation_keeps_its_title_and_act_code(reports):
    full = reports["full"]
    assert _service_event(full) == "TC"
    assert "Compte rendu de téléconsultation assistée" in " ".join(pdftext.text(full.documents.pdf).split())
    assert subject(full.content).startswith("XDM/1.0/DDM+Compte rendu de téléconsultation ")
