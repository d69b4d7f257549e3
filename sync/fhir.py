"""Build the FHIR R4 transaction Bundle for one closed session. Pure functions, no I/O.

Why it looks like this (see shared/notes/sync.md):
- every resource carries an identifier derived from data minted once on the tablet (the local patient, staff, site
  ids, the device's Bluetooth address, the session idempotency key), and every entry is a conditional create
  (`ifNoneExist`), so resending the same bundle after a lost acknowledgement never duplicates anything on the server;
- `ifNoneExist` holds the query part only (`identifier=SYSTEM|VALUE`): the `Patient?identifier=` form silently
  creates duplicates on some engines;
- the bundle is frozen at session close and resent byte for byte, so serialisation is deterministic
  (`dumps_bundle`: sorted keys, no floats) and decimals keep the precision the device sent ("37.60" stays 37.60).

What one session becomes (shared/notes/domain.md §2.7, FR Core profiles where they exist, else base R4):
- Patient (fr-core-patient, or fr-core-patient-ins for a qualified identity carrying its INS and the list of birth
  given names, the elements that profile makes mandatory). The INS is sent only for a QUAL identity, under the
  production OID, or the test/demo OID when `ins_system` (or the module-level INS_SYSTEM) says so (training mode);
- one vital-signs Observation per reading (R4 profiles bodytemp, oxygensat, heartrate, bp). The blood pressure
  cuff's systolic, diastolic and mean pressure (stored with one shared `panel_id`) become ONE panel Observation
  85354-9 with three components: the mean arterial pressure is a component, not a separate Observation, because it
  comes from the same cuff inflation at the same instant, and a separate resource would show it as an independent
  measurement. The R4 `bp` profile fixes mm[Hg]: a reading in kPa is converted (rounded to the mmHg) and the
  values as read are kept in Observation.note;
- Device (manufacturer, model, serial from the Device Information service; identifier = the Bluetooth address);
- Encounter (fr-core-encounter, class VR virtual), Consent (fr-core-consent) per recorded decision, Organization
  (fr-core-organization) for the site, Practitioner + PractitionerRole (fr-core-practitioner / -role) for staff,
  Practitioner for the remote doctor, and a Composition (LOINC 11488-4 "Consult note") holding the reason, the
  measurements, the remote doctor's conclusion and the summary for the patient's own doctor (médecin traitant).

Shared resources (Patient, Organization, Practitioner, PractitionerRole, Device) depend only on their own row, so
their entries are byte-identical in every session that uses them: `sync.batching` merges them into one entry.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from sync.vocabulary import (BP_COMPONENT_ORDER, BP_DIASTOLIC, BP_MEAN, BP_PANEL_CODE, BP_PANEL_DISPLAY,  # noqa: F401
                             BP_SYSTOLIC, INS_DEMO_SYSTEM, INS_IDENTIFIER_TYPES, INS_NIR_SYSTEM, INS_TEST_SYSTEM,
                             MMHG_PER_KPA, OBSERVATION_TYPES, PANEL_CODES, VS, ObservationType, decimal_from_text,
                             kpa_to_mmhg)

BASE = "https://relais.example.org/fhir"
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
STAFF_ROLE_SYSTEM = f"{BASE}/CodeSystem/staff-role"
SITE_KIND_SYSTEM = f"{BASE}/CodeSystem/site-kind"
MEASUREMENT_METHOD_SYSTEM = f"{BASE}/CodeSystem/measurement-method"
NEWS2_INPUT_SYSTEM = f"{BASE}/CodeSystem/news2-input"
CONSENT_RECORDED_BY_EXTENSION = f"{BASE}/StructureDefinition/consent-recorded-by"

# Module-level switch: a demo or training build sets `sync.fhir.INS_SYSTEM = INS_DEMO_SYSTEM` once at start-up;
# `session_bundle(..., ins_system=...)` (and `Store(..., ins_system=...)`) override it per call.
INS_SYSTEM = INS_NIR_SYSTEM

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



# Interpretation flags (v3 ObservationInterpretation), thresholds from shared/notes/domain.md §4, in °C, %, /min and
# mmHg. Checked in this order: the first match wins. Bounds are inclusive unless the comparison says otherwise.
#  temperature: ≥ 40.0 PAC gravity sign → HH; ≥ 37.8 single-reading fever in LTCF residents (IDSA) → H;
#               ≤ 35.0 hypothermia (NEWS2 3 points, PAC gravity) → LL
#  SpO2:        < 90 urgent alert → LL; < 92 alert (NEWS2 ≤ 91 = 3 points, LTC protocol) → L
#  heart rate:  ≥ 131 (NEWS2 3) → HH; > 120 (PAC gravity sign) → H; ≤ 40 (NEWS2 3) → LL; ≤ 50 (NEWS2) → L
#  systolic:    ≥ 220 (NEWS2 3) → HH; > 180 (grade 3 hypertension) → H; ≤ 90 (NEWS2 3, PAC) → LL; ≤ 100 → L
#  diastolic:   > 110 (grade 3) → H; ≤ 60 (CRB-65) → L
#  mean arterial pressure: no threshold in the notes → never flagged
_GE, _GT, _LE, _LT = ">=", ">", "<=", "<"
INTERPRETATION_RULES: dict[str, tuple[tuple[str, str, Decimal], ...]] = {
    "8310-5": (("HH", _GE, Decimal("40.0")), ("H", _GE, Decimal("37.8")), ("LL", _LE, Decimal("35.0"))),
    "59408-5": (("LL", _LT, Decimal(90)), ("L", _LT, Decimal(92))),
    "2708-6": (("LL", _LT, Decimal(90)), ("L", _LT, Decimal(92))),
    "8867-4": (("HH", _GE, Decimal(131)), ("H", _GT, Decimal(120)), ("LL", _LE, Decimal(40)), ("L", _LE, Decimal(50))),
    "8480-6": (("HH", _GE, Decimal(220)), ("H", _GT, Decimal(180)), ("LL", _LE, Decimal(90)), ("L", _LE, Decimal(100))),
    "8462-4": (("H", _GT, Decimal(110)), ("L", _LE, Decimal(60))),
    # respiratory rate: NEWS2 bands, ≥ 25 or ≤ 8 → 3 points
    "9279-1": (("HH", _GE, Decimal(25)), ("H", _GE, Decimal(21)), ("LL", _LE, Decimal(8)), ("L", _LE, Decimal(11))),
}
INTERPRETATION_DISPLAY = {"H": "High", "HH": "Critical high", "L": "Low", "LL": "Critical low"}
INTERPRETATION_FR = {"H": "élevée", "HH": "très élevée", "L": "basse", "LL": "très basse"}
ANSWERS_FR = {"67775-7": {"A": "alerte (A)", "C": "confusion récente (C)", "V": "réagit à la voix (V)",
                          "P": "réagit à la douleur (P)", "U": "aucune réaction (U)"},
              "supplemental-oxygen": {"yes": "sous oxygène", "no": "air ambiant"}}

def fhir_datetime(value: str) -> str:
    """An ISO date-time with a timezone, as FHIR requires when a time is given. Naive values are refused:
    guessing the zone here would silently shift the measurement time."""
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("date-time without a timezone")
    return parsed.isoformat()


def resource_uuid(system: str, value: str) -> str:
    """Deterministic fullUrl UUID: the same identifier always gives the same urn:uuid."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{system}|{value}"))


