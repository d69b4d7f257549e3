"""The names a FHIR server reads in our bundles: the identifier systems minted for this product, the HL7 FHIR R4
terminology code systems, the FR Core implementation guide's profiles, extensions and national identifier systems
(RPPS, idNatPs, FINESS, idNatSt, INSEE), and the display tables for what the tablet stores as a short code (sex,
staff role, site kind, who gave consent).
"""
from __future__ import annotations

from sync.vocabulary import BASE

# Identifier systems of this product: each resource's identifier comes from data minted once on the tablet.
NS = f"{BASE}/sid"
PATIENT_ID_SYSTEM = f"{NS}/patient-id"
RESIDENT_ID_SYSTEM = f"{NS}/resident-id"
OBSERVATION_ID_SYSTEM = f"{NS}/observation-id"
BUNDLE_ID_SYSTEM = f"{NS}/session"
ENCOUNTER_ID_SYSTEM = f"{NS}/encounter-id"
CONSENT_ID_SYSTEM = f"{NS}/consent-id"
COMPOSITION_ID_SYSTEM = f"{NS}/composition-id"
ADDENDUM_ID_SYSTEM = f"{NS}/addendum-id"
STAFF_ID_SYSTEM = f"{NS}/staff-id"
PRACTITIONER_ROLE_ID_SYSTEM = f"{NS}/practitioner-role-id"
REMOTE_DOCTOR_ID_SYSTEM = f"{NS}/remote-doctor-id"
SITE_ID_SYSTEM = f"{NS}/site-id"
ARS_DECLARATION_SYSTEM = f"{NS}/ars-declaration"
DEVICE_ADDRESS_SYSTEM = f"{NS}/device-ble-address"
DEVICE_SERIAL_SYSTEM = f"{NS}/device-serial"
# Code systems and extensions of this product.
STAFF_ROLE_SYSTEM = f"{BASE}/CodeSystem/staff-role"
SITE_KIND_SYSTEM = f"{BASE}/CodeSystem/site-kind"
MEASUREMENT_METHOD_SYSTEM = f"{BASE}/CodeSystem/measurement-method"
NEWS2_INPUT_SYSTEM = f"{BASE}/CodeSystem/news2-input"
CONSENT_RECORDED_BY_EXTENSION = f"{BASE}/StructureDefinition/consent-recorded-by"
ROOM_EXTENSION = f"{BASE}/StructureDefinition/room"  # Patient: the room or bed at the site, valueString
SITE_TAG_SYSTEM = f"{BASE}/CodeSystem/site"  # meta.tag of a site's records: code = its FINESS, else its local id

LOINC = "http://loinc.org"
CONSULT_NOTE = {"system": LOINC, "code": "11488-4", "display": "Consult note"}  # the report and its addenda
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
OBSERVATION_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/participant-type"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"

# FR Core (Interop-Sante/hl7.fhir.fr.core): profiles, identity reliability extension (status + collection method),
# identifier types, INSEE birth place, and the national identifier systems for professionals and structures.
FR_CORE = "https://hl7.fr/ig/fhir/core"
PROFILE_PATIENT = f"{FR_CORE}/StructureDefinition/fr-core-patient"
PROFILE_PATIENT_INS = f"{FR_CORE}/StructureDefinition/fr-core-patient-ins"
PROFILE_PRACTITIONER = f"{FR_CORE}/StructureDefinition/fr-core-practitioner"
PROFILE_PRACTITIONER_ROLE = f"{FR_CORE}/StructureDefinition/fr-core-practitioner-role"
PROFILE_ORGANIZATION = f"{FR_CORE}/StructureDefinition/fr-core-organization"
PROFILE_ENCOUNTER = f"{FR_CORE}/StructureDefinition/fr-core-encounter"
PROFILE_CONSENT = f"{FR_CORE}/StructureDefinition/fr-core-consent"
FR_IDENTITY_RELIABILITY = f"{FR_CORE}/StructureDefinition/fr-core-identity-reliability"
FR_IDENTITY_STATUS_SYSTEM = f"{FR_CORE}/CodeSystem/fr-core-cs-identity-status"
FR_METHOD_COLLECTION_SYSTEM = f"{FR_CORE}/CodeSystem/fr-core-cs-method-collection"
# the high-trust document a validated identity was checked against (sub-extension validationMode)
FR_VALIDATION_MODE_SYSTEM = f"{FR_CORE}/CodeSystem/fr-core-cs-mode-validation-identity"
FR_IDENTIFIER_TYPE_SYSTEM = f"{FR_CORE}/CodeSystem/fr-core-cs-v2-0203"
FR_ENCOUNTER_IDENTIFIER_TYPE_SYSTEM = f"{FR_CORE}/CodeSystem/fr-core-cs-identifier-type"
FR_INSEE_CODE_EXTENSION = f"{FR_CORE}/StructureDefinition/fr-core-address-insee-code"
FR_BIRTH_LIST_GIVEN_NAME = f"{FR_CORE}/StructureDefinition/fr-core-patient-birth-list-given-name"
INSEE_COMMUNE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"
BIRTH_PLACE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
RPPS_SYSTEM = "https://rpps.esante.gouv.fr"            # FR Core Practitioner slice "rpps" (11 digits)
IDNAT_PS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"         # idNatPs: "8" + RPPS, or "0" + ADELI
FINESS_SYSTEM = "https://finess.esante.gouv.fr"        # FR Core Organization slice "finess" (type FINEG)
IDNAT_STRUCT_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"     # idNatSt: "1" + FINESS

# INS sex (F/M/I) → FHIR administrative gender. FR Core's INS gender value set (fr-core-vs-patient-gender-INS)
# allows male | female | unknown only, so "I" (indéterminé) maps to "unknown", not "other".
GENDER = {"F": "female", "M": "male", "I": "unknown"}

STAFF_ROLES = {"aide_soignant": "Aide-soignant(e)", "infirmier": "Infirmier(ère)",
               "assistant_medical": "Assistant(e) médical(e)", "pharmacien": "Pharmacien(ne)", "medecin": "Médecin",
               "administrateur": "Administrateur(rice)"}
SITE_KINDS = {"ehpad": "EHPAD", "pharmacie": "Pharmacie d'officine"}
CONSENT_GRANTORS = {"patient": "le patient", "legal_representative": "représentant légal",
                    "trusted_person": "personne de confiance"}
