"""What the doctor reads, taken out of FHIR R4 resources: a patient, a session (Encounter), its measurements
(Observations), its report (Composition).

Every function here takes a resource as the server stored it, which may not be what Relais sent (another client,
an older version, a hand edit): anything that does not fit becomes an `Unreadable` row with the resource's type and
id, so one bad resource is shown as unreadable and never breaks the page of a patient, a session or the worklist.
The flags are the ones the tablet decided and sent in `Observation.interpretation` (and per blood pressure
component): the page never judges a value itself. NEWS2 is computed with the tablet's own pure rules
(sync.clinical) from the session's values, so the doctor and the tablet show the same score.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sync.clinical.news2 import News2
from sync.clinical.stored import news2_of_readings
from sync.server.doctors import french
from sync.vocabulary import INS_IDENTIFIER_TYPES, OBSERVATION_TYPES

IDENTITY_RELIABILITY = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
ACTIVE_STATUSES = ("planned", "arrived", "triaged", "in-progress", "onleave")  # waiting for the doctor
BP_PANEL = "85354-9"
NEWS2_LOCAL_CODES = ("supplemental-oxygen", "spo2-target-88-92")
LABELS = {**{code: kind.label_fr for code, kind in OBSERVATION_TYPES.items()}, BP_PANEL: "Tension artérielle"}
# ACVPU (RCP NEWS2 2017): alert, new confusion, responds to voice, to pain, unresponsive
ACVPU_WORDS = {"A": "alerte (A)", "C": "confusion récente (C)", "V": "réagit à la voix (V)",
               "P": "réagit à la douleur (P)", "U": "aucune réaction (U)"}
MISSING_WORDS = {"respiration_rate": "fréquence respiratoire", "spo2": "SpO2", "air_or_oxygen": "air ou oxygène",
                 "systolic": "pression systolique", "pulse": "pouls", "consciousness": "conscience",
                 "temperature": "température"}
STATUS_WORDS = {"planned": "demandée", "arrived": "patient arrivé", "triaged": "demandée",
                "in-progress": "en cours", "onleave": "en cours", "finished": "terminée", "cancelled": "annulée",
                "entered-in-error": "saisie erronée"}


@dataclass
class Unreadable:
    """A stored resource that does not fit what the page reads: shown as such, with its type and id."""

    what: str
    id: str


@dataclass
class PatientView:
    id: str
    birth_name: str
    usual_name: str
    birth_date: str
    age: int | None
    sex: str
    identity: str
    ins: str | None  # only on a qualified identity
    site_reference: str | None


@dataclass
class Measurement:
    label: str
    value: str
    flags: list[str]
    when: str
    method: str
    device: str
    code: str
    sort_key: str
    readings: list[dict[str, Any]] = field(default_factory=list)  # NEWS2 inputs: code, value (decimal text), unit


@dataclass
class SessionView:
    id: str
    status: str
    status_words: str
    waiting: bool
    start: str
    start_key: str
    reason: str
    patient_reference: str | None
    site_reference: str | None


def _id(resource: Any) -> str:
    return str(resource.get("id", "?")) if isinstance(resource, dict) else "?"


def reference_id(value: Any, rtype: str) -> str | None:
    """The id of a `Type/id` (or absolute `…/Type/id`) reference, None otherwise."""
    reference = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(reference, str):
        return None
    parts = reference.split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] == rtype and parts[-1] else None


def _name_text(name: dict[str, Any]) -> str:
    given = " ".join(str(g) for g in name.get("given") or [])
    return " ".join(p for p in (str(name.get("family") or "").upper(), given) if p) or str(name.get("text") or "")


def patient_view(resource: Any, today: dt.date) -> PatientView | Unreadable:
    try:
        names = {n.get("use"): n for n in resource.get("name") or [] if isinstance(n, dict)}
        official = names.get("official") or next(iter(names.values()), {})
        usual = names.get("usual")
        status = next((x["valueCoding"].get("code") for ext in resource.get("extension") or []
                       if ext.get("url") == IDENTITY_RELIABILITY for x in ext.get("extension") or []
                       if x.get("url") == "identityStatus"), None)
        ins = next((str(i["value"]) for i in resource.get("identifier") or []
                    if i.get("system") in INS_IDENTIFIER_TYPES and i.get("value")), None)
        return PatientView(
            id=str(resource["id"]), birth_name=_name_text(official), usual_name=_name_text(usual) if usual else "",
            birth_date=french.local_date(resource.get("birthDate")), age=french.age_on(resource.get("birthDate"),
                                                                                      today),
            sex=french.SEX_WORDS.get(str(resource.get("gender")), "Non précisé"),
            identity=french.IDENTITY_STATUS_WORDS.get(str(status), "Statut d'identité inconnu"),
            ins=ins if status == "QUAL" else None,
            site_reference=(resource.get("managingOrganization") or {}).get("reference"))
    except (AttributeError, KeyError, TypeError):
        return Unreadable("Patient", _id(resource))


def session_view(resource: Any) -> SessionView | Unreadable:
    try:
        status = str(resource["status"])
        start = (resource.get("period") or {}).get("start")
        moment = french.parse_instant(start)
        reasons = [str(r.get("text") or "") for r in resource.get("reasonCode") or []]
        return SessionView(
            id=str(resource["id"]), status=status, status_words=STATUS_WORDS.get(status, status),
            waiting=status in ACTIVE_STATUSES, start=french.local_time(moment),
            start_key=moment.astimezone(dt.timezone.utc).isoformat() if moment else "",
            reason="; ".join(r for r in reasons if r), patient_reference=(resource.get("subject") or {}).get(
                "reference"), site_reference=(resource.get("serviceProvider") or {}).get("reference"))
    except (AttributeError, KeyError, TypeError):
        return Unreadable("Encounter", _id(resource))


def _flags(item: dict[str, Any], name: str = "") -> list[str]:
    codes = [str(c["code"]) for i in item.get("interpretation") or [] for c in i.get("coding") or [] if c.get("code")]
    return [f"{name} {french.flag_words(code)} ({code})".strip() for code in codes]


def _quantity(quantity: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    value = quantity["value"]
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
        raise TypeError("not a number")
    code = quantity.get("code") or quantity.get("unit")
    text = f"{french.number(value)} {french.unit_text(code, quantity.get('unit'))}".strip()
    return text, {"value": format(Decimal(str(value)), "f"), "unit": str(code)}


def _codes(concept: dict[str, Any]) -> list[str]:
    return [str(c.get("code")) for c in concept.get("coding") or [] if c.get("code")]


def _panel(resource: dict[str, Any]) -> tuple[str, list[str], list[dict[str, Any]]]:
    parts, flags, readings = [], [], []
    for component in resource.get("component") or []:
        code = next(iter(_codes(component["code"])), "")
        label = LABELS.get(code, str(component["code"].get("text") or code))
        text, reading = _quantity(component["valueQuantity"])
        parts.append(f"{label.lower()} {text}")
        flags += _flags(component, label)
        readings.append({"code": code, **(reading or {})})
    values = {r["code"]: r for r in readings}
    if "8480-6" in values and "8462-4" in values:  # "139/78 mmHg (moyenne 98)", as charted
        systolic, diastolic = values["8480-6"], values["8462-4"]
        unit = french.unit_text(systolic.get("unit"))
        mean = f" (moyenne {french.number(values['8478-0']['value'])})" if "8478-0" in values else ""
        return (f"{french.number(systolic['value'])}/{french.number(diastolic['value'])} {unit}{mean}", flags,
                readings)
    return ", ".join(parts), flags, readings


def _value(resource: dict[str, Any], code: str) -> tuple[str, list[dict[str, Any]]]:
    if "valueQuantity" in resource:
        text, reading = _quantity(resource["valueQuantity"])
        return text, [{"code": code, **(reading or {})}]
    if isinstance(resource.get("valueBoolean"), bool):
        answer = "yes" if resource["valueBoolean"] else "no"
        words = {"supplemental-oxygen": {"yes": "sous oxygène", "no": "air ambiant"}}.get(code, {})
        return words.get(answer, "oui" if resource["valueBoolean"] else "non"), [{"code": code, "value": answer,
                                                                                 "unit": ""}]
    concept = resource["valueCodeableConcept"]
    answer = next(iter(_codes(concept)), "")
    words = ACVPU_WORDS.get(answer) if code == "67775-7" else None
    return words or str(concept.get("text") or answer), [{"code": code, "value": answer, "unit": ""}]


def measurement(resource: Any) -> Measurement | Unreadable:
    """One Observation as a row; its blood pressure components in one line, each flag named by its component."""
    try:
        codes = _codes(resource["code"])
        code = next((c for c in codes if c in LABELS), codes[0] if codes else "")
        if code == BP_PANEL:
            value, flags, readings = _panel(resource)
        else:
            (value, readings), flags = _value(resource, code), _flags(resource)
        method_codes = _codes(resource.get("method") or {})
        when = resource.get("effectiveDateTime")
        moment = french.parse_instant(when)
        return Measurement(
            label=LABELS.get(code) or str(resource["code"].get("text") or code), value=value, flags=flags,
            when=french.local_time(moment), code=code,
            method="saisie manuelle" if "manual" in method_codes else "appareil connecté" if method_codes else "",
            device=str((resource.get("device") or {}).get("display") or ""),
            sort_key=moment.astimezone(dt.timezone.utc).isoformat() if moment else "", readings=readings)
    except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError):
        return Unreadable("Observation", _id(resource))


def session_news2(rows: list[Measurement | Unreadable]) -> News2 | None:
    """NEWS2 over the session's readings in time order (the last of each kind wins, as on the tablet)."""
    readings = [r for m in sorted((m for m in rows if isinstance(m, Measurement)), key=lambda m: m.sort_key)
                for r in m.readings if r.get("value") not in (None, "")]
    try:
        return news2_of_readings(readings)
    except (ValueError, KeyError, ArithmeticError):
        return None


