"""The report as an HL7 CDA R2 "niveau 1" document: the French header of the ANS CI-SIS (volet TLM-CR, compte rendu
d'acte de télémédecine) around the PDF/A report, embedded base64 in a nonXMLBody.

Header rules followed (ansforge/TestContenuCDA-3-0: SMDS schematron `1.2.250.1.213.1.1.1.1…sch`,
`CI-SIS_TLM-CR_2022.01.sch` and the example `ExemplesCDA/TLM-CR_2022.01.xml`; ansforge/IG-document-core,
ressourcesCDA-entete.md): realmCode FR, typeId POCD_HD000040, exactly the three templateIds of a non-structured
document, LOINC 85208-7, confidentiality N, fr-FR, setId and versionNumber, the INS with the five birth traits,
author with idNatPs, dataEnterer (the staff member who typed the remote doctor's conclusions, when they were
transcribed rather than signed by the doctor in their own application), custodian, legalAuthenticator signed S, the NGAP act in documentationOf/serviceEvent, and
componentOf/encompassingEncounter. Every coded element carries its displayName.

Ids: the caller gives UUID strings (document id, set id, previous version's id); they are written as OIDs
`2.25.<the UUID as an integer>` (header.uuid_oid). A new version after an addendum keeps the setId, counts up the
versionNumber and replaces the previous one (relatedDocument typeCode RPLC).

The encounter code is HL7 v3 ActCode `VR` "virtual": "the patient and the practitioner(s) are not in the same
physical location … televideo conference" — a teleconsultation exactly, and the code of the ANS TLM-CR example
(`AMB` would say that the patient came to the doctor's practice).
"""
from __future__ import annotations

import base64
import datetime as dt

from lxml import etree

from sync.delivery import header as h
from sync.delivery.content import ReportContent

V3 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
TEMPLATE_IDS = ("2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1", "1.3.6.1.4.1.19376.1.2.20")
ACT_CODE_OID = "2.16.840.1.113883.5.4"
ENCOUNTER = ("VR", "Virtuel (téléconsultation)")
GENDER_OID = "2.16.840.1.113883.5.1"
GENDERS = {"F": ("F", "Féminin"), "M": ("M", "Masculin"), "I": ("UN", "Indéterminé")}


def cda_time(iso: str) -> str:
    """An ISO date-time with its zone as an HL7 TS: 2024-05-01T10:55:00+02:00 → 20240501105500+0200."""
    moment = dt.datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        raise ValueError("date-time without a timezone")
    return moment.strftime("%Y%m%d%H%M%S%z")


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str | None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{V3}}}{tag}", {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def _code(parent: etree._Element, tag: str, code: tuple[str, str] | None, system: str,
          system_name: str | None = None) -> etree._Element:
    if code is None:
        return _el(parent, tag, nullFlavor="UNK")
    return _el(parent, tag, code=code[0], displayName=code[1], codeSystem=system, codeSystemName=system_name)


def _id(parent: etree._Element, root: str | None, extension: str | None = None) -> None:
    if root is None:
        _el(parent, "id", nullFlavor="UNK")
    else:
        _el(parent, "id", root=root, extension=extension)


def _person_entity(parent: etree._Element, tag: str, party: h.Party) -> etree._Element:
    """assignedAuthor / assignedEntity: idNatPs (or nullFlavor UNK), profession code, the person's name."""
    entity = _el(parent, tag)
    _id(entity, h.IDNAT_PS_OID if party.idnat else None, party.idnat)
    _code(entity, "code", party.code, h.PROFESSION_OID)
    _el(_el(entity, "assignedPerson"), "name", party.name)
    return entity


