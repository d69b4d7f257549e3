"""Which site each stored resource belongs to, and the rule that keeps a tablet inside its own sites.

The rule: a stored resource belongs to the sites its upload named, recorded by the server at write time in the
`resource_sites` table (never guessed again later from the JSON):
- a site is named by its key, the same string the tablet registry lists (sync.server.tablets): the FINESS when the
  site has one, else its local site id — the code of the site's `meta.tag` (sync.fhir.bundle.site_tag) and the
  identifier the tablet's Organization is found by (sync.fhir.resources.organization_key);
- an Organization names its own key (every FINESS it carries, else every local site id); any other resource names
  the codes of its site `meta.tag` (SITE_TAG_SYSTEM) and the sites of the Organizations it references
  (managingOrganization, serviceProvider, PractitionerRole.organization…);
- a resource naming no site (a Practitioner, a Device, an audit extract) belongs to the sites its whole bundle names;
- a conditional create or update that matches a stored resource names that resource's sites.

What a tablet registered for sites S may do (the open server and the single shared token have no S: anything):
- every site its bundle names is in S, and the bundle names at least one (else 403, nothing stored);
- conditional creates, conditional updates and conditional references (`Type?identifier=SYSTEM|VALUE`) match only
  resources of S: a resource of another site is as invisible as a missing one (no answer tells it exists);
- a conditional on an Organization by FINESS or local site id names that site, so it must be in S;
- every other reference — literal `Type/id`, `Type/id/_history/n`, an absolute URL ending so — points at an entry
  of the same bundle or at a stored resource of S; `#contained` references stay local; any other form is refused;
- reads and searches (with their `_include`s) see only resources of S.
Resources stored before this table existed are given the sites their JSON names (tags, Organizations), once.
"""
from __future__ import annotations

import re
import sqlite3
from typing import Any, Iterable, Iterator

from sync.fhir import FINESS_SYSTEM, SITE_ID_SYSTEM, SITE_TAG_SYSTEM
from sync.server.outcome import FhirError

SCHEMA = """
CREATE TABLE IF NOT EXISTS resource_sites (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    site TEXT NOT NULL,
    PRIMARY KEY (type, id, site)
);
CREATE INDEX IF NOT EXISTS resource_sites_by_site ON resource_sites(type, site, id);
"""

SITE_SYSTEMS = (FINESS_SYSTEM, SITE_ID_SYSTEM)
# `Type/id`, `Type/id/_history/n`, or an absolute URL ending so: the target as `Type/id`
_LITERAL = re.compile(r"(?:.*/)?([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?")

Scope = frozenset[str] | None  # the sites a token is registered for; None: any site


def forbidden(diagnostics: str) -> FhirError:
    return FhirError(403, diagnostics, "forbidden")


def organization_sites(organization: dict[str, Any]) -> set[str]:
    """An Organization's site key(s): every FINESS it carries, else every local site id."""
    found: dict[str, set[str]] = {system: set() for system in SITE_SYSTEMS}
    for ident in organization.get("identifier") or ():
        if isinstance(ident, dict) and ident.get("system") in SITE_SYSTEMS and isinstance(ident.get("value"), str):
            found[ident["system"]].add(ident["value"])
    return found[FINESS_SYSTEM] or found[SITE_ID_SYSTEM]


def tag_sites(resource: dict[str, Any]) -> set[str]:
    meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    return {str(tag.get("code")) for tag in meta.get("tag") or () if isinstance(tag, dict)
            and tag.get("system") == SITE_TAG_SYSTEM and tag.get("code")}


def reference_strings(node: Any) -> Iterator[str]:
    """Every `reference` string anywhere in a resource."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                yield item["reference"]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def literal_target(reference: str) -> str | None:
    """`Type/id` of a literal or absolute reference; None for any other form."""
    match = _LITERAL.fullmatch(reference)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def owners(conn: sqlite3.Connection, rtype: str, resource_id: str) -> set[str]:
    return {row[0] for row in conn.execute("SELECT site FROM resource_sites WHERE type = ? AND id = ?",
                                           (rtype, resource_id))}


INSERT = "INSERT INTO resource_sites (type, id, site) VALUES (?, ?, ?)"


def owner_rows(rtype: str, resource_id: str, sites: Iterable[str]) -> list[tuple[str, str, str]]:
    """The rows of the resource_sites table recording a resource as of these sites (INSERT's parameters)."""
    return [(rtype, resource_id, site) for site in sorted(set(sites))]


def write_owners(conn: sqlite3.Connection, rtype: str, resource_id: str, sites: Iterable[str]) -> None:
    conn.execute("DELETE FROM resource_sites WHERE type = ? AND id = ?", (rtype, resource_id))
    conn.executemany(INSERT, owner_rows(rtype, resource_id, sites))


def scope_condition(scope: Scope, rtype_column: str = "r.type", id_column: str = "r.id") -> tuple[str, list[str]]:
    """An SQL condition keeping the rows of resources of `scope` ("1" without a scope)."""
    if scope is None:
        return "1", []
    marks = ", ".join("?" * len(scope))
    return (f"EXISTS (SELECT 1 FROM resource_sites s WHERE s.type = {rtype_column} AND s.id = {id_column} "
            f"AND s.site IN ({marks}))", sorted(scope))


def visible(conn: sqlite3.Connection, scope: Scope, rtype: str, resource_id: str) -> bool:
    return scope is None or bool(owners(conn, rtype, resource_id) & scope)


def check_named(scope: Scope, sites: set[str], where: str) -> None:
    """Every site named must be one of the token's."""
    if scope is not None and not sites <= scope:
        raise forbidden(f"{where} names a site this tablet is not registered for")


def backfill(conn: sqlite3.Connection, stored: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
    """Sites of resources stored before the table existed: what their JSON names (tags, Organizations)."""
    stored = list(stored)
    org_sites = {f"Organization/{rid}": organization_sites(res) for rtype, rid, res in stored
                 if rtype == "Organization"}
    for rtype, resource_id, resource in stored:
        sites = organization_sites(resource) if rtype == "Organization" else tag_sites(resource)
        for reference in reference_strings(resource):
            target = literal_target(reference)
            if target in org_sites:
                sites |= org_sites[target]
        write_owners(conn, rtype, resource_id, sites)