def if_none_exist(system: str, value: str) -> str:
    """The query part only, `identifier=SYSTEM|VALUE` (never `Type?identifier=…`); reserved characters escaped."""
    return f"identifier={quote(system, safe=':/.-_~')}|{quote(value, safe=':/.-_~')}"


def _entry(resource: dict[str, Any], system: str, value: str) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{resource_uuid(system, value)}",
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], "ifNoneExist": if_none_exist(system, value)},
    }


def _ref(entry: Mapping[str, Any]) -> dict[str, str]:
    return {"reference": entry["fullUrl"]}


def _narrative(lines: Iterable[str]) -> dict[str, str]:
    body = "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines if line)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def _fr_number(value: Decimal | str) -> str:
    text = format(value, "f") if isinstance(value, Decimal) else value
    return text.replace(".", ",")


_UNIT_SYMBOLS = {"Cel": "°C", "[degF]": "°F", "%": "%", "/min": "/min", "mm[Hg]": "mmHg", "kPa": "kPa"}


def _fr_quantity(value: Decimal | str, unit: str) -> str:
    return f"{_fr_number(value)}\u00a0{_UNIT_SYMBOLS.get(unit, unit)}"


try:
    from zoneinfo import ZoneInfo
    _PARIS: dt.tzinfo | None = ZoneInfo("Europe/Paris")
except Exception:  # noqa: BLE001 - no tz database: times are shown with their own offset
    _PARIS = None


def _fr_datetime(value: str) -> str:
    """Narrative time: French wall-clock time (Europe/Paris), as staff and doctors read it."""
    moment = dt.datetime.fromisoformat(value)
    if _PARIS is not None:
        return f"{moment.astimezone(_PARIS):%d/%m/%Y %H:%M}"
    offset = moment.strftime("%z")
    return f"{moment:%d/%m/%Y %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def _fr_phone(number: str) -> str:
    """0123456789 → 01 23 45 67 89; other numbers as stored."""
    return " ".join(number[i:i + 2] for i in range(0, 10, 2)) if len(number) == 10 and number.isdigit() else number


# -- clinical values --------------------------------------------------------------------------------------------------

def _comparable(code: str, value: Decimal, unit: str) -> Decimal:
    """The value in the unit the thresholds use: °C, %, /min, mmHg."""
    if unit == "[degF]":
        return (value - 32) * 5 / 9
    if unit == "kPa":
        return kpa_to_mmhg(value)
    return value


def interpretation_flag(code: str, value: Decimal, unit: str) -> str | None:
    """H, HH, L or LL when the value is out of the normal range (domain.md §4), else None."""
    comparable = _comparable(code, value, unit)
    for flag, op, bound in INTERPRETATION_RULES.get(code, ()):
        if ((op == _GE and comparable >= bound) or (op == _GT and comparable > bound)
                or (op == _LE and comparable <= bound) or (op == _LT and comparable < bound)):
            return flag
    return None


def _interpretation(flag: str | None) -> list[dict[str, Any]] | None:
    if flag is None:
        return None
    return [{"coding": [{"system": OBSERVATION_INTERPRETATION, "code": flag, "display": INTERPRETATION_DISPLAY[flag]}],
             "text": INTERPRETATION_FR[flag]}]


def _kind(m: Mapping[str, Any]) -> ObservationType:
    kind = OBSERVATION_TYPES.get(m["code"])
    if kind is None:
        raise ValueError(f"unsupported observation code {m['code']!r}")
    if m["unit"] not in kind.units:
        raise ValueError(f"unit {m['unit']!r} not allowed for {m['code']}")
    return kind


# -- resources --------------------------------------------------------------------------------------------------------

def _ins_system(ins_system: str | None) -> str:
    system = ins_system or INS_SYSTEM
    if system not in INS_IDENTIFIER_TYPES:
        raise ValueError(f"unknown INS authority {system!r}")
    return system


