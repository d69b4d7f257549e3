"""Build the FHIR R4 transaction Bundle for one closed session. Pure functions, no I/O.

Why it looks like this (see shared/notes/sync.md):
- every resource carries an identifier derived from data minted once on the tablet (the local patient id, the
  session idempotency key), and every entry is a conditional create (`ifNoneExist`), so resending the same bundle
  after a lost acknowledgement never duplicates anything on the server;
- `ifNoneExist` holds the query part only (`identifier=SYSTEM|VALUE`): the `Patient?identifier=` form silently
  creates duplicates on some engines;
- the bundle is frozen at session close and resent byte for byte, so serialisation is deterministic
  (`dumps_bundle`: sorted keys, no floats) and decimals keep the precision the device sent ("37.60" stays 37.60).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping
from urllib.parse import quote

NS = "https://relais.example.org/fhir/sid"
PATIENT_ID_SYSTEM = f"{NS}/patient-id"
OBSERVATION_ID_SYSTEM = f"{NS}/observation-id"
BUNDLE_ID_SYSTEM = f"{NS}/session"

INS_NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# FR Core (Interop-Sante/hl7.fhir.fr.core): identity reliability extension, its status code system (the 4 RNIV
# statuses), the INS identifier type, and the birth place INSEE code extension.
FR_IDENTITY_RELIABILITY = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
FR_IDENTITY_STATUS_SYSTEM = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-identity-status"
FR_IDENTIFIER_TYPE_SYSTEM = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
FR_INSEE_CODE_EXTENSION = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
INSEE_COMMUNE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"
BIRTH_PLACE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"

# INS sex (F/M/I) → FHIR administrative gender. FR Core's INS gender value set (fr-core-vs-patient-gender-INS)
# allows male | female | unknown only, so "I" (indéterminé) maps to "unknown", not "other".
GENDER = {"F": "female", "M": "male", "I": "unknown"}


@dataclass(frozen=True)
class ObservationType:
    """How one LOINC code becomes a vital-signs Observation. Append entries to OBSERVATION_TYPES for new devices."""

    code: str
    display: str
    profile: str
    units: Mapping[str, str]  # allowed UCUM codes → human unit text


OBSERVATION_TYPES: dict[str, ObservationType] = {
    "8310-5": ObservationType("8310-5", "Body temperature", "http://hl7.org/fhir/StructureDefinition/bodytemp",
                              {"Cel": "Cel", "[degF]": "[degF]"}),
}

_DECIMAL_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def decimal_from_text(text: str) -> Decimal:
    """A JSON-number-shaped decimal string ("37.60") → Decimal keeping every digit; anything else → ValueError."""
    if not isinstance(text, str) or not _DECIMAL_TEXT.fullmatch(text):
        raise ValueError(f"not a decimal string: {text!r}")
    return Decimal(text)


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


def patient_resource(patient: Mapping[str, Any]) -> dict[str, Any]:
    """Patient with the local id identifier always, the INS only on a qualified identity (RNIV: only a QUAL
    identity may carry and share the INS)."""
    identifiers: list[dict[str, Any]] = [{"system": PATIENT_ID_SYSTEM, "value": patient["id"]}]
    if patient.get("identity_status") == "QUAL" and patient.get("ins"):
        identifiers.append({
            "use": "official",
            "type": {"coding": [{"system": FR_IDENTIFIER_TYPE_SYSTEM, "code": "INS-NIR"}]},
            "system": INS_NIR_SYSTEM,
            "value": patient["ins"],
        })
    insee = patient["birth_place_insee"]
    insee_coding: dict[str, Any] = {"code": insee}
    if not insee.startswith("99"):  # 99xxx are INSEE country codes (born abroad), not communes
        insee_coding["system"] = INSEE_COMMUNE_SYSTEM
    return {
        "resourceType": "Patient",
        "extension": [
            {"url": FR_IDENTITY_RELIABILITY,
             "extension": [{"url": "identityStatus",
                            "valueCoding": {"system": FR_IDENTITY_STATUS_SYSTEM,
                                            "code": patient["identity_status"]}}]},
            {"url": BIRTH_PLACE_EXTENSION,
             "valueAddress": {"extension": [{"url": FR_INSEE_CODE_EXTENSION, "valueCoding": insee_coding}]}},
        ],
        "identifier": identifiers,
        "name": [{"use": "official", "family": patient["family_name"], "given": [patient["given_name"]]}],
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


def observation_resource(m: Mapping[str, Any], *, identifier_value: str, patient_ref: str) -> dict[str, Any]:
    """One vital-signs Observation. effectiveDateTime: the device time when known, else when the tablet received it."""
    kind = OBSERVATION_TYPES.get(m["code"])
    if kind is None:
        raise ValueError(f"unsupported observation code {m['code']!r}")
    if m["unit"] not in kind.units:
        raise ValueError(f"unit {m['unit']!r} not allowed for {m['code']}")
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [kind.profile]},
        "identifier": [{"system": OBSERVATION_ID_SYSTEM, "value": identifier_value}],
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs",
                                  "display": "Vital Signs"}], "text": "Vital Signs"}],
        "code": {"coding": [{"system": LOINC, "code": kind.code, "display": kind.display}], "text": kind.display},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": fhir_datetime(m.get("measured_at") or m["received_at"]),
        "valueQuantity": {"value": decimal_from_text(m["value"]), "unit": kind.units[m["unit"]], "system": UCUM,
                          "code": m["unit"]},
        "method": {"text": "manual entry" if m.get("source") == "manual" else "Bluetooth device"},
    }
    device = _device_display(m)
    if device:
        obs["device"] = {"display": device}
    sites = [s.removeprefix("site:") for s in (m.get("status") or ()) if s.startswith("site:")]
    if sites:
        obs["bodySite"] = {"text": sites[0]}
    return obs


def session_bundle(patient: Mapping[str, Any], session: Mapping[str, Any],
                   measurements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The transaction Bundle for a session: the Patient, then one Observation per measurement, in the given order.

    Identifiers come from the patient id and the session's idempotency key, so the same stored session always
    gives the same bundle (and the same bytes through `dumps_bundle`)."""
    key = session["idempotency_key"]
    patient_entry = _entry(patient_resource(patient), PATIENT_ID_SYSTEM, patient["id"])
    entries = [patient_entry]
    for index, m in enumerate(measurements, start=1):
        value = f"{key}/obs/{index}-{m['code']}"
        obs = observation_resource(m, identifier_value=value, patient_ref=patient_entry["fullUrl"])
        entries.append(_entry(obs, OBSERVATION_ID_SYSTEM, value))
    return {
        "resourceType": "Bundle",
        "identifier": {"system": BUNDLE_ID_SYSTEM, "value": key},
        "type": "transaction",
        "entry": entries,
    }


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