def news2_text(score: News2 | None) -> str:
    if score is None:
        return ""
    band = french.NEWS2_BANDS.get(score.risk, score.risk)
    floor = " au moins" if score.at_least else ""
    missing = f" (non renseigné : {', '.join(MISSING_WORDS.get(m, m) for m in score.missing)})" \
        if score.missing else ""
    return f"{score.score} —{floor} {band}{missing}"


@dataclass
class ReportSection:
    title: str
    lines: list[str]


_TAG = re.compile(r"<[^>]+>")
_PARAGRAPH_END = re.compile(r"</(p|li|div|tr|h\d)>|<br\s*/?>", re.IGNORECASE)


def narrative_lines(div: Any) -> list[str]:
    """The XHTML narrative as plain lines of text (the template escapes them once)."""
    if not isinstance(div, str):
        return []
    text = html.unescape(_TAG.sub(" ", _PARAGRAPH_END.sub("\n", div)))
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def report_sections(resource: Any) -> list[ReportSection] | Unreadable:
    """The Composition's sections (reason, course, measurements, conclusions, 15 call, notes, summary)."""
    try:
        return [ReportSection(str(s.get("title") or ""), narrative_lines((s.get("text") or {}).get("div")))
                for s in resource.get("section") or []]
    except (AttributeError, TypeError):
        return Unreadable("Composition", _id(resource))