def patient_resource(patient: Mapping[str, Any], *, ins_system: str | None = None) -> dict[str, Any]:
    """Patient with the local id identifier always, the resident number when known, the INS only on a qualified
    identity (RNIV: only a QUAL identity may carry and share the INS), under the authority `ins_system`."""
    system = _ins_system(ins_system)
    identifiers: list[dict[str, Any]] = [{"system": PATIENT_ID_SYSTEM, "value": patient["id"]}]
    if patient.get("resident_id"):
        identifiers.append({"use": "usual",
                            "type": {"coding": [{"system": V2_0203, "code": "PI",
                                                 "display": "Patient internal identifier"}]},
                            "system": RESIDENT_ID_SYSTEM, "value": patient["resident_id"]})
    qualified = patient.get("identity_status") == "QUAL" and bool(patient.get("ins"))
    if qualified:
        identifiers.append({
            "use": "official",
            "type": {"coding": [{"system": FR_IDENTIFIER_TYPE_SYSTEM, "code": INS_IDENTIFIER_TYPES[system]}]},
            "system": system,
            "value": patient["ins"],
        })
    insee = patient["birth_place_insee"]
    insee_coding: dict[str, Any] = {"code": insee}
    if not insee.startswith("99"):  # 99xxx are INSEE country codes (born abroad), not communes
        insee_coding["system"] = INSEE_COMMUNE_SYSTEM
    reliability: list[dict[str, Any]] = [{"url": "identityStatus",
                                          "valueCoding": {"system": FR_IDENTITY_STATUS_SYSTEM,
                                                          "code": patient["identity_status"]}}]
    if patient.get("identity_method"):
        reliability.append({"url": "methodCollection",
                            "valueCoding": {"system": FR_METHOD_COLLECTION_SYSTEM, "code": patient["identity_method"]}})
    name: dict[str, Any] = {"use": "official", "family": patient["family_name"], "given": [patient["given_name"]]}
    birth_given_names = patient.get("birth_given_names")
    if birth_given_names:
        name["extension"] = [{"url": FR_BIRTH_LIST_GIVEN_NAME, "valueString": birth_given_names}]
    # fr-core-patient-ins makes the list of birth given names mandatory: claim it only when everything is there
    profile = PROFILE_PATIENT_INS if qualified and birth_given_names else PROFILE_PATIENT
    return {
        "resourceType": "Patient",
        "meta": {"profile": [profile]},
        "extension": [
            {"url": FR_IDENTITY_RELIABILITY, "extension": reliability},
            {"url": BIRTH_PLACE_EXTENSION,
             "valueAddress": {"extension": [{"url": FR_INSEE_CODE_EXTENSION, "valueCoding": insee_coding}]}},
        ],
        "identifier": identifiers,
        "name": [name],
        "gender": GENDER[patient["sex"]],
        "birthDate": patient["birth_date"],
    }


def _device_display(m: Mapping[str, Any]) -> str | None:
    parts = [m.get("device_manufacturer"), m.get("device_model")]
    text = " ".join(p for p in parts if p)
    name = m.get("device_name")
    if name and name not in text:
        text = f"{text} ({name})" if text else name
    return text or None


def device_key(m: Mapping[str, Any]) -> tuple[str, str] | None:
    """(system, value) identifying the device that took a measurement: its Bluetooth address, else manufacturer,
    model and serial number; None for manual entries or devices that cannot be told apart."""
    if m.get("device_address"):
        return DEVICE_ADDRESS_SYSTEM, m["device_address"].upper()
    if m.get("device_serial"):
        return DEVICE_SERIAL_SYSTEM, "/".join([m.get("device_manufacturer") or "", m.get("device_model") or "",
                                               m["device_serial"]])
    return None


def device_resource(info: Mapping[str, Any], system: str, value: str) -> dict[str, Any]:
    """Device from the Device Information service strings (`device_*` fields of the measurement rows)."""
    device: dict[str, Any] = {"resourceType": "Device", "identifier": [{"system": system, "value": value}]}
    if info.get("device_manufacturer"):
        device["manufacturer"] = info["device_manufacturer"]
    if info.get("device_model"):
        device["modelNumber"] = info["device_model"]
    if info.get("device_serial"):
        device["serialNumber"] = info["device_serial"]
    if info.get("device_name"):
        device["deviceName"] = [{"name": info["device_name"], "type": "user-friendly-name"}]
    if info.get("device_firmware"):
        device["version"] = [{"value": info["device_firmware"]}]
    return device


def _method(m: Mapping[str, Any]) -> dict[str, Any]:
    if m.get("source") == "manual":
        return {"coding": [{"system": MEASUREMENT_METHOD_SYSTEM, "code": "manual", "display": "Saisie manuelle"}],
                "text": "Saisie manuelle par le soignant"}
    return {"coding": [{"system": MEASUREMENT_METHOD_SYSTEM, "code": "device",
                        "display": "Mesure transmise par l'appareil"}],
            "text": "Mesure transmise par l'appareil connecté (Bluetooth)"}


def _observation_base(kind_profile: str, codings: Sequence[tuple[str, str]], text: str, m: Mapping[str, Any], *,
                      identifier_value: str, patient_ref: str, encounter_ref: str | None, device_ref: str | None,
                      performer_ref: str | None) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [kind_profile]},
        "identifier": [{"system": OBSERVATION_ID_SYSTEM, "value": identifier_value}],
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs",
                                  "display": "Vital Signs"}], "text": "Vital Signs"}],
        "code": {"coding": [{"system": LOINC, "code": c, "display": d} for c, d in codings], "text": text},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": fhir_datetime(m.get("measured_at") or m["received_at"]),
        "method": _method(m),
    }
    if encounter_ref:
        obs["encounter"] = {"reference": encounter_ref}
    if performer_ref:
        obs["performer"] = [{"reference": performer_ref}]
    display = _device_display(m)
    if device_ref or display:
        obs["device"] = {k: v for k, v in (("reference", device_ref), ("display", display)) if v}
    sites = [s.removeprefix("site:") for s in (m.get("status") or ()) if s.startswith("site:")]
    if sites:
        obs["bodySite"] = {"text": sites[0]}
    return obs


def observation_resource(m: Mapping[str, Any], *, identifier_value: str, patient_ref: str,
                         encounter_ref: str | None = None, device_ref: str | None = None,
                         performer_ref: str | None = None) -> dict[str, Any]:
    """One vital-signs Observation. effectiveDateTime: the device time when known, else when the tablet received it."""
    kind = _kind(m)
    if kind.panel:
        raise ValueError(f"{m['code']} is a component of a blood pressure panel, not an Observation of its own")
    obs = _observation_base(kind.profile, kind.sent_codings, kind.display, m, identifier_value=identifier_value,
                            patient_ref=patient_ref, encounter_ref=encounter_ref, device_ref=device_ref,
                            performer_ref=performer_ref)
    if kind.answers is not None:
        if m["value"] not in kind.answers:
            raise ValueError(f"{m['value']!r} is not an answer of {m['code']}")
        del obs["meta"]  # the R4 vital-signs profile wants a Quantity: a coded answer claims no profile
        if kind.code == "supplemental-oxygen":
            obs["code"]["coding"][0]["system"] = NEWS2_INPUT_SYSTEM
            obs["valueBoolean"] = m["value"] == "yes"
        else:
            obs["valueCodeableConcept"] = {"coding": [{"system": kind.answer_system, "code": m["value"],
                                                       "display": kind.answers[m["value"]]}],
                                           "text": kind.answers[m["value"]]}
        return obs
    value = decimal_from_text(m["value"])
    obs["valueQuantity"] = {"value": value, "unit": kind.units[m["unit"]], "system": UCUM, "code": m["unit"]}
    interpretation = _interpretation(interpretation_flag(m["code"], value, m["unit"]))
    if interpretation:
        obs["interpretation"] = interpretation
    return obs


