"""The pull of a tablet's sites: for each site in `sites`, its residents, the staff known there and the last 90
days of history, each read with its own cursor (sync.pull.paging), each page stored in one transaction.

Per site, one search per kind of record, each the same on the development server and on Medplum (both verified):
- residents: `Patient?organization=Organization/<site>` (Patient.managingOrganization);
- staff: `PractitionerRole?organization=…&_include=PractitionerRole:practitioner`;
- history: `Encounter|Observation|Composition?_tag=<site tag>&date=ge<90 days ago>`, including the resident (and,
  for a report, its Encounter), so a page never refers to someone the tablet does not know yet;
- the remote doctors' conclusions for this tablet's sessions: `ClinicalImpression?_tag=<site tag>`
  (sync.pull.conclusions; another tablet's are counted as "foreign" and not stored).
A resource that cannot be read is counted as skipped and nothing of it is stored; one whose resident is not on this
tablet (refused as a probable duplicate) is skipped too, never attached to someone else.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from sync import fhir
from sync.errors import RelaisError
from sync.fhir.bundle import site_tag
from sync.pull import history
from sync.pull.client import SearchClient, split_entries
from sync.pull.conclusions import pull_site_conclusions
from sync.pull.paging import PAGE_SIZE, pull_search
from sync.pull.residents import apply_patient, identifier_value
from sync.pull.staff import apply_staff
from sync.retention import HISTORY_DAYS
from sync.store import Store

log = logging.getLogger(__name__)

KINDS = ("residents", "staff", "sessions", "observations", "reports", "conclusions")
_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, RelaisError)
# a resource that came along with another (`_include`) is counted by its own search, not twice
_INCLUDED = ("unchanged", "duplicate", "own", "skipped")


@dataclass
class PullReport:
    counts: dict[str, Counter] = field(default_factory=lambda: {k: Counter() for k in KINDS})
    pages: int = 0
    requests: int = 0
    bytes: int = 0
    sites_not_on_server: int = 0

    def summary(self) -> dict[str, Any]:
        statuses = ("created", "updated", "unchanged", "skipped")
        return {"counts": {k: {s: self.counts[k].get(s, 0) for s in statuses} | {
                    s: n for s, n in self.counts[k].items() if s not in statuses}
                    for k in KINDS},
                "pages": self.pages, "requests": self.requests, "bytes": self.bytes,
                "sites_not_on_server": self.sites_not_on_server}


def _each(store: Store, counts: Counter, resources: list[dict[str, Any]], apply_one: Callable[[dict], str],
          *, quiet: tuple[str, ...] = ()) -> None:
    """Apply each resource under a savepoint: one that cannot be read leaves nothing behind and is counted."""
    for resource in resources:
        store.conn.execute("SAVEPOINT pull_resource")
        try:
            status = apply_one(resource)
        except _UNREADABLE as exc:
            store.conn.execute("ROLLBACK TO pull_resource")
            store.conn.execute("RELEASE pull_resource")
            log.warning("pull: a %s was skipped (%s)", resource.get("resourceType"), type(exc).__name__)
            if "skipped" not in quiet:
                counts["skipped"] += 1
            continue
        store.conn.execute("RELEASE pull_resource")
        if status not in quiet:
            counts[status] += 1


class _SitePull:
    """The searches of one site, and how each page is applied."""

    def __init__(self, store: Store, site: dict[str, Any], report: PullReport, now: dt.datetime) -> None:
        self.store, self.site, self.report, self.now = store, site, report, now
        self.key = site.get("finess") or site["id"]

    def _residents(self, resources: list[dict[str, Any]], *, quiet: tuple[str, ...]) -> dict[str, str]:
        """Apply Patients; their server id → local id, for those the tablet holds."""
        _each(self.store, self.report.counts["residents"], resources,
              lambda r: apply_patient(self.store, r, now=self.now), quiet=quiet)
        mapping = {}
        for resource in resources:
            ident = identifier_value(resource, fhir.PATIENT_ID_SYSTEM)
            if ident and self.store.db.execute("SELECT 1 FROM patients WHERE id = ?", [ident]).fetchone():
                mapping[f"Patient/{resource.get('id')}"] = ident
        return mapping

    def _subject(self, resource: dict[str, Any], patients: dict[str, str]) -> str:
        reference = (resource.get("subject") or {}).get("reference") or ""
        local = patients.get("/".join(reference.split("/")[-2:]))
        if local is None:
            raise ValueError("the resident of this record is not on this tablet")
        return local

    def apply_residents(self, store: Store, matches: list, included: list) -> None:
        self._residents(matches, quiet=())

    def apply_staff(self, store: Store, matches: list, included: list) -> None:
        practitioners = {f"Practitioner/{r.get('id')}": r for r in included if r.get("resourceType") == "Practitioner"}

        def one(role: dict[str, Any]) -> str:
            reference = (role.get("practitioner") or {}).get("reference") or ""
            practitioner = practitioners.get("/".join(reference.split("/")[-2:]))
            if practitioner is None:
                raise ValueError("a PractitionerRole whose Practitioner did not come with it")
            return apply_staff(store, role, practitioner, now=self.now)

        _each(store, self.report.counts["staff"], matches, one)

    def _sessions(self, encounters: list[dict[str, Any]], patients: dict[str, str], quiet: tuple[str, ...]) -> None:
        _each(self.store, self.report.counts["sessions"], encounters, lambda e: history.apply_encounter(
            self.store, e, patient_id=self._subject(e, patients), site_id=self.site["id"], now=self.now), quiet=quiet)

    def apply_sessions(self, store: Store, matches: list, included: list) -> None:
        patients = self._residents([r for r in included if r.get("resourceType") == "Patient"],
                                   quiet=_INCLUDED)
        self._sessions(matches, patients, ())

    def apply_observations(self, store: Store, matches: list, included: list) -> None:
        patients = self._residents([r for r in included if r.get("resourceType") == "Patient"],
                                   quiet=_INCLUDED)
        _each(store, self.report.counts["observations"], matches, lambda o: history.apply_observation(
            store, o, patient_id=self._subject(o, patients), now=self.now, refresh=False))
        history.refresh_news2(store, {history.session_of(o) for o in matches} - {None})

    def apply_reports(self, store: Store, matches: list, included: list) -> None:
        patients = self._residents([r for r in included if r.get("resourceType") == "Patient"],
                                   quiet=_INCLUDED)
        self._sessions([r for r in included if r.get("resourceType") == "Encounter"], patients, _INCLUDED)
        _each(store, self.report.counts["reports"], matches,
              lambda c: history.apply_composition(store, c, now=self.now))


def _organization_id(client: SearchClient, site: dict[str, Any]) -> str | None:
    system, value = fhir.organization_key(site)
    matches, _ = split_entries(client.search("Organization", [("identifier", f"{system}|{value}")]))
    return str(matches[0]["id"]) if matches else None


def pull_site(store: Store, client: SearchClient, site: dict[str, Any], report: PullReport, *, now: dt.datetime,
              page_size: int = PAGE_SIZE) -> None:
    organization = _organization_id(client, site)
    if organization is None:  # nothing of this site has reached the server yet
        report.sites_not_on_server += 1
        return
    work = _SitePull(store, site, report, now)
    tag = site_tag(site)
    by_site = [("_tag", f"{tag['system']}|{tag['code']}"),
               ("date", f"ge{(now - dt.timedelta(days=HISTORY_DAYS)).date().isoformat()}")]
    org = ("organization", f"Organization/{organization}")
    searches = [
        ("Patient", [org], work.apply_residents),
        ("PractitionerRole", [org, ("_include", "PractitionerRole:practitioner")], work.apply_staff),
        ("Encounter", [*by_site, ("_include", "Encounter:subject")], work.apply_sessions),
        ("Observation", [*by_site, ("_include", "Observation:subject")], work.apply_observations),
        ("Composition", [*by_site, ("_include", "Composition:subject"), ("_include", "Composition:encounter")],
         work.apply_reports),
    ]
    for rtype, params, apply in searches:
        result = pull_search(store, client, f"{rtype}@{work.key}", rtype, params, apply, page_size=page_size)
        report.pages += result.pages
    report.pages += pull_site_conclusions(store, client, site, report.counts["conclusions"], now=now,
                                          page_size=page_size)


def pull(store: Store, client: SearchClient, *, site_ids: list[str] | None = None, now: dt.datetime | None = None,
         page_size: int = PAGE_SIZE) -> PullReport:
    """Pull every site of this tablet (or those in `site_ids`); PullError when the server cannot be read (what
    was stored so far stays, with its cursors: the next pull resumes)."""
    now = now or store.now()
    report = PullReport()
    requests_before, bytes_before = client.requests_made, client.bytes_received
    try:
        for site in store.list_sites():
            if site_ids is None or site["id"] in site_ids:
                pull_site(store, client, site, report, now=now, page_size=page_size)
    finally:
        report.requests = client.requests_made - requests_before
        report.bytes = client.bytes_received - bytes_before
    return report
