"""The remote doctors' conclusions coming down to the tablet: `ClinicalImpression?_tag=<site tag>`, each read with
the shared reader (sync.fhir.exchange.read_conclusions) and matched to this tablet's session by the key in its
identifier (sync.store.conclusions keeps the versions and what staff accepted).

Two ways it runs, on the same cursor (scope `ClinicalImpression@<site>`), so neither reads a page twice:
- with the regular pull of a site (sync.pull.run);
- on its own, every few seconds while a call is going on or an advice request waits (`pull_conclusions`): one
  search per site, nothing else, so it stays light.
A resource that cannot be read is skipped and counted; one for another tablet's session is ignored and counted
("foreign"): nothing of either is stored.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from typing import Any

from sync.fhir.bundle import site_tag
from sync.fhir.exchange import read_conclusions
from sync.pull.client import SearchClient
from sync.pull.paging import PAGE_SIZE, pull_search
from sync.store import Store
from sync.store import conclusions as conclusion_rows

log = logging.getLogger(__name__)

RESOURCE_TYPE = "ClinicalImpression"


def apply_conclusions(store: Store, resource: dict[str, Any], *, now: dt.datetime) -> str:
    """One ClinicalImpression: "created", "updated", "unchanged", "foreign"; ValueError when it does not read as
    a doctor's conclusions (the caller counts it as skipped)."""
    c = read_conclusions(resource)
    if not c.resource_id:
        raise ValueError("a ClinicalImpression without its server id")
    fields = {"resource_id": c.resource_id, "version": c.version, "doctor_name": c.doctor_name,
              "doctor_rpps": c.doctor_rpps, "conclusion": c.conclusion, "orientation": c.orientation,
              "orientation_detail": c.orientation_detail, "prescriptions": c.prescriptions,
              "written_at": c.written_at}
    return conclusion_rows.receive(store, c.session_key, fields, now=now)


def search_params(site: dict[str, Any]) -> list[tuple[str, str]]:
    tag = site_tag(site)
    return [("_tag", f"{tag['system']}|{tag['code']}")]


def scope(site: dict[str, Any]) -> str:
    return f"{RESOURCE_TYPE}@{site.get('finess') or site['id']}"


def apply_page(store: Store, counts: Counter, resources: list[dict[str, Any]], *, now: dt.datetime) -> None:
    """Each resource under a savepoint, inside the page's transaction: one that fails leaves nothing behind."""
    for resource in resources:
        store.conn.execute("SAVEPOINT pull_conclusions")
        try:
            status = apply_conclusions(store, resource, now=now)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            store.conn.execute("ROLLBACK TO pull_conclusions")
            store.conn.execute("RELEASE pull_conclusions")
            log.warning("pull: a ClinicalImpression was skipped (%s)", type(exc).__name__)
            counts["skipped"] += 1
            continue
        store.conn.execute("RELEASE pull_conclusions")
        counts[status] += 1


def pull_site_conclusions(store: Store, client: SearchClient, site: dict[str, Any], counts: Counter, *,
                          now: dt.datetime, page_size: int = PAGE_SIZE) -> int:
    """Read the site's conclusions from its cursor to the end; the number of pages read."""
    result = pull_search(store, client, scope(site), RESOURCE_TYPE, search_params(site),
                         lambda s, matches, included: apply_page(s, counts, matches, now=now), page_size=page_size)
    return result.pages


def pull_conclusions(store: Store, client: SearchClient, *, now: dt.datetime | None = None) -> Counter:
    """The light pull: only the conclusions, for every site of this tablet. PullError when the server cannot be
    read (what was stored stays, with its cursor). Returns the counts (created, updated, unchanged, skipped,
    foreign)."""
    now = now or store.now()
    counts: Counter = Counter()
    for site in store.list_sites():
        pull_site_conclusions(store, client, site, counts, now=now)
    return counts
