"""Readings as HL7 FHIR R4 vital-signs Observations (profiles bodytemp, oxygensat, heartrate, resprate, bp): LOINC
code, UCUM quantity, method (device or manual entry), device, body site and interpretation flag.

The blood pressure cuff's systolic, diastolic and mean pressure (stored with one shared `panel_id`) become ONE panel
Observation, LOINC 85354-9, with components: the mean arterial pressure comes from the same cuff inflation at the
same instant, and an Observation of its own would show it as an independent measurement. The R4 `bp` profile fixes
mm[Hg]: a reading in kPa is converted (rounded to the mmHg) and the values as read are kept in Observation.note.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from sync.fhir.interpretation import interpretation_concept
from sync.fhir.narrative import fr_quantity
from sync.fhir.resources import device_display, fhir_datetime
from sync.fhir.terminology import (LOINC, MEASUREMENT_METHOD_SYSTEM, NEWS2_INPUT_SYSTEM, OBSERVATION_CATEGORY,
                                   OBSERVATION_ID_SYSTEM, UCUM)
from sync.vocabulary import (BP_COMPONENT_ORDER, BP_DIASTOLIC, BP_PANEL_CODE, BP_PANEL_DISPLAY, BP_SYSTOLIC,
                             NEWS2_YES_NO_INPUTS, OBSERVATION_TYPES, PANEL_CODES, VS, ObservationType,
                             decimal_from_text, kpa_to_mmhg)


def observation_type(m: Mapping[str, Any]) -> ObservationType:
    """What a reading is, from its LOINC code; an unknown code or a unit its type does not allow is refused."""
    kind = OBSERVATION_TYPES.get(m["code"])
    if kind is None:
        raise ValueError(f"unsupported observation code {m['code']!r}")
    if m["unit"] not in kind.units:
        raise ValueError(f"unit {m['unit']!r} not allowed for {m['code']}")
    return kind


def observation_groups(measurements: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Each reading alone, except blood pressure components grouped by panel_id, at the place of their first
    reading."""
    groups: list[list[Mapping[str, Any]]] = []
    panels: dict[Any, list[Mapping[str, Any]]] = {}
    for m in measurements:
        kind = observation_type(m)
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
    display = device_display(m)
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
    kind = observation_type(m)
    if kind.panel:
        raise ValueError(f"{m['code']} is a component of a blood pressure panel, not an Observation of its own")
    obs = _observation_base(kind.profile, kind.sent_codings, kind.display, m, identifier_value=identifier_value,
                            patient_ref=patient_ref, encounter_ref=encounter_ref, device_ref=device_ref,
                            performer_ref=performer_ref)
    if kind.answers is not None:
        if m["value"] not in kind.answers:
            raise ValueError(f"{m['value']!r} is not an answer of {m['code']}")
        del obs["meta"]  # the R4 vital-signs profile wants a Quantity: a coded answer claims no profile
        if kind.code in NEWS2_YES_NO_INPUTS:
            obs["code"]["coding"][0]["system"] = NEWS2_INPUT_SYSTEM
            obs["valueBoolean"] = m["value"] == "yes"
        else:
            obs["valueCodeableConcept"] = {"coding": [{"system": kind.answer_system, "code": m["value"],
                                                       "display": kind.answers[m["value"]]}],
                                           "text": kind.answers[m["value"]]}
        return obs
    value = decimal_from_text(m["value"])
    obs["valueQuantity"] = {"value": value, "unit": kind.units[m["unit"]], "system": UCUM, "code": m["unit"]}
    interpretation = interpretation_concept(m.get("interpretation"))
    if interpretation:
        obs["interpretation"] = interpretation
    return obs


def _panel_members(members: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The readings of one panel by LOINC code: blood pressure components only, each once, systolic and diastolic
    present."""
    by_code: dict[str, Mapping[str, Any]] = {}
    for m in members:
        observation_type(m)
        if m["code"] not in PANEL_CODES:
            raise ValueError(f"{m['code']} is not a blood pressure component")
        if m["code"] in by_code:
            raise ValueError(f"blood pressure panel holds {m['code']} twice")
        by_code[m["code"]] = m
    missing = [c for c in (BP_SYSTOLIC, BP_DIASTOLIC) if c not in by_code]
    if missing:
        raise ValueError(f"blood pressure panel without {', '.join(missing)}")
    return by_code


def bp_panel_resource(members: Sequence[Mapping[str, Any]], *, identifier_value: str, patient_ref: str,
                      encounter_ref: str | None = None, device_ref: str | None = None,
                      performer_ref: str | None = None) -> dict[str, Any]:
    """One blood pressure panel (R4 `bp` profile) from the readings of one cuff inflation: systolic and diastolic
    required, mean arterial pressure optional, all as components in mm[Hg] (kPa converted, the values as read kept
    in a note). Time, device and method come from the systolic reading."""
    by_code = _panel_members(members)
    obs = _observation_base(f"{VS}/bp", ((BP_PANEL_CODE, BP_PANEL_DISPLAY),), "Blood pressure", by_code[BP_SYSTOLIC],
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
            read_in_kpa.append(f"{kind.label_fr.lower()} {fr_quantity(m['value'], 'kPa')}")
            value = kpa_to_mmhg(value)
        component: dict[str, Any] = {
            "code": {"coding": [{"system": LOINC, "code": code, "display": kind.display}], "text": kind.display},
            "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }
        interpretation = interpretation_concept(m.get("interpretation"))
        if interpretation:
            component["interpretation"] = interpretation
        components.append(component)
    obs["component"] = components
    if read_in_kpa:
        obs["note"] = [{"text": "Valeurs lues en kPa par l'appareil, converties en mmHg : " + ", ".join(read_in_kpa)
                                + "."}]
    return obs
