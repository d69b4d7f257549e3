"""The people, places and things of a session as HL7 FHIR R4 resources, on the FR Core profiles where they exist:
Patient (fr-core-patient, fr-core-patient-ins), Practitioner and PractitionerRole (fr-core-practitioner, -role),
Organization (fr-core-organization), Device, Encounter (fr-core-encounter) and Consent (fr-core-consent). Each
depends only on its own row and the references it is given, so a shared resource (Patient, Organization,
Practitioner, PractitionerRole, Device) is byte-identical in every session that uses it. Times are FHIR dateTimes
with their zone (`fhir_datetime`).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from sync.fhir.terminology import (ARS_DECLARATION_SYSTEM, BIRTH_PLACE_EXTENSION, CONSENT_GRANTORS,
                                   CONSENT_ID_SYSTEM, CONSENT_RECORDED_BY_EXTENSION, CONSENT_SCOPE,
                                   DEVICE_ADDRESS_SYSTEM, DEVICE_SERIAL_SYSTEM, ENCOUNTER_ID_SYSTEM,
                                   FINESS_SYSTEM, FR_BIRTH_LIST_GIVEN_NAME, FR_ENCOUNTER_IDENTIFIER_TYPE_SYSTEM,
                                   FR_IDENTIFIER_TYPE_SYSTEM, FR_IDENTITY_RELIABILITY, FR_IDENTITY_STATUS_SYSTEM,
                                   FR_INSEE_CODE_EXTENSION, FR_METHOD_COLLECTION_SYSTEM,
                                   FR_VALIDATION_MODE_SYSTEM, GENDER, IDNAT_PS_SYSTEM,
                                   IDNAT_STRUCT_SYSTEM, INSEE_COMMUNE_SYSTEM, LOINC, PARTICIPANT_TYPE,
                                   PATIENT_ID_SYSTEM, PRACTITIONER_ROLE_ID_SYSTEM, PROFILE_CONSENT, PROFILE_ENCOUNTER,
                                   PROFILE_ORGANIZATION, PROFILE_PATIENT, PROFILE_PATIENT_INS, PROFILE_PRACTITIONER,
                                   PROFILE_PRACTITIONER_ROLE, REMOTE_DOCTOR_ID_SYSTEM, RESIDENT_ID_SYSTEM,
                                   ROOM_EXTENSION, RPPS_SYSTEM, SITE_ID_SYSTEM, SITE_KIND_SYSTEM, SITE_KINDS,
                                   STAFF_ID_SYSTEM, STAFF_ROLE_SYSTEM, STAFF_ROLES, V2_0203, V3_ACT_CODE,
                                   V3_PARTICIPATION_TYPE)
from sync.vocabulary import INS_IDENTIFIER_TYPES


def fhir_datetime(value: str) -> str:
    """An ISO date-time with a timezone, as FHIR requires when a time is given. Naive values are refused:
    guessing the zone here would silently shift the measurement time."""
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("date-time without a timezone")
    return parsed.isoformat()


def staff_row(staff: Mapping[str, Mapping[str, Any]], staff_id: str) -> Mapping[str, Any]:
    """The row of a staff member a session, a consent or a note refers to (given by the caller)."""
    row = staff.get(staff_id)
    if row is None:
        raise ValueError(f"staff member {staff_id!r} is referenced but not given")
    return row


# -- patient ----------------------------------------------------------------------------------------------------------

def _patient_identifiers(patient: Mapping[str, Any], ins_system: str, qualified: bool) -> list[dict[str, Any]]:
    identifiers: list[dict[str, Any]] = [{"system": PATIENT_ID_SYSTEM, "value": patient["id"]}]
    if patient.get("resident_id"):
        identifiers.append({"use": "usual",
                            "type": {"coding": [{"system": V2_0203, "code": "PI",
                                                 "display": "Patient internal identifier"}]},
                            "system": RESIDENT_ID_SYSTEM, "value": patient["resident_id"]})
    if qualified:
        identifiers.append({
            "use": "official",
            "type": {"coding": [{"system": FR_IDENTIFIER_TYPE_SYSTEM, "code": INS_IDENTIFIER_TYPES[ins_system]}]},
            "system": ins_system,
            "value": patient["ins"],
        })
    return identifiers


def _site_details(patient: Mapping[str, Any], organization_ref: str | None) -> dict[str, Any]:
    """What lets another tablet of the site find the resident again: the site that manages them
    (managingOrganization), their room (an extension of this product) and their médecin traitant
    (generalPractitioner: a contained Practitioner with the RPPS when known, the name and the MSSanté address as an
    email `telecom`; contained, so the Patient stays self-contained and identical in every bundle)."""
    details: dict[str, Any] = {}
    if patient.get("room"):
        details["extension"] = [{"url": ROOM_EXTENSION, "valueString": patient["room"]}]
    if organization_ref:
        details["managingOrganization"] = {"reference": organization_ref}
    if patient.get("gp_name") or patient.get("gp_rpps") or patient.get("gp_mssante"):
        gp: dict[str, Any] = {"resourceType": "Practitioner", "id": "gp"}
        if patient.get("gp_rpps"):
            gp["identifier"] = _national_practitioner_identifiers(patient["gp_rpps"], None)
        if patient.get("gp_name"):
            gp["name"] = [{"text": patient["gp_name"]}]
        if patient.get("gp_mssante"):
            gp["telecom"] = [{"system": "email", "value": patient["gp_mssante"], "use": "work"}]
        details.update(contained=[gp], generalPractitioner=[{"reference": "#gp"}])
    return details


def patient_resource(patient: Mapping[str, Any], *, ins_system: str,
                     organization_ref: str | None = None) -> dict[str, Any]:
    """Patient with the local id identifier always, the resident number when known, the INS only on a qualified
    identity (RNIV: only a QUAL identity may carry and share the INS), under the INS authority `ins_system`. The
    birth name is the "official" HumanName, the usual name (when there is one) a second, "usual" one; the document
    a validated identity was checked against goes in the identity-reliability extension (validationMode). The site,
    the room and the médecin traitant: `_site_details`."""
    if ins_system not in INS_IDENTIFIER_TYPES:
        raise ValueError(f"unknown INS authority {ins_system!r}")
    qualified = patient.get("identity_status") == "QUAL" and bool(patient.get("ins"))
    identifiers = _patient_identifiers(patient, ins_system, qualified)
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
    if patient.get("identity_document"):
        reliability.append({"url": "validationMode",
                            "valueCoding": {"system": FR_VALIDATION_MODE_SYSTEM, "code": patient["identity_document"]}})
    name: dict[str, Any] = {"use": "official", "family": patient["family_name"], "given": [patient["given_name"]]}
    birth_given_names = patient.get("birth_given_names")
    if birth_given_names:
        name["extension"] = [{"url": FR_BIRTH_LIST_GIVEN_NAME, "valueString": birth_given_names}]
    names = [name]
    if patient.get("usual_name"):  # the name used (nom utilisé): HumanName.use "usual"
        names.append({"use": "usual", "family": patient["usual_name"], "given": [patient["given_name"]]})
    # fr-core-patient-ins makes the list of birth given names mandatory: claim it only when everything is there
    profile = PROFILE_PATIENT_INS if qualified and birth_given_names else PROFILE_PATIENT
    details = _site_details(patient, organization_ref)
    return {
        "resourceType": "Patient",
        "meta": {"profile": [profile]},
        **({"contained": details.pop("contained")} if "contained" in details else {}),
        "extension": [
            {"url": FR_IDENTITY_RELIABILITY, "extension": reliability},
            {"url": BIRTH_PLACE_EXTENSION,
             "valueAddress": {"extension": [{"url": FR_INSEE_CODE_EXTENSION, "valueCoding": insee_coding}]}},
            *details.pop("extension", []),
        ],
        "identifier": identifiers,
        "name": names,
        "gender": GENDER[patient["sex"]],
        "birthDate": patient["birth_date"],
        **details,
    }


# -- devices ----------------------------------------------------------------------------------------------------------

def device_display(m: Mapping[str, Any]) -> str | None:
    """Manufacturer, model and advertised name of the device that took a reading, as one line (None if unknown)."""
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


# -- site and staff ---------------------------------------------------------------------------------------------------

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
    """The identifier the conditional create matches on: the RPPS, else idNatPs from the ADELI, else the local id."""
    if staff.get("rpps"):
        return RPPS_SYSTEM, staff["rpps"]
    if staff.get("adeli"):
        return IDNAT_PS_SYSTEM, f"0{staff['adeli']}"
    return STAFF_ID_SYSTEM, staff["id"]


def practitioner_role_resource(staff: Mapping[str, Any], *, identifier_value: str, practitioner_ref: str,
                               organization_ref: str | None) -> dict[str, Any]:
    """A staff member's role (aide-soignant, infirmier…) at the site."""
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


