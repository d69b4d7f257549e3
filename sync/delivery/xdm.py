"""The IHE XDM archive that carries the CDA by mail (IHE ITI TF-1 §16, ITI TF-2 ITI-32): `IHE_XDM.ZIP` with
`README.TXT`, `INDEX.HTM` and `IHE_XDM/SUBSET01/` holding `METADATA.XML` (an ebRIM 3.0 SubmitObjectsRequest)
and the CDA as `DOC0001.XML`.

The metadata repeats the CDA header (ANS mapping CDA → XDS, ansforge/IG-hl7v2-volet-transmission-document-cda-r2,
mapping.md; classification scheme UUIDs and value syntax as in the ANS sample ansforge/DRIM-M_DATA, Validateur XDS,
XDS.xml): patient id (the INS under its OID, `^^^&OID&ISO^NH`; else the local id, `^PI`), author, class, type,
format, confidentiality, facility type and practice setting codes, unique id, and the SHA-1 hash (upper-case hex)
and size of the exact CDA bytes. The submission set's contentTypeCode names the NGAP act of the serviceEvent, the
clinical activity that produced the submission.

Deterministic: the same input gives the same bytes (fixed entry order, the zip entries dated by `created_at`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import zipfile
from typing import Sequence

from lxml import etree

from sync.delivery import header as h
from sync.delivery.content import ReportContent

LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
DOCUMENT_ENTRY = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SUBMISSION_SET = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
DE_AUTHOR, SS_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d", "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
DE_PATIENT = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
SS_PATIENT = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
DE_UNIQUE, SS_UNIQUE = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab", "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
SS_SOURCE = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
CLASS, TYPE = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a", "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
FORMAT = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
FACILITY, PRACTICE = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1", "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
CONTENT_TYPE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
CLASSIFICATION = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"
EXTERNAL_ID = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier"
DOCUMENT_NAME = "DOC0001.XML"
ENTRIES = ("README.TXT", "INDEX.HTM", "IHE_XDM/SUBSET01/METADATA.XML", f"IHE_XDM/SUBSET01/{DOCUMENT_NAME}")


def xds_time(iso: str) -> str:
    """XDS DTM in UTC: 2024-05-01T10:55:00+02:00 → 20240501085500."""
    return dt.datetime.fromisoformat(iso).astimezone(dt.timezone.utc).strftime("%Y%m%d%H%M%S")


def patient_cx(content: ReportContent) -> str:
    """The patient id as an HL7 v2 CX: the INS under its authority (NH), else the local id (PI)."""
    p = content.patient
    if p.qualified:
        return f"{p.ins}^^^&{p.ins_oid}&ISO^NH"
    root, local = h.patient_local_id(content)
    return f"{local}^^^&{root}&ISO^PI"


def _xcn(party: h.Party) -> str:
    if party.idnat:
        return f"{party.idnat}^{party.name}^^^^^^^&{h.IDNAT_PS_OID}&ISO^D^^^IDNPS"
    return f"^{party.name}"


def _xon(org: h.Organization) -> str:
    if org.root == h.IDNAT_ST_OID and org.extension:
        return f"{org.name}^^^^^&{h.IDNAT_ST_OID}&ISO^IDNST^^^{org.extension}"
    return org.name


def _rim(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{RIM}}}{tag}", attrs)


def _slot(parent: etree._Element, name: str, *values: str) -> None:
    value_list = _rim(_rim(parent, "Slot", name=name), "ValueList")
    for value in values:
        _rim(value_list, "Value").text = value


def _name(parent: etree._Element, text: str) -> None:
    _rim(_rim(parent, "Name"), "LocalizedString", value=text, charset="UTF-8",
         **{"{http://www.w3.org/XML/1998/namespace}lang": "fr-FR"})


def _coded(parent: etree._Element, scheme: str, obj: str, ident: str, code: tuple[str, str], system: str) -> None:
    node = _rim(parent, "Classification", classificationScheme=scheme, classifiedObject=obj, id=ident,
                nodeRepresentation=code[0], objectType=CLASSIFICATION)
    _slot(node, "codingScheme", system)
    _name(node, code[1])


def _author(parent: etree._Element, scheme: str, obj: str, ident: str, content: ReportContent) -> None:
    party = h.author_party(content)
    node = _rim(parent, "Classification", classificationScheme=scheme, classifiedObject=obj, id=ident,
                nodeRepresentation="", objectType=CLASSIFICATION)
    _slot(node, "authorInstitution", _xon(h.organization(content.site)))
    _slot(node, "authorPerson", _xcn(party))
    if party.code:
        _slot(node, "authorSpecialty", f"{party.code[0]}^{party.code[1]}^{h.PROFESSION_OID}")


def _external(parent: etree._Element, scheme: str, obj: str, ident: str, value: str, label: str) -> None:
    node = _rim(parent, "ExternalIdentifier", identificationScheme=scheme, registryObject=obj, id=ident,
                value=value, objectType=EXTERNAL_ID)
    _name(node, label)


def _document_entry(objects: etree._Element, content: ReportContent, cda: bytes, document_id: str,
                    created_at: str) -> None:
    entry = _rim(objects, "ExtrinsicObject", id="Document01", mimeType="text/xml", objectType=DOCUMENT_ENTRY,
                 status=APPROVED)
    _slot(entry, "creationTime", xds_time(created_at))
    _slot(entry, "hash", hashlib.sha1(cda).hexdigest().upper())
    _slot(entry, "languageCode", "fr-FR")
    _slot(entry, "legalAuthenticator", _xcn(h.authenticator_party(content)))
    _slot(entry, "serviceStartTime", xds_time(content.start))
    if content.end:
        _slot(entry, "serviceStopTime", xds_time(content.end))
    _slot(entry, "size", str(len(cda)))
    root, local = h.patient_local_id(content)
    _slot(entry, "sourcePatientId", f"{local}^^^&{root}&ISO^PI")
    _slot(entry, "URI", DOCUMENT_NAME)
    _name(entry, content.act.title)
    _author(entry, DE_AUTHOR, "Document01", "cl01", content)
    _coded(entry, CLASS, "Document01", "cl02", h.DOCUMENT_CLASS, h.CLASS_OID)
    _coded(entry, CONFIDENTIALITY, "Document01", "cl03", h.CONFIDENTIALITY, h.CONFIDENTIALITY_OID)
    _coded(entry, FORMAT, "Document01", "cl04", h.FORMAT, h.FORMAT_OID)
    facility = h.organization(content.site).facility
    if facility:
        _coded(entry, FACILITY, "Document01", "cl05", facility, h.FACILITY_OID)
    _coded(entry, PRACTICE, "Document01", "cl06", h.PRACTICE_SETTING, h.PRACTICE_OID)
    _coded(entry, TYPE, "Document01", "cl07", h.DOCUMENT_CODE, h.LOINC_OID)
    _external(entry, DE_PATIENT, "Document01", "ei01", patient_cx(content), "XDSDocumentEntry.patientId")
    _external(entry, DE_UNIQUE, "Document01", "ei02", h.uuid_oid(document_id), "XDSDocumentEntry.uniqueId")


def _submission_set(objects: etree._Element, content: ReportContent, document_id: str, created_at: str,
                    recipients: Sequence[str]) -> None:
    package = _rim(objects, "RegistryPackage", id="SubmissionSet01", status=APPROVED)
    _slot(package, "submissionTime", xds_time(created_at))
    if recipients:
        _slot(package, "intendedRecipient", *(f"^^Internet^{address}" for address in recipients))
    _name(package, content.act.title)
    _author(package, SS_AUTHOR, "SubmissionSet01", "cl08", content)
    _coded(package, CONTENT_TYPE, "SubmissionSet01", "cl09", content.act.ngap, h.NGAP_OID)
    _external(package, SS_UNIQUE, "SubmissionSet01", "ei03", f"{h.uuid_oid(document_id)}.1",
              "XDSSubmissionSet.uniqueId")
    source = content.site.local_id if content.site else content.session_id
    _external(package, SS_SOURCE, "SubmissionSet01", "ei04", h.uuid_oid(source), "XDSSubmissionSet.sourceId")
    _external(package, SS_PATIENT, "SubmissionSet01", "ei05", patient_cx(content), "XDSSubmissionSet.patientId")
    _rim(objects, "Classification", classifiedObject="SubmissionSet01", classificationNode=SUBMISSION_SET,
         id="cl10", objectType=CLASSIFICATION)
    association = _rim(objects, "Association", associationType=HAS_MEMBER, sourceObject="SubmissionSet01",
                       targetObject="Document01", id="as01")
    _slot(association, "SubmissionSetStatus", "Original")


def metadata_xml(content: ReportContent, *, cda: bytes, document_id: str, created_at: str,
                 recipients: Sequence[str] = ()) -> bytes:
    """METADATA.XML: the SubmitObjectsRequest of one document entry in one submission set."""
    request = etree.Element(f"{{{LCM}}}SubmitObjectsRequest", nsmap={"lcm": LCM, "rim": RIM})
    objects = _rim(request, "RegistryObjectList")
    _document_entry(objects, content, cda, document_id, created_at)
    _submission_set(objects, content, document_id, created_at, recipients)
    return etree.tostring(request, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _readme(sender: str | None, created_at: str, document_type: str) -> bytes:
    lines = ["Archive IHE XDM (IHE ITI TF-1 chapitre 16) produite par Relais, logiciel de téléconsultation assistée.",
             f"Expéditeur : {sender or 'non renseigné'}", f"Date : {created_at}", "",
             f"Contenu : un {document_type[0].lower()}{document_type[1:]} au format CDA R2 niveau 1 (le PDF/A est "
             "dans le CDA),",
             "IHE_XDM/SUBSET01/DOC0001.XML, décrit par IHE_XDM/SUBSET01/METADATA.XML.",
             "Ouvrez INDEX.HTM pour la liste des documents.", ""]
    return "\r\n".join(lines).encode("utf-8")


def _index(title: str) -> bytes:
    title = html.escape(title)
    return (f'<!DOCTYPE html>\r\n<html lang="fr"><head><meta charset="utf-8"><title>{title}</title></head>\r\n'
            f'<body><h1>{title}</h1><ul>\r\n'
            f'<li><a href="IHE_XDM/SUBSET01/{DOCUMENT_NAME}">{title} (CDA R2)</a></li>\r\n'
            '<li><a href="IHE_XDM/SUBSET01/METADATA.XML">Métadonnées XDS</a></li>\r\n'
            '<li><a href="README.TXT">README.TXT</a></li>\r\n</ul></body></html>\r\n').encode("utf-8")


def xdm_archive(content: ReportContent, *, cda: bytes, document_id: str, created_at: str, sender: str | None,
                recipients: Sequence[str]) -> bytes:
    """IHE_XDM.ZIP as bytes: exactly README.TXT, INDEX.HTM, METADATA.XML and the CDA, deflated, dated by
    `created_at` (local wall-clock fields of the zip entries), so the same input gives the same bytes."""
    moment = dt.datetime.fromisoformat(created_at)
    stamp = (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)
    files = (_readme(sender, created_at, content.act.document_type), _index(content.act.title),
             metadata_xml(content, cda=cda, document_id=document_id, created_at=created_at, recipients=recipients),
             cda)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in zip(ENTRIES, files):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()
