"""The human-readable side of the bundle, in French: the XHTML narrative of HL7 FHIR R4 (Narrative.div, text
escaped, status "generated"), and how a French reader expects to see a value: a decimal comma, the unit's symbol
after a non-breaking space, wall-clock time in Europe/Paris, a phone number in pairs of digits, coded answers in
words.
"""
from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from typing import Any, Iterable, Mapping

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


def doctor_fr(name: str) -> str:
    """A doctor as the report names them: "Dr Jeanne Martin" (a name given with its title keeps it)."""
    name = name.strip()
    first = name.split(" ", 1)[0].rstrip(".").lower()
    return name if first in ("dr", "docteur", "pr", "professeur") else f"Dr {name}"


def conclusions_attribution_fr(note: Mapping[str, Any], transcriber: Mapping[str, Any] | None,
                               role_label: str | None) -> str | None:
    """Who wrote the remote doctor's conclusions, as the report says it: the doctor themselves (signed in their own
    application, accepted unchanged) or the staff member who typed what the doctor said. None for notes whose
    origin was not recorded (written before the tablet kept it)."""
    doctor = doctor_fr(note["author"])
    if note.get("written_by") == "doctor":
        rpps = f" (RPPS {note['author_rpps']})" if note.get("author_rpps") else ""
        return f"Conclusions rédigées par le {doctor}{rpps}"
    if note.get("written_by") == "staff" and transcriber is not None:
        role = f" ({role_label[0].lower()}{role_label[1:]})" if role_label else ""
        return f"Conclusions du {doctor} transcrites par {transcriber['display_name']}{role}"
    return None