# -- encounter and consent --------------------------------------------------------------------------------------------

_ENCOUNTER_STATUS = {"closed": "finished", "abandoned": "cancelled", "open": "in-progress"}


def _participation(text: str) -> list[dict[str, Any]]:
    """Encounter.participant.type "PART" (v3 ParticipationType) with our words for who it is (a new list each time:
    resources share no mutable part)."""
    return [{"coding": [{"system": V3_PARTICIPATION_TYPE, "code": "PART", "display": "Participation"}], "text": text}]


def _encounter_participants(session: Mapping[str, Any], staff_role_ref: str | None,
                            doctor_ref: str | None) -> list[dict[str, Any]]:
    """The accompanying staff member, the remote doctor, an interpreter, a companion: who took part in the call."""
    participants: list[dict[str, Any]] = []
    if staff_role_ref:
        participants.append({"type": _participation("Professionnel accompagnant le patient"),
                             "individual": {"reference": staff_role_ref}})
    elif session.get("staff"):
        participants.append({"type": _participation("Professionnel accompagnant le patient"),
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
        participants.append({"type": _participation("Accompagnant du patient (proche, aidant)")})
    return participants


def encounter_resource(session: Mapping[str, Any], *, patient_ref: str, staff_role_ref: str | None,
                       doctor_ref: str | None, organization_ref: str | None) -> dict[str, Any]:
    """The teleconsultation: class VR (virtual), period = the call when staff noted it, else the session."""
    participants = _encounter_participants(session, staff_role_ref, doctor_ref)
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
