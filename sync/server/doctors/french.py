"""How the doctors' pages word things: French, local time of metropolitan France, units a clinician reads.

- times: an instant of the record (FHIR `dateTime` with its offset) shown in Europe/Paris as dd/mm/yyyy HH:MM
  (IANA time zone database, through the standard library's zoneinfo);
- units: the UCUM code a value travels with, in the text a clinician reads ("Cel" → "°C", "mm[Hg]" → "mmHg":
  UCUM print symbols, https://ucum.org/ucum);
- flags: HL7 v3 ObservationInterpretation codes (H, HH, L, LL) in words, as the tablet decided them;
- identity status: the four statuses of the Référentiel national d'identitovigilance (RNIV, volet 1, 2021):
  provisoire, récupérée, validée, qualifiée.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

UNIT_TEXT = {"Cel": "°C", "[degF]": "°F", "mm[Hg]": "mmHg", "kPa": "kPa", "%": "%", "/min": "/min"}
FLAG_WORDS = {"LL": "très bas", "L": "bas", "H": "élevé", "HH": "très élevé"}
IDENTITY_STATUS_WORDS = {"PROV": "Identité provisoire", "RECUP": "Identité récupérée",
                         "VALI": "Identité validée", "QUAL": "Identité qualifiée"}
SEX_WORDS = {"female": "Femme", "male": "Homme", "other": "Autre", "unknown": "Non précisé"}
NEWS2_BANDS = {"high": "risque élevé", "medium": "risque moyen", "low_medium": "risque faible à moyen",
               "low": "risque faible", "incomplete": "incomplet"}


def parse_instant(value: Any) -> dt.datetime | None:
    """A FHIR dateTime with an offset → an aware datetime; None for anything else (a bare date has no time)."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def local_time(value: Any) -> str:
    """"26/11/2026 18:21" in Paris time, "" when the value is not an instant."""
    moment = value if isinstance(value, dt.datetime) else parse_instant(value)
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M") if moment is not None else ""


def local_clock(moment: dt.datetime) -> str:
    """"18:21:07" in Paris time: when the live part of a page was last read."""
    return moment.astimezone(PARIS).strftime("%H:%M:%S")


def waited(since: dt.datetime | None, now: dt.datetime) -> str:
    """How long a request has waited, as a clinician says it: "moins d'une minute", "12 min", "2 h 05", "3 j"."""
    if since is None:
        return ""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 1:
        return "moins d'une minute"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d}"
    return f"{minutes // (24 * 60)} j"


def local_date(value: Any) -> str:
    """A FHIR date "1939-06-20" → "20/06/1939"; "" otherwise."""
    try:
        return dt.date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return ""


def age_on(birth_date: Any, today: dt.date) -> int | None:
    try:
        born = dt.date.fromisoformat(str(birth_date))
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def number(value: Any) -> str:
    """A decimal with a French comma: 36.9 → "36,9"; "" for what is not a number."""
    if isinstance(value, bool):
        return ""
    try:
        decimal = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    return format(decimal, "f").replace(".", ",")


def unit_text(code: Any, unit: Any = None) -> str:
    """The human unit of a UCUM code (the code itself when unknown, never a raw "Cel")."""
    return UNIT_TEXT.get(str(code), UNIT_TEXT.get(str(unit), str(unit or code or "")))


def flag_words(code: str) -> str:
    return FLAG_WORDS.get(code, code)
