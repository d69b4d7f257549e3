"""The CDA R2 niveau 1 document: valid against the HL7 CDA R2 normative schema (vendored in tests/data), the ANS
header (LOINC 85208-7, the three templateIds, displayName on every code, the INS and its five traits, author,
custodian, legal authenticator, NGAP act, encounter), the embedded PDF, and the second version replacing the first."""
from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest
from lxml import etree

from sync.delivery.cda import report_cda
from sync.delivery.header import uuid_oid
from tests.sync.delivery.sessions import DOCTOR_RPPS, INS, NURSE_RPPS

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).resolve().parents[2] / "data" / "cda-r2-schema" /
                                         "infrastructure" / "cda" / "CDA.xsd")))
NS = {"v3": "urn:hl7-org:v3"}
CS_ELEMENTS = {"realmCode", "languageCode", "signatureCode"}  # CS data type: the schema prohibits displayName


def _doc(report):
    return etree.fromstring(report.documents.cda)


def _one(doc, path: str):
    found = doc.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    return found[0]


@pytest.mark.parametrize("name", ["full", "addendum", "partial", "advice"])
def test_every_document_is_valid_cda_r2(reports, name):
    doc = _doc(reports[name])
    assert SCHEMA.validate(doc), SCHEMA.error_log


def test_header(reports):
    report = reports["full"]
    doc = _doc(report)
    assert _one(doc, "/v3:ClinicalDocument/v3:realmCode/@code") == "FR"
    assert doc.xpath("/v3:ClinicalDocument/v3:templateId/@root", namespaces=NS) == [
        "2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1", "1.3.6.1.4.1.19376.1.2.20"]
    code = _one(doc, "/v3:ClinicalDocument/v3:code")
    assert (code.get("code"), code.get("codeSystem")) == ("85208-7", "2.16.840.1.113883.6.1")
    assert _one(doc, "/v3:ClinicalDocument/v3:confidentialityCode/@code") == "N"
    assert _one(doc, "/v3:ClinicalDocument/v3:languageCode/@code") == "fr-FR"
    assert _one(doc, "/v3:ClinicalDocument/v3:effectiveTime/@value") == "20240501105500+0200"
    assert _one(doc, "/v3:ClinicalDocument/v3:id/@root") == uuid_oid(report.documents.document_id)
    assert _one(doc, "/v3:ClinicalDocument/v3:setId/@root") == uuid_oid(report.documents.set_id)
    assert _one(doc, "/v3:ClinicalDocument/v3:versionNumber/@value") == "1"
    assert not doc.xpath("//v3:relatedDocument", namespaces=NS)


@pytest.mark.parametrize("name", ["full", "partial"])
def test_every_coded_element_has_a_display_name(reports, name):
    coded = [e for e in _doc(reports[name]).xpath("//*[@code]") if etree.QName(e).localname not in CS_ELEMENTS]
    assert len(coded) >= 8
    assert all(e.get("displayName") for e in coded), [etree.QName(e).localname for e in coded
                                                      if not e.get("displayName")]


def test_the_ins_and_its_five_traits(reports):
    role = _one(_doc(reports["full"]), "//v3:recordTarget/v3:patientRole")
    ins = _one(role, "v3:id[1]")
    assert (ins.get("root"), ins.get("extension")) == ("1.2.250.1.213.1.4.11", INS)
    assert _one(role, "v3:patient/v3:name/v3:family[@qualifier='BR']/text()") == "DÉMO"
    assert _one(role, "v3:patient/v3:name/v3:given[@qualifier='BR']/text()") == "Jeanne"
    assert _one(role, "v3:patient/v3:name/v3:given[not(@qualifier)]/text()") == "Jeanne Marie Louise"
    assert _one(role, "v3:patient/v3:birthTime/@value") == "19380402"
    assert _one(role, "v3:patient/v3:administrativeGenderCode/@code") == "F"
    assert _one(role, "v3:patient/v3:birthplace/v3:place/v3:addr/v3:county/text()") == "75056"


