"""What the development server indexes of each stored resource so that a search can find it: its references (the
site that manages a resident, the site of an Encounter, the Encounter of an Observation…), its tags and its
clinical date, one row per value in the `search_index` table.

The search parameters follow the HL7 FHIR R4 search parameter registry (Patient `organization` =
Patient.managingOrganization, PractitionerRole `organization` / `practitioner`, Encounter `service-provider` and
`subject`, Observation and Composition `encounter` and `subject`, Task `patient` (Task.for) and `encounter`,
ClinicalImpression `encounter` and `patient`, Task `status`, `_tag` = Resource.meta.tag, `date` =
Observation.effective / Encounter.period); dates are kept as UTC instants with microseconds in one fixed format, so
comparing the text compares the instants.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any, Iterable

SCHEMA = """
CREATE TABLE IF NOT EXISTS search_index (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_index_lookup ON search_index(type, name, value);
CREATE INDEX IF NOT EXISTS search_index_of_resource ON search_index(type, id);
"""

# (resource type, search parameter) → the element holding the Reference
REFERENCES: dict[tuple[str, str], str] = {
    ("Patient", "organization"): "managingOrganization",
    ("PractitionerRole", "organization"): "organization",
    ("PractitionerRole", "practitioner"): "practitioner",
    ("Encounter", "service-provider"): "serviceProvider",
    ("Encounter", "subject"): "subject",
    ("Encounter", "patient"): "subject",
    ("Observation", "encounter"): "encounter",
    ("Observation", "subject"): "subject",
    ("Composition", "encounter"): "encounter",
    ("Composition", "subject"): "subject",
    ("Task", "patient"): "for",
    ("Task", "encounter"): "encounter",
    ("ClinicalImpression", "encounter"): "encounter",
    ("ClinicalImpression", "patient"): "subject",
}
# (resource type, search parameter) → the element holding a code (a token search on its value, R4 "token")
TOKENS: dict[tuple[str, str], str] = {("Task", "status"): "status"}
# resource type → the element `date` searches (a dateTime, or a Period whose start counts)
DATES: dict[str, str] = {"Observation": "effectiveDateTime", "Encounter": "period", "Composition": "date"}


def utc_text(moment: dt.datetime) -> str:
    """The one text form of an instant in the index: UTC, microseconds."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def parse_instant(text: str) -> dt.datetime:
    """A FHIR date, dateTime or instant as an aware datetime (a date alone: its midnight; no zone: UTC)."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def reference_of(resource: dict[str, Any], element: str) -> str | None:
    """The literal `Type/id` a Reference element holds (None for a contained, logical or absent reference)."""
    value = resource.get(element)
    if isinstance(value, list):
        value = value[0] if value else None
    reference = value.get("reference") if isinstance(value, dict) else None
    if isinstance(reference, str) and "/" in reference and not reference.startswith(("#", "urn:")):
        return "/".join(reference.split("/")[-2:])
    return None


def _date_of(resource: dict[str, Any], element: str) -> str | None:
    value = resource.get(element)
    if isinstance(value, dict):
        value = value.get("start")
    if not isinstance(value, str):
        return None
    try:
        return utc_text(parse_instant(value))
    except ValueError:
        return None


def index_rows(rtype: str, resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(parameter, value) pairs to index for a stored resource."""
    rows = [(name, ref) for (t, name), element in REFERENCES.items() if t == rtype
            for ref in [reference_of(resource, element)] if ref]
    for tag in (resource.get("meta") or {}).get("tag") or ():
        if isinstance(tag, dict) and tag.get("code"):
            rows.append(("_tag", f"{tag.get('system') or ''}|{tag['code']}"))
    rows += [(name, resource[element]) for (t, name), element in TOKENS.items()
             if t == rtype and isinstance(resource.get(element), str)]
    if rtype in DATES:
        date = _date_of(resource, DATES[rtype])
        if date:
            rows.append(("date", date))
    return rows


INSERT = "INSERT INTO search_index (type, id, name, value) VALUES (?, ?, ?, ?)"


def table_rows(rtype: str, resource_id: str, resource: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The rows of the search_index table for a stored resource (INSERT's parameters)."""
    return [(rtype, resource_id, name, value) for name, value in index_rows(rtype, resource)]


def write_index(conn: sqlite3.Connection, rtype: str, resource_id: str, resource: dict[str, Any]) -> None:
    conn.executemany(INSERT, table_rows(rtype, resource_id, resource))


def backfill(conn: sqlite3.Connection, stored: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
    """Index resources stored before the index existed (a server file from an earlier version)."""
    for rtype, resource_id, resource in stored:
        write_index(conn, rtype, resource_id, resource)