def bp_panel_resource(members: Sequence[Mapping[str, Any]], *, identifier_value: str, patient_ref: str,
                      encounter_ref: str | None = None, device_ref: str | None = None,
                      performer_ref: str | None = None) -> dict[str, Any]:
    """One blood pressure panel (R4 `bp` profile) from the readings of one cuff inflation: systolic and diastolic
    required, mean arterial pressure optional, all as components in mm[Hg] (kPa converted, the values as read kept
    in a note). Time, device and method come from the systolic reading."""
    by_code: dict[str, Mapping[str, Any]] = {}
    for m in members:
        _kind(m)
        if m["code"] not in PANEL_CODES:
            raise ValueError(f"{m['code']} is not a blood pressure component")
        if m["code"] in by_code:
            raise ValueError(f"blood pressure panel holds {m['code']} twice")
        by_code[m["code"]] = m
    missing = [c for c in (BP_SYSTOLIC, BP_DIASTOLIC) if c not in by_code]
    if missing:
        raise ValueError(f"blood pressure panel without {', '.join(missing)}")
    first = by_code[BP_SYSTOLIC]
    obs = _observation_base(f"{VS}/bp", ((BP_PANEL_CODE, BP_PANEL_DISPLAY),), "Blood pressure", first,
                            identifier_value=identifier_value, patient_ref=patient_ref, encounter_ref=encounter_ref,
                            device_ref=device_ref, performer_ref=performer_ref)
    components, read_in_kpa = [], []
    for code in BP_COMPONENT_ORDER:
        m = by_code.get(code)
        if m is None:
            continue
        kind = OBSERVATION_TYPES[code]
        value = decimal_from_text(m["value"])
        if m["unit"] == "kPa":
            read_in_kpa.append(f"{kind.label_fr.lower()} {_fr_quantity(m['value'], 'kPa')}")
            value = kpa_to_mmhg(value)
        component: dict[str, Any] = {
            "code": {"coding": [{"system": LOINC, "code": code, "display": kind.display}], "text": kind.display},
            "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }
        interpretation = _interpretation(interpretation_flag(code, decimal_from_text(m["value"]), m["unit"]))
        if interpretation:
            component["interpretation"] = interpretation
        components.append(component)
    obs["component"] = components
    if read_in_kpa:
        obs["note"] = [{"text": "Valeurs lues en kPa par l'appareil, converties en mmHg : " + ", ".join(read_in_kpa)
                                + "."}]
    return obs


def organization_resource(site: Mapping[str, Any]) -> dict[str, Any]:
    """The site (EHPAD or pharmacy). FR Core: the FINESS in its own slice (FINESS géographique, the place) and as
    the national structure identifier idNatSt = "1" + FINESS under urn:oid:1.2.250.1.71.4.2.2."""
    identifiers: list[dict[str, Any]] = [{"system": SITE_ID_SYSTEM, "value": site["id"]}]
    if site.get("finess"):
        identifiers.append({"use": "official",
                            "type": {"coding": [{"system": FR_IDENTIFIER_TYPE_SYSTEM, "code": "FINEG",
                                                 "display": "FINESS d'entité géographique"}]},
                            "system": FINESS_SYSTEM, "value": site["finess"]})
        identifiers.append({"use": "official",
                            "type": {"coding": [{"system": FR_IDENTIFIER_TYPE_SYSTEM, "code": "IDNST"}]},
                            "system": IDNAT_STRUCT_SYSTEM, "value": f"1{site['finess']}"})
    if site.get("ars_declaration"):
        identifiers.append({"use": "secondary",
                            "type": {"text": "Déclaration ARS de l'équipement de téléconsultation"},
                            "system": ARS_DECLARATION_SYSTEM, "value": site["ars_declaration"]})
    label = SITE_KINDS[site["kind"]]
    return {
        "resourceType": "Organization",
        "meta": {"profile": [PROFILE_ORGANIZATION]},
        "identifier": identifiers,
        "active": True,
        "type": [{"coding": [{"system": SITE_KIND_SYSTEM, "code": site["kind"], "display": label}], "text": label}],
        "name": site["name"],
    }


def organization_key(site: Mapping[str, Any]) -> tuple[str, str]:
    """The identifier the conditional create matches on: the FINESS when known (the same site from any tablet),
    else the local site id."""
    return (FINESS_SYSTEM, site["finess"]) if site.get("finess") else (SITE_ID_SYSTEM, site["id"])


def practitioner_resource(staff: Mapping[str, Any]) -> dict[str, Any]:
    """A staff member: local id always; RPPS (FR Core slice + idNatPs "8" + RPPS) or ADELI (idNatPs "0" + ADELI)."""
    identifiers: list[dict[str, Any]] = [{"system": STAFF_ID_SYSTEM, "value": staff["id"]}]
    identifiers.extend(_national_practitioner_identifiers(staff.get("rpps"), staff.get("adeli")))
    return {
        "resourceType": "Practitioner",
        "meta": {"profile": [PROFILE_PRACTITIONER]},
        "identifier": identifiers,
        "active": bool(staff.get("active", 1)),
        "name": [{"text": staff["display_name"]}],
    }


def _national_practitioner_identifiers(rpps: str | None, adeli: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if rpps:
        out.append({"use": "official",
                    "type": {"coding": [{"system": FR_IDENTIFIER_TYPE_SYSTEM, "code": "RPPS"}]},
                    "system": RPPS_SYSTEM, "value": rpps})
    if rpps or adeli:
        out.append({"use": "official",
                    "type": {"coding": [{"system": FR_IDENTIFIER_TYPE_SYSTEM, "code": "IDNPS"}]},
                    "system": IDNAT_PS_SYSTEM, "value": f"8{rpps}" if rpps else f"0{adeli}"})
    return out


def practitioner_key(staff: Mapping[str, Any]) -> tuple[str, str]:
    if staff.get("rpps"):
        return RPPS_SYSTEM, staff["rpps"]
    if staff.get("adeli"):
        return IDNAT_PS_SYSTEM, f"0{staff['adeli']}"
    return STAFF_ID_SYSTEM, staff["id"]


def practitioner_role_resource(staff: Mapping[str, Any], *, identifier_value: str, practitioner_ref: str,
                               organization_ref: str | None) -> dict[str, Any]:
    label = STAFF_ROLES[staff["role"]]
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "meta": {"profile": [PROFILE_PRACTITIONER_ROLE]},
        "identifier": [{"system": PRACTITIONER_ROLE_ID_SYSTEM, "value": identifier_value}],
        "active": bool(staff.get("active", 1)),
        "practitioner": {"reference": practitioner_ref, "display": staff["display_name"]},
        "code": [{"coding": [{"system": STAFF_ROLE_SYSTEM, "code": staff["role"], "display": label}], "text": label}],
    }
    if organization_ref:
        role["organization"] = {"reference": organization_ref}
    return role


def remote_doctor_resource(name: str | None, rpps: str | None, *, identifier_value: str) -> dict[str, Any]:
    """The remote doctor. With an RPPS, identified by it alone (the same entry in every session with that doctor);
    without, by an identifier of this session (`identifier_value`)."""
    identifiers = (_national_practitioner_identifiers(rpps, None) if rpps
                   else [{"system": REMOTE_DOCTOR_ID_SYSTEM, "value": identifier_value}])
    doctor: dict[str, Any] = {"resourceType": "Practitioner", "meta": {"profile": [PROFILE_PRACTITIONER]},
                              "identifier": identifiers}
    if name:
        doctor["name"] = [{"text": name}]
    return doctor


# -- the bundle -------------------------------------------------------------------------------------------------------

@dataclass
class _Entries:
    """Bundle entries in order, one per fullUrl (a resource reached twice, e.g. the same staff member recording the
    consent and running the session, is sent once)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    by_url: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, resource: dict[str, Any], system: str, value: str) -> dict[str, Any]:
        entry = _entry(resource, system, value)
        existing = self.by_url.get(entry["fullUrl"])
        if existing is not None:
            return existing
        self.items.append(entry)
        self.by_url[entry["fullUrl"]] = entry
        return entry


def _staff_row(staff: Mapping[str, Mapping[str, Any]], staff_id: str) -> Mapping[str, Any]:
    row = staff.get(staff_id)
    if row is None:
        raise ValueError(f"staff member {staff_id!r} is referenced but not given")
    return row


def _observation_groups(measurements: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Each reading alone, except blood pressure components grouped by panel_id, at the place of their first
    reading."""
    groups: list[list[Mapping[str, Any]]] = []
    panels: dict[Any, list[Mapping[str, Any]]] = {}
    for m in measurements:
        kind = _kind(m)
        if kind.panel:
            panel_id = m.get("panel_id")
            if not panel_id:
                raise ValueError(f"{m['code']} reading without panel_id: it cannot make a blood pressure panel")
            if panel_id not in panels:
                panels[panel_id] = []
                groups.append(panels[panel_id])
            panels[panel_id].append(m)
        else:
            groups.append([m])
    return groups


def session_bundle(patient: Mapping[str, Any], session: Mapping[str, Any],
                   measurements: Iterable[Mapping[str, Any]], *, site: Mapping[str, Any] | None = None,
                   staff: Mapping[str, Mapping[str, Any]] | None = None,
                   consents: Sequence[Mapping[str, Any]] = (), notes: Sequence[Mapping[str, Any]] = (),
                   summary: Mapping[str, Any] | None = None, ins_system: str | None = None) -> dict[str, Any]:
    """The transaction Bundle for a session.

    Entries, in this order: Patient, the Observations (in the order the readings were stored), Encounter, Consents,
    Composition (when there is a conclusion, a note or a summary), then the shared resources: Organization,
    Practitioners and PractitionerRoles, the remote doctor's Practitioner, Devices. `staff` maps staff id → row for
    every staff member the session, its consents or its notes refer to. Identifiers come from the rows' ids and the
    session's idempotency key, so the same stored session always gives the same bundle (and bytes)."""
    staff = staff or {}
    measurements = list(measurements)
    key = session["idempotency_key"]
    entries = _Entries()
    patient_entry = entries.add(patient_resource(patient, ins_system=ins_system), PATIENT_ID_SYSTEM, patient["id"])
    patient_ref = patient_entry["fullUrl"]
    shared = _Entries()  # shared resources go after the session's own ones

    org_entry = None
    if site is not None:
        org_entry = shared.add(organization_resource(site), *organization_key(site))
    role_entries: dict[str, dict[str, Any]] = {}

    def role_ref(staff_id: str) -> str:
        if staff_id not in role_entries:
            row = _staff_row(staff, staff_id)
            practitioner = shared.add(practitioner_resource(row), *practitioner_key(row))
            value = f"{staff_id}/{site['id']}" if site is not None else staff_id
            role = practitioner_role_resource(row, identifier_value=value, practitioner_ref=practitioner["fullUrl"],
                                              organization_ref=org_entry["fullUrl"] if org_entry else None)
            role_entries[staff_id] = shared.add(role, PRACTITIONER_ROLE_ID_SYSTEM, value)
        return role_entries[staff_id]["fullUrl"]

    session_staff_ref = role_ref(session["staff_id"]) if session.get("staff_id") else None
    encounter_ref = f"urn:uuid:{resource_uuid(ENCOUNTER_ID_SYSTEM, key)}"

    # devices: one Device per physical device, its Device Information merged over the session's readings
    device_info: dict[tuple[str, str], dict[str, Any]] = {}
    for m in measurements:
        dkey = device_key(m)
        if dkey is not None:
            info = device_info.setdefault(dkey, {})
            for name in ("device_manufacturer", "device_model", "device_serial", "device_name", "device_firmware"):
                if m.get(name) and not info.get(name):
                    info[name] = m[name]
    device_refs = {dkey: shared.add(device_resource(info, *dkey), *dkey)["fullUrl"]
                   for dkey, info in device_info.items()}

    observation_entries = []
    for index, group in enumerate(_observation_groups(measurements), start=1):
        first = group[0]
        dkey = device_key(first)
        refs = dict(patient_ref=patient_ref, encounter_ref=encounter_ref,
                    device_ref=device_refs.get(dkey) if dkey else None, performer_ref=session_staff_ref)
        if OBSERVATION_TYPES[first["code"]].panel:
            value = f"{key}/obs/{index}-{BP_PANEL_CODE}"
            obs = bp_panel_resource(group, identifier_value=value, **refs)
        else:
            value = f"{key}/obs/{index}-{first['code']}"
            obs = observation_resource(first, identifier_value=value, **refs)
        observation_entries.append(entries.add(obs, OBSERVATION_ID_SYSTEM, value))

    doctor_entry = None
    if session.get("remote_doctor_name") or session.get("remote_doctor_rpps"):
        rpps = session.get("remote_doctor_rpps")
        doctor = remote_doctor_resource(session.get("remote_doctor_name"), rpps, identifier_value=f"{key}/doctor")
        doctor_key = (RPPS_SYSTEM, rpps) if rpps else (REMOTE_DOCTOR_ID_SYSTEM, f"{key}/doctor")
        doctor_entry = shared.add(doctor, *doctor_key)

    encounter = encounter_resource(session, patient_ref=patient_ref, staff_role_ref=session_staff_ref,
                                   doctor_ref=doctor_entry["fullUrl"] if doctor_entry else None,
                                   organization_ref=org_entry["fullUrl"] if org_entry else None)
    entries.add(encounter, ENCOUNTER_ID_SYSTEM, key)

    consent_entries = []
    ordered_consents = list(consents)
    for index, consent in enumerate(ordered_consents, start=1):
        value = f"{key}/consent/{index}"
        recorder = role_ref(consent["recorded_by"]) if consent.get("recorded_by") else None
        resource = consent_resource(consent, identifier_value=value, patient_ref=patient_ref,
                                    encounter_ref=encounter_ref, recorder_ref=recorder,
                                    organization_ref=org_entry["fullUrl"] if org_entry else None,
                                    superseded=index < len(ordered_consents))
        consent_entries.append(entries.add(resource, CONSENT_ID_SYSTEM, value))

    for note in notes:
        if note.get("staff_id"):
            role_ref(note["staff_id"])
    if notes or summary is not None:
        # authors: the staff member who ran the session, and the remote doctor when the report holds their words
        authors = [session_staff_ref] if session_staff_ref else []
        if doctor_entry and any(n["kind"] == "remote_doctor_conclusion" for n in notes):
            authors.append(doctor_entry["fullUrl"])
        composition = composition_resource(
            patient, session, measurements, site=site, staff=staff, consents=ordered_consents, notes=notes,
            summary=summary, patient_ref=patient_ref, encounter_ref=encounter_ref,
            observation_refs=[e["fullUrl"] for e in observation_entries],
            consent_refs=[e["fullUrl"] for e in consent_entries], author_refs=authors,
            organization_ref=org_entry["fullUrl"] if org_entry else None)
        entries.add(composition, COMPOSITION_ID_SYSTEM, key)

    for entry in shared.items:
        if entry["fullUrl"] not in entries.by_url:
            entries.items.append(entry)
            entries.by_url[entry["fullUrl"]] = entry
    return {
        "resourceType": "Bundle",
        "identifier": {"system": BUNDLE_ID_SYSTEM, "value": key},
        "type": "transaction",
        "entry": entries.items,
    }


def addendum_bundle(patient: Mapping[str, Any], session: Mapping[str, Any], addendum: Mapping[str, Any], *,
                    author: Mapping[str, Any], ins_system: str | None = None) -> dict[str, Any]:
    """The transaction Bundle for a remark written after a session was closed: a Composition that *appends* to the
    session's report (Composition.relatesTo code `appends`, target by identifier), with the patient and the author
    as conditional creates, and the session's Encounter by its identifier (the session's own bundle is uploaded
    first: sync.outbox claims an addendum only after it). The frozen report itself never changes."""
    key = session["idempotency_key"]
    entries = _Entries()
    patient_ref = entries.add(patient_resource(patient, ins_system=ins_system), PATIENT_ID_SYSTEM,
                              patient["id"])["fullUrl"]
    author_ref = entries.add(practitioner_resource(author), *practitioner_key(author))["fullUrl"]
    composition = {
        "resourceType": "Composition",
        "identifier": {"system": ADDENDUM_ID_SYSTEM, "value": addendum["id"]},
        "status": "final",
        "type": {"coding": [dict(CONSULT_NOTE)],
                 "text": "Addendum au compte rendu de téléconsultation"},
        "subject": {"reference": patient_ref},
        # a logical reference (by identifier): it needs no resolution, so any server stores it as sent (Medplum
        # keeps a conditional reference `Encounter?identifier=…` verbatim, unresolved)
        "encounter": {"type": "Encounter", "identifier": {"system": ENCOUNTER_ID_SYSTEM, "value": key}},
        "date": fhir_datetime(addendum["created_at"]),
        "author": [{"reference": author_ref}],
        "title": "Addendum au compte rendu de téléconsultation assistée",
        "relatesTo": [{"code": "appends",
                       "targetIdentifier": {"system": COMPOSITION_ID_SYSTEM, "value": key}}],
        "section": [{"title": "Addendum",
                     "text": _narrative([f"{addendum['text']} ({author['display_name']}, "
                                         f"{_fr_datetime(addendum['created_at'])})"])}],
    }
    entries.add(composition, ADDENDUM_ID_SYSTEM, addendum["id"])
    return {"resourceType": "Bundle", "identifier": {"system": BUNDLE_ID_SYSTEM, "value": f"{key}/addendum/"
                                                                                         f"{addendum['id']}"},
            "type": "transaction", "entry": entries.items}


_ENCOUNTER_STATUS = {"closed": "finished", "abandoned": "cancelled", "open": "in-progress"}


def encounter_resource(session: Mapping[str, Any], *, patient_ref: str, staff_role_ref: str | None,
                       doctor_ref: str | None, organization_ref: str | None) -> dict[str, Any]:
    """The teleconsultation: class VR (virtual), period = the call when staff noted it, else the session."""
    participants: list[dict[str, Any]] = []
    if staff_role_ref:
        participants.append({"type": [{"coding": [{"system": V3_PARTICIPATION_TYPE, "code": "PART",
                                                   "display": "Participation"}],
                                       "text": "Professionnel accompagnant le patient"}],
                             "individual": {"reference": staff_role_ref}})
    elif session.get("staff"):
        participants.append({"type": [{"coding": [{"system": V3_PARTICIPATION_TYPE, "code": "PART",
                                                   "display": "Participation"}],
                                       "text": "Professionnel accompagnant le patient"}],
                             "individual": {"display": session["staff"]}})
    if doctor_ref:
        participants.append({"type": [{"coding": [{"system": V3_PARTICIPATION_TYPE, "code": "ATND",
                                                   "display": "attender"}],
                                       "text": "Médecin téléconsultant"}],
                             "individual": {"reference": doctor_ref}})
    if session.get("interpreter_present"):
        participants.append({"type": [{"coding": [{"system": PARTICIPANT_TYPE, "code": "translator",
                                                   "display": "Translator"}], "text": "Interprète"}]})
    if session.get("companion_present"):
        participants.append({"type": [{"coding": [{"system": V3_PARTICIPATION_TYPE, "code": "PART",
                                                   "display": "Participation"}],
                                       "text": "Accompagnant du patient (proche, aidant)"}]})
    start = session.get("started_at") or session["opened_at"]
    end = session.get("ended_at") or session.get("closed_at")
    period = {"start": fhir_datetime(start)}
    if end:
        period["end"] = fhir_datetime(end)
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "meta": {"profile": [PROFILE_ENCOUNTER]},
        "identifier": [{"type": {"coding": [{"system": FR_ENCOUNTER_IDENTIFIER_TYPE_SYSTEM, "code": "VN",
                                             "display": "Visit Number"}]},
                        "system": ENCOUNTER_ID_SYSTEM, "value": session["idempotency_key"]}],
        "status": _ENCOUNTER_STATUS.get(session.get("state") or "closed", "finished"),
        "class": {"system": V3_ACT_CODE, "code": "VR", "display": "virtual"},
        "type": [{"text": "Téléconsultation assistée"}],
        "subject": {"reference": patient_ref},
        "period": period,
    }
    if participants:
        encounter["participant"] = participants
    if session.get("reason"):
        encounter["reasonCode"] = [{"text": session["reason"]}]
    if organization_ref:
        encounter["serviceProvider"] = {"reference": organization_ref}
    return encounter


