"""The doctor's page of the development server (`GET /`): the patients received, their observations and the
consultation reports, as one HTML page in French.

Every piece of text is escaped (the data comes from tablets), the narrative XHTML of a Composition is shown as text,
and the HTTP front serves the page with a Content-Security-Policy that allows no script at all. It shows patient
data, so it needs the token when the server has one (sync.server.access).

Each value's flag is the one the tablet decided and sent in `Observation.interpretation` (and in each blood pressure
component's), shown in words with its code; the page never judges a value itself.
"""
from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any

from sync.server.resources import ResourceDB


def _text(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _quantity_text(quantity: dict[str, Any]) -> str:
    value = quantity.get("value")
    value_text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return f"{value_text} {quantity.get('unit') or quantity.get('code') or ''}".strip()


def _observation_value(obs: dict[str, Any]) -> str:
    """A value, or a panel's components (blood pressure: systolic / diastolic / mean)."""
    if obs.get("valueQuantity"):
        return _quantity_text(obs["valueQuantity"])
    if isinstance(obs.get("valueCodeableConcept"), dict):
        return str(obs["valueCodeableConcept"].get("text") or "—")
    if isinstance(obs.get("valueBoolean"), bool):
        return "yes" if obs["valueBoolean"] else "no"
    parts = [f"{(c.get('code') or {}).get('text') or ''} {_quantity_text(c.get('valueQuantity') or {})}".strip()
             for c in obs.get("component") or [] if c.get("valueQuantity")]
    return " · ".join(parts) or "—"


# HL7 v3 ObservationInterpretation codes in words a French doctor reads.
FLAG_WORDS = {"LL": "très bas", "L": "bas", "H": "élevé", "HH": "très élevé"}


def _flag_words(concepts: Any) -> list[str]:
    """The flags of one `interpretation` list: "très bas (LL)"."""
    codes = [c.get("code") for i in concepts or [] if isinstance(i, dict) for c in i.get("coding") or []
             if isinstance(c, dict) and c.get("code")]
    return [f"{FLAG_WORDS[code]} ({code})" if code in FLAG_WORDS else str(code) for code in codes]


def observation_flags(obs: dict[str, Any]) -> str:
    """The observation's flags as sent, and a panel's component flags named by their component."""
    flags = _flag_words(obs.get("interpretation"))
    for component in obs.get("component") or []:
        name = (component.get("code") or {}).get("text") or ""
        flags += [f"{name} : {words}".strip(" :") for words in _flag_words(component.get("interpretation"))]
    return ", ".join(flags)


def html_overview(db: ResourceDB) -> str:
    """The received patients and their observations; every piece of text escaped."""
    parts = ["<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Relais – serveur de développement"
             "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #999;padding:.2em .5em}</style></head><body>"
             "<h1>Relais – données reçues</h1>"]
    patients = db.search("Patient", [])
    if not patients:
        parts.append("<p>Aucun patient reçu.</p>")
    for patient in patients:
        name = (patient.get("name") or [{}])[0]
        full_name = " ".join([name.get("family") or "", *(name.get("given") or [])]).strip()
        parts.append(f"<section><h2>{_text(full_name)}</h2><p>Né(e) le {_text(patient.get('birthDate'))} · "
                     f"{_text(patient.get('gender'))} · id {_text(patient.get('id'))}</p><ul>")
        for ident in patient.get("identifier") or []:
            parts.append(f"<li>{_text(ident.get('system'))} | {_text(ident.get('value'))}</li>")
        parts.append("</ul>")
        observations = db.search("Observation", [("subject", f"Patient/{patient['id']}")])
        if observations:
            parts.append("<table><tr><th>Mesure</th><th>Valeur</th><th>Alerte</th><th>Méthode</th><th>Date</th>"
                         "</tr>")
            for obs in sorted(observations, key=lambda o: o.get("effectiveDateTime") or ""):
                flags = observation_flags(obs)
                parts.append(f"<tr><td>{_text((obs.get('code') or {}).get('text'))}</td>"
                             f"<td>{_text(_observation_value(obs))}</td>"
                             f"<td><strong>{_text(flags)}</strong></td>"
                             f"<td>{_text((obs.get('method') or {}).get('text'))}</td>"
                             f"<td>{_text(obs.get('effectiveDateTime'))}</td></tr>")
            parts.append("</table>")
        for composition in db.search("Composition", [("subject", f"Patient/{patient['id']}")]):
            parts.append(f"<h3>{_text(composition.get('title'))} — {_text(composition.get('date'))}</h3>")
            for section in composition.get("section") or []:
                text = (section.get("text") or {}).get("div", "")
                plain = re.sub(r"<[^>]+>", " ", text)  # the narrative is XHTML: show it as text, escaped
                parts.append(f"<p><em>{_text(section.get('title'))}</em> : {_text(' '.join(plain.split()))}</p>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "".join(parts)
