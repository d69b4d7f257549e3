"""The IHE XDM archive: exactly its four entries, METADATA.XML repeating the CDA header (patient id as INS with
its OID, unique id, codes, author) with the SHA-1 and size of the exact CDA bytes, and identical bytes for
identical input."""
from __future__ import annotations

import hashlib
import io
import zipfile

from lxml import etree

from sync.delivery.header import uuid_oid
from sync.delivery.xdm import xdm_archive
from tests.sync.delivery.conftest import GP_ADDRESS, SENDER
from tests.sync.delivery.sessions import DOCTOR_RPPS, INS

RIM = {"rim": "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"}
DE_PATIENT = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
SS_PATIENT = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"


def _zip(report) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(report.documents.xdm))


def _metadata(report):
    return etree.fromstring(_zip(report).read("IHE_XDM/SUBSET01/METADATA.XML"))


def _slot(node, name: str) -> list[str]:
    return node.xpath(f"rim:Slot[@name='{name}']/rim:ValueList/rim:Value/text()", namespaces=RIM)


def _external(meta, scheme: str) -> str:
    return meta.xpath(f"//rim:ExternalIdentifier[@identificationScheme='{scheme}']/@value", namespaces=RIM)[0]


def _classified(meta, scheme: str) -> str:
    return meta.xpath(f"//rim:Classification[@classificationScheme='{scheme}']/@nodeRepresentation",
                      namespaces=RIM)[0]


def test_the_archive_holds_exactly_its_four_entries(reports):
    archive = _zip(reports["full"])
    assert archive.namelist() == ["README.TXT", "INDEX.HTM", "IHE_XDM/SUBSET01/METADATA.XML",
                                  "IHE_XDM/SUBSET01/DOC0001.XML"]
    assert archive.read("IHE_XDM/SUBSET01/DOC0001.XML") == reports["full"].documents.cda
    assert SENDER in archive.read("README.TXT").decode("utf-8")
    assert 'href="IHE_XDM/SUBSET01/DOC0001.XML"' in archive.read("INDEX.HTM").decode("utf-8")


def test_hash_and_size_are_those_of_the_exact_cda_bytes(reports):
    report = reports["full"]
    entry = _metadata(report).xpath("//rim:ExtrinsicObject", namespaces=RIM)[0]
    assert _slot(entry, "hash") == [hashlib.sha1(report.documents.cda).hexdigest().upper()]
    assert _slot(entry, "size") == [str(len(report.documents.cda))]
    assert _slot(entry, "URI") == ["DOC0001.XML"]


def test_the_metadata_repeats_the_cda_header(reports):
    report = reports["full"]
    meta = _metadata(report)
    patient = f"{INS}^^^&1.2.250.1.213.1.4.11&ISO^NH"
    assert _external(meta, DE_PATIENT) == patient and _external(meta, SS_PATIENT) == patient
    assert _external(meta, "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab") == uuid_oid(
        report.documents.document_id)
    assert _classified(meta, "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983") == "85208-7"
    assert _classified(meta, "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a") == "10"
    assert _classified(meta, "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d") == "urn:ihe:iti:xds-sd:pdf:2008"
    assert _classified(meta, "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f") == "N"
    assert _classified(meta, "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1") == "SA17"
    assert _classified(meta, "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead") == "AMBULATOIRE"
    author = meta.xpath("//rim:Classification[@classificationScheme='urn:uuid:93606bcf-9494-43ec-9b4e-"
                        "a7748d1a838d']", namespaces=RIM)[0]
    assert _slot(author, "authorPerson")[0].startswith(f"8{DOCTOR_RPPS}^Dr Marc Téléconsultant^")
    assert _slot(author, "authorInstitution") == ["EHPAD Les Tilleuls^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1750712184"]
    package = meta.xpath("//rim:RegistryPackage", namespaces=RIM)[0]
    assert _slot(package, "intendedRecipient") == [f"^^Internet^{GP_ADDRESS}"]


def test_a_provisional_identity_is_sent_with_its_local_id(reports):
    report = reports["partial"]
    local = f"{report.content.patient.local_id}^^^&{uuid_oid(report.content.site.local_id)}.1&ISO^PI"
    assert _external(_metadata(report), DE_PATIENT) == local


def test_the_same_input_gives_the_same_bytes(reports):
    report = reports["full"]
    again = xdm_archive(report.content, cda=report.documents.cda, document_id=report.documents.document_id,
                        created_at=report.created_at, sender=SENDER, recipients=(GP_ADDRESS,))
    assert again == report.documents.xdm
    assert all(info.date_time == (2024, 5, 1, 10, 55, 0) for info in _zip(report).infolist())
