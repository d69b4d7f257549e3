"""A new tablet joins a site the server already knows: `python -m sync pull --site FINESS` (or the site id another
tablet gave it) finds the site's Organization on the server and records the site here under the same id, so the
first pull brings its residents, staff and history without anyone retyping the site.

The Organization is found by its identifier (FHIR R4 search `Organization?identifier=SYSTEM|VALUE`): the FINESS
géographique first (the same place from any tablet), then the product's site id. Exactly one match is adopted;
none, or several, is a refusal with nothing stored.
"""
from __future__ import annotations

from typing import Any

from sync.errors import RelaisError
from sync.fhir import FINESS_SYSTEM, SITE_ID_SYSTEM
from sync.fhir.terminology import SITE_KIND_SYSTEM
from sync.pull.client import SearchClient, split_entries
from sync.store import Store


class SiteNotFound(RelaisError):
    """No (or more than one) Organization on the server carries this FINESS or site id."""


def _identifier(organization: dict[str, Any], system: str) -> str | None:
    for ident in organization.get("identifier") or ():
        if isinstance(ident, dict) and ident.get("system") == system and isinstance(ident.get("value"), str):
            return ident["value"]
    return None


def _kind(organization: dict[str, Any]) -> str | None:
    for concept in organization.get("type") or ():
        for coding in (concept.get("coding") or ()) if isinstance(concept, dict) else ():
            if isinstance(coding, dict) and coding.get("system") == SITE_KIND_SYSTEM:
                return coding.get("code")
    return None


def find_organization(client: SearchClient, wanted: str) -> dict[str, Any]:
    """The one Organization whose FINESS, else whose site id, is `wanted`; SiteNotFound otherwise."""
    for system in (FINESS_SYSTEM, SITE_ID_SYSTEM):
        matches, _ = split_entries(client.search("Organization", [("identifier", f"{system}|{wanted}")]))
        organizations = [m for m in matches if m.get("resourceType") == "Organization"]
        if len(organizations) == 1:
            return organizations[0]
        if len(organizations) > 1:
            raise SiteNotFound("pull.site.ambiguous", site=wanted)
    raise SiteNotFound("pull.site.unknown", site=wanted)


def adopt_site(store: Store, client: SearchClient, wanted: str) -> str:
    """This tablet's id of the site `wanted` (FINESS or site id): the local one when the site is already here,
    else the server's, recorded here. Raises SiteNotFound, or the store's refusal of what the server holds."""
    for site in store.list_sites():
        if wanted in (site["id"], site.get("finess")):
            return site["id"]
    organization = find_organization(client, wanted)
    site_id = _identifier(organization, SITE_ID_SYSTEM)
    if site_id is None:
        raise SiteNotFound("pull.site.unknown", site=wanted)
    return store.adopt_site(site_id=site_id, kind=_kind(organization) or "", name=organization.get("name") or "",
                            finess=_identifier(organization, FINESS_SYSTEM))