def consent_resource(consent: Mapping[str, Any], *, identifier_value: str, patient_ref: str, encounter_ref: str,
                     recorder_ref: str | None, organization_ref: str | None, superseded: bool) -> dict[str, Any]:
    """One recorded decision (HAS 2019: consent, or its refusal, is recorded with time, who consented and the staff
    member). Status: active (given) / rejected (refused); a decision later replaced in the same session: inactive.
    policyRule (ppc-1): the opt-in rule of art. L1111-4 CSP as restated by HAS 2019."""
    given = consent["decision"] == "given"
    grantor = consent.get("given_by") or "patient"
    if grantor == "patient":
        performer: dict[str, Any] = {"reference": patient_ref}
    else:
        performer = {"display": f"{consent['given_by_name']} ({CONSENT_GRANTORS[grantor]})"}
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "meta": {"profile": [PROFILE_CONSENT]},
        "identifier": [{"system": CONSENT_ID_SYSTEM, "value": identifier_value}],
        "status": "inactive" if superseded else ("active" if given else "rejected"),
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy", "display": "Privacy Consent"}]},
        "category": [{"coding": [{"system": LOINC, "code": "59284-0"}],
                      "text": "Consentement à la téléconsultation"}],
        "patient": {"reference": patient_ref},
        "dateTime": fhir_datetime(consent["recorded_at"]),
        "performer": [performer],
        "policyRule": {"coding": [{"system": V3_ACT_CODE, "code": "OPTIN", "display": "opt-in"}],
                       "text": "Consentement libre et éclairé préalable à la téléconsultation (art. L1111-4 CSP, "
                               "HAS 2019)"},
        "provision": {"type": "permit" if given else "deny",
                      "data": [{"meaning": "dependents", "reference": {"reference": encounter_ref}}]},
    }
    if organization_ref:
        resource["organization"] = [{"reference": organization_ref}]
    if recorder_ref:
        resource["extension"] = [{"url": CONSENT_RECORDED_BY_EXTENSION, "valueReference": {"reference": recorder_ref}}]
    return resource