def test_a_provisional_identity_is_the_local_id_without_ins_traits(reports):
    report = reports["partial"]
    doc = _doc(report)
    ids = doc.xpath("//v3:patientRole/v3:id", namespaces=NS)
    assert [(i.get("root"), i.get("extension")) for i in ids] == [
        (f"{uuid_oid(report.content.site.local_id)}.1", report.content.patient.local_id)]
    assert not doc.xpath("//v3:patient/v3:name/*[@qualifier]", namespaces=NS)
    assert _one(doc, "//v3:healthCareFacility/v3:code/@code") == "SA33"


def test_author_custodian_authenticator_act_and_encounter(reports):
    doc = _doc(reports["full"])
    author = _one(doc, "//v3:author/v3:assignedAuthor")
    assert (_one(author, "v3:id/@root"), _one(author, "v3:id/@extension")) == ("1.2.250.1.71.4.2.1",
                                                                                f"8{DOCTOR_RPPS}")
    assert _one(author, "v3:code/@code") == "G15_10/SM26"
    assert _one(doc, "//v3:custodian//v3:id/@extension") == "1750712184"
    assert _one(doc, "//v3:legalAuthenticator/v3:signatureCode/@code") == "S"
    assert _one(doc, "//v3:legalAuthenticator//v3:id/@extension") == f"8{NURSE_RPPS}"
    event = _one(doc, "//v3:documentationOf/v3:serviceEvent")
    assert (_one(event, "v3:code/@code"), _one(event, "v3:code/@codeSystem")) == ("TC", "1.2.250.1.215.200.3.3")
    assert _one(event, "v3:effectiveTime/v3:low/@value") == "20240501103000+0200"
    assert _one(event, "v3:performer//v3:id/@extension") == f"8{DOCTOR_RPPS}"
    assert _one(doc, "//v3:encompassingEncounter/v3:code/@code") == "VR"
    assert _one(doc, "//v3:healthCareFacility/v3:code/@code") == "SA17"


def test_without_the_doctors_rpps_the_staff_with_one_is_the_author(reports):
    report = reports["full"]
    content = dataclasses.replace(report.content,
                                  remote_doctor=dataclasses.replace(report.content.remote_doctor, rpps=None))
    doc = etree.fromstring(report_cda(content, pdf=b"%PDF", document_id=report.documents.document_id,
                                      set_id=report.documents.set_id, version=1, created_at=report.created_at))
    assert _one(doc, "//v3:assignedAuthor/v3:id/@extension") == f"8{NURSE_RPPS}"
    assert _one(doc, "//v3:assignedAuthor/v3:code/@code") == "G15_60"


def test_without_any_rpps_the_author_id_is_unknown(reports):
    doc = _doc(reports["partial"])
    assert _one(doc, "//v3:assignedAuthor/v3:id/@nullFlavor") == "UNK"
    assert _one(doc, "//v3:assignedAuthor/v3:assignedPerson/v3:name/text()") == "Dr Anne Distante"


def test_the_pdf_is_embedded_byte_for_byte(reports):
    report = reports["full"]
    body = _one(_doc(report), "//v3:component/v3:nonXMLBody/v3:text")
    assert (body.get("mediaType"), body.get("representation")) == ("application/pdf", "B64")
    assert base64.b64decode(body.text) == report.documents.pdf


def test_the_second_version_replaces_the_first(reports):
    first, second = reports["full"].documents, reports["addendum"].documents
    doc = etree.fromstring(second.cda)
    assert _one(doc, "/v3:ClinicalDocument/v3:setId/@root") == uuid_oid(first.set_id)
    assert _one(doc, "/v3:ClinicalDocument/v3:versionNumber/@value") == "2"
    assert _one(doc, "//v3:relatedDocument/@typeCode") == "RPLC"
    assert _one(doc, "//v3:relatedDocument/v3:parentDocument/v3:id/@root") == uuid_oid(first.document_id)


def test_a_later_version_needs_the_one_it_replaces(reports):
    report = reports["full"]
    with pytest.raises(ValueError):
        report_cda(report.content, pdf=b"%PDF", document_id=report.documents.document_id,
                   set_id=report.documents.set_id, version=2, created_at=report.created_at)
