"""The codes and parties a teleconsultation report names, shared by its CDA R2 header (sync.delivery.cda) and its
XDS metadata (sync.delivery.xdm), so that the metadata repeats the header exactly, as the ANS mapping CDA → XDS
requires (ansforge/IG-hl7v2-volet-transmission-document-cda-r2, mapping.md).

Sources of the codes (every one is written with its label, the `displayName` the ANS SMDS schematron requires):
- document type LOINC 85208-7, the code the CI-SIS volet TLM-CR (compte rendu d'acte de télémédecine) requires, and
  the NGAP acts `TC` (teleconsultation) and `TE2` (téléexpertise) among those it allows for the main serviceEvent
  (sync.fhir.acts; ansforge/TestContenuCDA-3-0, schematrons/CI-SIS_TLM-CR_2022.01.sch,
  ExemplesCDA/TLM-CR_2022.01.xml);
- professions TRE_G15-ProfessionSante (10 Médecin, 21 Pharmacien, 35 Aide-soignant, 60 Infirmier) and the author
  code `G15_10/SM26` "Médecin - Qualifié en Médecine Générale (SM)" of the ANS TLM-CR example, in the ANS
  profession/specialty system 1.2.250.1.213.1.1.4.5;
- facility types TRE_R02-SecteurActivite 1.2.250.1.71.4.2.4: SA17 "Etablissement pour personnes âgées" for an
  EHPAD, SA33 "Pharmacie d'officine" for a pharmacy (ansforge/IG-terminologie-de-sante,
  CodeSystem-TRE-R02-SecteurActivite.json);
- practice setting TRE_A01-CadreExercice `AMBULATOIRE`, class TRE_A03-ClasseDocument `10` "Compte rendu".

Who is the author: the remote doctor, who writes the conclusions, when their RPPS is known; else the accompanying
staff member when theirs is (a nurse or pharmacist who wrote the report with the doctor); else the remote doctor
(or the staff member) with the national identifier `nullFlavor="UNK"` ("unknown", one of the nullFlavors the ANS
document core allows): the document still names the person, and says plainly that the identifier is missing.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sync.delivery.content import Professional, ReportContent, Site

LOINC_OID = "2.16.840.1.113883.6.1"
DOCUMENT_CODE = ("85208-7", "Compte-rendu d'acte de télémédecine")
NGAP_OID = "1.2.250.1.215.200.3.3"
PROFESSION_OID = "1.2.250.1.213.1.1.4.5"
GP_DOCTOR = ("G15_10/SM26", "Médecin - Qualifié en Médecine Générale (SM)")
STAFF_PROFESSIONS = {"medecin": ("G15_10", "Médecin"), "pharmacien": ("G15_21", "Pharmacien"),
                     "aide_soignant": ("G15_35", "Aide-soignant"), "infirmier": ("G15_60", "Infirmier")}
IDNAT_PS_OID = "1.2.250.1.71.4.2.1"  # idNatPs: "8" + RPPS
IDNAT_ST_OID = "1.2.250.1.71.4.2.2"  # idNatSt: "1" + FINESS
FACILITY_OID = "1.2.250.1.71.4.2.4"  # TRE_R02-SecteurActivite
FACILITY_TYPES = {"ehpad": ("SA17", "Etablissement pour personnes âgées"),
                  "pharmacie": ("SA33", "Pharmacie d'officine")}
PRACTICE_OID = "1.2.250.1.213.1.1.4.9"  # TRE_A01-CadreExercice
PRACTICE_SETTING = ("AMBULATOIRE", "Ambulatoire")
CLASS_OID = "1.2.250.1.213.1.1.4.1"  # TRE_A03-ClasseDocument
DOCUMENT_CLASS = ("10", "Compte rendu")
CONFIDENTIALITY_OID = "2.16.840.1.113883.5.25"
CONFIDENTIALITY = ("N", "Normal")
FORMAT_OID = "1.3.6.1.4.1.19376.1.2.3"  # TRE_A11 / IHE format codes
FORMAT = ("urn:ihe:iti:xds-sd:pdf:2008", "Document à corps non structuré en Pdf/A-1")


def uuid_oid(value: str) -> str:
    """A UUID string as an OID under the joint ISO/ITU-T arc 2.25 (ITU-T X.667 / ISO/IEC 9834-8 §6.3): the
    document ids and set ids the caller mints as UUIDs, and local identifier domains (site, patient ids)."""
    return f"2.25.{uuid.UUID(value).int}"


@dataclass(frozen=True)
class Party:
    """A professional as the header names them: national id (8 + RPPS, None when unknown), name, profession code."""
    idnat: str | None
    name: str
    code: tuple[str, str] | None


@dataclass(frozen=True)
class Organization:
    """A site as the header names it: identifier root and extension (idNatSt from the FINESS, else the site's
    local id under its own UUID OID), name, facility type code."""
    root: str | None  # None: unknown (a session recorded before sites existed)
    extension: str | None
    name: str
    facility: tuple[str, str] | None


def _staff_party(staff: Professional) -> Party:
    return Party(f"8{staff.rpps}" if staff.rpps else None, staff.name, STAFF_PROFESSIONS.get(staff.role or ""))


def _doctor_party(doctor: Professional) -> Party:
    return Party(f"8{doctor.rpps}" if doctor.rpps else None, doctor.name, GP_DOCTOR)


def author_party(content: ReportContent) -> Party:
    """The document's author (see the module's docstring for the order of choice)."""
    doctor, staff = content.remote_doctor, content.staff
    if doctor is not None and doctor.rpps:
        return _doctor_party(doctor)
    if staff is not None and staff.rpps:
        return _staff_party(staff)
    if doctor is not None:
        return _doctor_party(doctor)
    if staff is not None:
        return _staff_party(staff)
    return Party(None, "Relais", None)


def data_enterer_party(content: ReportContent) -> Party | None:
    """Who typed the doctor's conclusions into the report (CDA R2 dataEnterer: "the person who transferred the
    content, written or dictated by someone else, into the clinical document"): the staff member who transcribed
    them; None when the doctor wrote them in their own application, or nobody recorded it."""
    transcriber = content.conclusions_transcriber
    return _staff_party(transcriber) if transcriber is not None else None


def performer_party(content: ReportContent) -> Party:
    """Who performed the act (the teleconsultation): the remote doctor."""
    if content.remote_doctor is not None:
        return _doctor_party(content.remote_doctor)
    return author_party(content)


def authenticator_party(content: ReportContent) -> Party:
    """Who takes responsibility for the document: the staff member who closed the session."""
    return _staff_party(content.staff) if content.staff is not None else author_party(content)


def organization(site: Site | None) -> Organization:
    if site is None:
        return Organization(None, None, "Lieu non renseigné", None)
    if site.finess:
        return Organization(IDNAT_ST_OID, f"1{site.finess}", site.name, FACILITY_TYPES[site.kind])
    return Organization(uuid_oid(site.local_id), None, site.name, FACILITY_TYPES[site.kind])


def patient_local_id(content: ReportContent) -> tuple[str, str]:
    """(root, extension) of the patient's local identifier: the tablet's patient id in the site's patient-id domain
    (arc .1 under the site's UUID OID), as an establishment's IPP is written under an OID of the establishment."""
    domain = content.site.local_id if content.site else content.session_id
    return f"{uuid_oid(domain)}.1", content.patient.local_id