def _header(root: etree._Element, *, title: str, document_id: str, set_id: str, version: int,
            created_at: str) -> None:
    _el(root, "realmCode", code="FR")
    _el(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    for template in TEMPLATE_IDS:
        _el(root, "templateId", root=template)
    _el(root, "id", root=h.uuid_oid(document_id))
    _code(root, "code", h.DOCUMENT_CODE, h.LOINC_OID, "LOINC")
    _el(root, "title", title)
    _el(root, "effectiveTime", value=cda_time(created_at))
    _code(root, "confidentialityCode", h.CONFIDENTIALITY, h.CONFIDENTIALITY_OID, "Confidentiality")
    _el(root, "languageCode", code="fr-FR")
    _el(root, "setId", root=h.uuid_oid(set_id))
    _el(root, "versionNumber", value=str(version))


def _record_target(root: etree._Element, content: ReportContent) -> None:
    """The INS and the five traits (birth name, first and all birth given names, birth date, sex, birthplace) for
    a qualified identity; a non-qualified one is the site's local patient id, its names without the BR qualifier
    that marks INS traits."""
    p = content.patient
    role = _el(_el(root, "recordTarget"), "patientRole")
    if p.qualified:
        _el(role, "id", root=p.ins_oid, extension=p.ins)
    local_root, local_id = h.patient_local_id(content)
    _el(role, "id", root=local_root, extension=local_id)
    patient = _el(role, "patient", classCode="PSN")
    name = _el(patient, "name")
    birth = "BR" if p.qualified else None
    _el(name, "family", p.birth_family_name, qualifier=birth)
    _el(name, "given", p.first_given_name, qualifier=birth)
    if p.qualified:
        _el(name, "given", p.given_names)
    if p.usual_name:
        _el(name, "family", p.usual_name, qualifier="CL")  # nom utilisé, as in the ANS TLM-CR example
    _code(patient, "administrativeGenderCode", GENDERS[p.sex], GENDER_OID)
    _el(patient, "birthTime", value=p.birth_date.replace("-", ""))
    addr = _el(_el(_el(patient, "birthplace"), "place"), "addr")
    _el(addr, "county", p.birthplace_insee)


def _organization_id(parent: etree._Element, org: h.Organization) -> None:
    _id(parent, org.root, org.extension)


def _parties(root: etree._Element, content: ReportContent, created_at: str) -> None:
    author = _el(root, "author")
    _el(author, "time", value=cda_time(created_at))
    _person_entity(author, "assignedAuthor", h.author_party(content))
    enterer = h.data_enterer_party(content)
    if enterer is not None:  # the doctor's conclusions were typed by this staff member (transcribed)
        data_enterer = _el(root, "dataEnterer")
        _el(data_enterer, "time", value=cda_time(created_at))
        _person_entity(data_enterer, "assignedEntity", enterer)
    org = h.organization(content.site)
    custodian = _el(_el(_el(root, "custodian"), "assignedCustodian"), "representedCustodianOrganization")
    _organization_id(custodian, org)
    _el(custodian, "name", org.name)
    legal = _el(root, "legalAuthenticator")
    _el(legal, "time", value=cda_time(content.closed_at or created_at))
    _el(legal, "signatureCode", code="S")
    _person_entity(legal, "assignedEntity", h.authenticator_party(content))


def _service_event(root: etree._Element, content: ReportContent) -> None:
    event = _el(_el(root, "documentationOf"), "serviceEvent", classCode="ACT")
    _code(event, "code", content.act.ngap, h.NGAP_OID, "NGAP")
    period = _el(event, "effectiveTime")
    _el(period, "low", value=cda_time(content.start))
    if content.end:
        _el(period, "high", value=cda_time(content.end))
    performer = _el(event, "performer", typeCode="PRF")
    entity = _person_entity(performer, "assignedEntity", h.performer_party(content))
    organization = _el(entity, "representedOrganization")
    _code(organization, "standardIndustryClassCode", h.PRACTICE_SETTING, h.PRACTICE_OID, "practiceSettingCode")


def _encounter(root: etree._Element, content: ReportContent) -> None:
    encounter = _el(_el(root, "componentOf"), "encompassingEncounter")
    _code(encounter, "code", ENCOUNTER, ACT_CODE_OID, "ActCode")
    period = _el(encounter, "effectiveTime")
    _el(period, "low", value=cda_time(content.start))
    if content.end:
        _el(period, "high", value=cda_time(content.end))
    org = h.organization(content.site)
    facility = _el(_el(encounter, "location"), "healthCareFacility")
    _organization_id(facility, org)
    _code(facility, "code", org.facility, h.FACILITY_OID, "healthCareFacilityTypeCode")
    _el(_el(facility, "location"), "name", org.name)


def report_cda(content: ReportContent, *, pdf: bytes, document_id: str, set_id: str, version: int,
               created_at: str, previous_id: str | None = None) -> bytes:
    """The CDA R2 N1 document (UTF-8 bytes with the XML declaration). `document_id`, `set_id`, `previous_id`: UUID
    strings (written as 2.25 OIDs); `previous_id`: the id of the version this one replaces (version > 1)."""
    if (version > 1) != (previous_id is not None):
        raise ValueError("a version after the first replaces a previous id, and only it does")
    root = etree.Element(f"{{{V3}}}ClinicalDocument", nsmap={None: V3, "xsi": XSI})
    _header(root, title=content.act.title, document_id=document_id, set_id=set_id, version=version,
            created_at=created_at)
    _record_target(root, content)
    _parties(root, content, created_at)
    _service_event(root, content)
    if previous_id is not None:
        related = _el(root, "relatedDocument", typeCode="RPLC")
        parent = _el(related, "parentDocument")
        _el(parent, "id", root=h.uuid_oid(previous_id))
        _el(parent, "setId", root=h.uuid_oid(set_id))
        _el(parent, "versionNumber", value=str(version - 1))
    _encounter(root, content)
    body = _el(_el(root, "component"), "nonXMLBody")
    _el(body, "text", base64.b64encode(pdf).decode("ascii"), mediaType="application/pdf", representation="B64")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