def _measurement_lines(measurements: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for group in _observation_groups(measurements):
        first = group[0]
        kind = OBSERVATION_TYPES[first["code"]]
        when = _fr_datetime(first.get("measured_at") or first["received_at"])
        how = "saisie manuelle" if first.get("source") == "manual" else "appareil connecté"
        if kind.panel:
            by_code = {m["code"]: m for m in group}
            parts = []
            for code in BP_COMPONENT_ORDER:
                if code in by_code:
                    m = by_code[code]
                    flag = interpretation_flag(code, decimal_from_text(m["value"]), m["unit"])
                    text = f"{OBSERVATION_TYPES[code].label_fr.lower()} {_fr_quantity(m['value'], m['unit'])}"
                    parts.append(f"{text} ({INTERPRETATION_FR[flag]})" if flag else text)
            lines.append(f"Tension artérielle : {', '.join(parts)} — {when}, {how}")
        elif kind.answers is not None:
            answer = ANSWERS_FR.get(first["code"], {}).get(first["value"], first["value"])
            lines.append(f"{kind.label_fr} : {answer} — {when}, {how}")
        else:
            flag = interpretation_flag(first["code"], decimal_from_text(first["value"]), first["unit"])
            text = f"{kind.label_fr} : {_fr_quantity(first['value'], first['unit'])}"
            lines.append(f"{text}{f' ({INTERPRETATION_FR[flag]})' if flag else ''} — {when}, {how}")
    return lines


def _yes_no(value: Any) -> str | None:
    return None if value is None else ("oui" if value else "non")


def composition_resource(patient: Mapping[str, Any], session: Mapping[str, Any],
                         measurements: Sequence[Mapping[str, Any]], *, site: Mapping[str, Any] | None,
                         staff: Mapping[str, Mapping[str, Any]], consents: Sequence[Mapping[str, Any]],
                         notes: Sequence[Mapping[str, Any]], summary: Mapping[str, Any] | None, patient_ref: str,
                         encounter_ref: str, observation_refs: Sequence[str], consent_refs: Sequence[str],
                         author_refs: Sequence[str], organization_ref: str | None) -> dict[str, Any]:
    """The teleconsultation report (LOINC 11488-4 Consult note), in French: reason and context, consent,
    measurements (with references to the Observations), the remote doctor's conclusion, staff notes, and the
    summary for the patient's own doctor (domain.md §2.5: designed to map onto a CI-SIS document later)."""
    context = []
    if site is not None:
        context.append(f"Lieu : {site['name']} ({SITE_KINDS[site['kind']]})")
    if session.get("staff_id"):
        row = _staff_row(staff, session["staff_id"])
        context.append(f"Professionnel accompagnant : {row['display_name']} ({STAFF_ROLES[row['role']]})")
    elif session.get("staff"):
        context.append(f"Professionnel accompagnant : {session['staff']}")
    if session.get("remote_doctor_name") or session.get("remote_doctor_rpps"):
        rpps = f" (RPPS {session['remote_doctor_rpps']})" if session.get("remote_doctor_rpps") else ""
        context.append(f"Médecin téléconsultant : {session.get('remote_doctor_name') or 'non renseigné'}{rpps}")
    start = session.get("started_at") or session["opened_at"]
    end = session.get("ended_at") or session.get("closed_at")
    context.append(f"Début : {_fr_datetime(start)}" + (f" ; fin : {_fr_datetime(end)}" if end else ""))
    if _yes_no(session.get("companion_present")):
        context.append(f"Accompagnant présent : {_yes_no(session.get('companion_present'))}")
    if _yes_no(session.get("interpreter_present")):
        context.append(f"Interprète présent : {_yes_no(session.get('interpreter_present'))}")
    if session.get("callback_phone"):
        context.append(f"Numéro de rappel : {_fr_phone(session['callback_phone'])}")

    sections: list[dict[str, Any]] = [
        {"title": "Motif de la téléconsultation",
         "code": {"coding": [{"system": LOINC, "code": "29299-5"}]},
         "text": _narrative([session.get("reason") or "Motif non renseigné."])},
        {"title": "Déroulement", "text": _narrative(context)},
    ]
    if consents:
        lines = []
        for consent in consents:
            grantor = consent.get("given_by") or "patient"
            who = ("le patient" if grantor == "patient"
                   else f"{consent['given_by_name']} ({CONSENT_GRANTORS[grantor]})")
            verb = "donné" if consent["decision"] == "given" else "refusé"
            recorder = ""
            if consent.get("recorded_by"):
                recorder = f", recueilli par {_staff_row(staff, consent['recorded_by'])['display_name']}"
            lines.append(f"Consentement {verb} par {who} le {_fr_datetime(consent['recorded_at'])}{recorder}.")
        sections.append({"title": "Consentement", "text": _narrative(lines),
                         "entry": [{"reference": r} for r in consent_refs]})
    sections.append({"title": "Mesures", "code": {"coding": [{"system": LOINC, "code": "8716-3"}]},
                     "text": _narrative(_measurement_lines(measurements) or ["Aucune mesure."]),
                     **({"entry": [{"reference": r} for r in observation_refs]} if observation_refs else {})})
    conclusions = [n for n in notes if n["kind"] == "remote_doctor_conclusion"]
    if conclusions:
        sections.append({"title": "Conclusion du médecin téléconsultant",
                         "text": _narrative([f"{n['text']} ({n['author']})" for n in conclusions])})
    staff_notes = [n for n in notes if n["kind"] == "staff_note"]
    if staff_notes:
        sections.append({"title": "Notes de l'équipe soignante",
                         "text": _narrative([f"{n['text']} ({n['author']})" for n in staff_notes])})
    if summary is not None:
        lines = []
        if summary.get("recipient_name") or summary.get("recipient_rpps"):
            rpps = f" (RPPS {summary['recipient_rpps']})" if summary.get("recipient_rpps") else ""
            lines.append(f"Destinataire : {summary.get('recipient_name') or 'médecin traitant'}{rpps}")
        lines.append(summary["text"])
        sections.append({"title": "Synthèse pour le médecin traitant", "text": _narrative(lines)})

    date = session.get("closed_at") or max(
        [n["created_at"] for n in notes] + ([summary["created_at"]] if summary else []))
    authors = [{"reference": r} for r in author_refs]
    if not authors:
        authors = [{"reference": organization_ref}] if organization_ref else [{"display": "Relais"}]
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "identifier": {"system": COMPOSITION_ID_SYSTEM, "value": session["idempotency_key"]},
        "status": "final",
        "type": {"coding": [dict(CONSULT_NOTE)],
                 "text": "Compte rendu de téléconsultation"},
        "subject": {"reference": patient_ref},
        "encounter": {"reference": encounter_ref},
        "date": fhir_datetime(date),
        "author": authors,
        "title": "Compte rendu de téléconsultation assistée",
        "section": sections,
    }
    if organization_ref:
        composition["custodian"] = {"reference": organization_ref}
    return composition


# -- deterministic JSON ---------------------------------------------------------------------------------------------

def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is True or value is False or value is None:
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("JSON cannot hold NaN or infinite decimals")
        out.append(format(value, "f"))  # plain notation, every stored digit kept: Decimal("37.60") → 37.60
    elif isinstance(value, int):
        out.append(str(value))
    else:
        # floats included: a binary float has already lost the decimal precision we promise to keep
        raise TypeError(f"cannot serialise {type(value).__name__} in a FHIR bundle")


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys; Decimals written as their exact text; floats refused."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def dumps_bundle(bundle: Mapping[str, Any]) -> bytes:
    """The frozen wire form of a bundle: deterministic UTF-8 JSON bytes."""
    return dumps(bundle).encode("utf-8")


def loads(data: str | bytes) -> Any:
    """Parse JSON keeping decimals exact (the inverse of `dumps`)."""
    return json.loads(data, parse_float=Decimal)
