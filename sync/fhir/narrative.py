"""The human-readable side of the bundle, in French: the XHTML narrative of HL7 FHIR R4 (Narrative.div, text
escaped, status "generated"), and how a French reader expects to see a value: a decimal comma, the unit's symbol
after a non-breaking space, wall-clock time in Europe/Paris, a phone number in pairs of digits, coded answers in
words.
"""
from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from typing import Iterable

# A coded answer (stored code) as a French reader expects it, by LOINC code.
ANSWERS_FR = {"67775-7": {"A": "alerte (A)", "C": "confusion récente (C)", "V": "réagit à la voix (V)",
                          "P": "réagit à la douleur (P)", "U": "aucune réaction (U)"},
              "supplemental-oxygen": {"yes": "sous oxygène", "no": "air ambiant"},
              "spo2-target-88-92": {"yes": "oui", "no": "non"}}

# UCUM code → the symbol shown in the text.
UNIT_SYMBOLS = {"Cel": "°C", "[degF]": "°F", "%": "%", "/min": "/min", "mm[Hg]": "mmHg", "kPa": "kPa"}

try:
    from zoneinfo import ZoneInfo
    _PARIS: dt.tzinfo | None = ZoneInfo("Europe/Paris")
except Exception:  # noqa: BLE001 - no tz database: times are shown with their own offset
    _PARIS = None


def narrative(lines: Iterable[str]) -> dict[str, str]:
    """A generated Narrative: one paragraph per non-empty line, the text escaped."""
    body = "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines if line)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def fr_number(value: Decimal | str) -> str:
    """37.60 → 37,60: every stored digit, a decimal comma."""
    text = format(value, "f") if isinstance(value, Decimal) else value
    return text.replace(".", ",")


def fr_quantity(value: Decimal | str, unit: str) -> str:
    """A value and its unit symbol, joined by a non-breaking space: 38,50 °C."""
    return f"{fr_number(value)}\u00a0{UNIT_SYMBOLS.get(unit, unit)}"


def fr_datetime(value: str) -> str:
    """Narrative time: French wall-clock time (Europe/Paris), as staff and doctors read it."""
    moment = dt.datetime.fromisoformat(value)
    if _PARIS is not None:
        return f"{moment.astimezone(_PARIS):%d/%m/%Y %H:%M}"
    offset = moment.strftime("%z")
    return f"{moment:%d/%m/%Y %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def fr_phone(number: str) -> str:
    """0123456789 → 01 23 45 67 89; other numbers as stored."""
    return " ".join(number[i:i + 2] for i in range(0, 10, 2)) if len(number) == 10 and number.isdigit() else number


def yes_no(value: object) -> str | None:
    """oui / non, or None when the question was not answered."""
    return None if value is None else ("oui" if value else "non")
