"""The development server's FHIR engine: resources in one SQLite file, transactions, conditional creates, read and
search.

What it guarantees, because the tablet's exactly-once promise rests on it:
- a transaction Bundle is processed in ONE SQLite transaction (BEGIN IMMEDIATE), so conditional creates are atomic
  even under concurrent requests, and an error leaves nothing half-stored (HL7 FHIR R4 RESTful API, "transaction":
  all entries succeed or none);
- a conditional create (`ifNoneExist: identifier=SYSTEM|VALUE`) answers 200 OK with the existing resource when one
  matches — including one created earlier in the same Bundle — else 201 Created; several matches: 412;
- a conditional update (`PUT Type?identifier=SYSTEM|VALUE`, FHIR R4 RESTful API "conditional update") creates the
  resource when nothing matches (201), replaces the one match with a new version and a renewed `meta.lastUpdated`
  (200; when nothing changes, as when a resend follows a lost reply, the current version stands and nothing is
  stored), and answers 412 on several matches. The strict identity traits of a Patient stored as retrieved or
  qualified (RECUP / QUAL, with its INS) are kept: an update changing them, or lowering the status, is refused
  (422, business-rule), a qualification (RECUP to QUAL) aside;
- urn:uuid and conditional references are rewritten to the server ids (sync.server.bundles);
- decimals are stored with the precision they were sent with (37.60 stays 37.60: the sync.fhir codec);
- `POST [base]/[type]` is a one-entry transaction, so it has the very same conditional-create semantics.

Search (sync.server.search) pages with `next` links and filters by `_lastUpdated`, `date`, `_tag` and the
references a tablet pulls its site by. Not a production server: no history, no plain update by id, no delete, JSON
only.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import queue
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Iterator

from sync.fhir.codec import dumps_loaded, loads
from sync.ids import new_id
from sync.fhir.patient_fields import identity_traits
from sync.server import search as searching
from sync.server import at_rest, search_index, sites
from sync.server.bundles import (CONDITIONAL_REFERENCE, conditional_update_target, parse_if_none_exist,
                                 resource_identifiers, rewrite_references, rewrite_references_in_place,
                                 validate_transaction)
from sync.server.outcome import FhirError

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    identifier_system TEXT,
    identifier_value TEXT,
    subject TEXT,
    json TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE TABLE IF NOT EXISTS identifiers (
    type TEXT NOT NULL,
    system TEXT NOT NULL,
    value TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    FOREIGN KEY (type, resource_id) REFERENCES resources(type, id)
);
CREATE INDEX IF NOT EXISTS identifiers_lookup ON identifiers(type, system, value);
CREATE INDEX IF NOT EXISTS identifiers_value ON identifiers(type, value);
CREATE INDEX IF NOT EXISTS identifiers_of_resource ON identifiers(type, resource_id);
CREATE INDEX IF NOT EXISTS resources_subject ON resources(type, subject);
"""


_INSERT_IDENTIFIER = "INSERT INTO identifiers (type, system, value, resource_id) VALUES (?, ?, ?, ?)"
WAL_CHECKPOINT_PAGES = 10_000  # about 40 MB of log (4 KiB pages) between two checkpoints


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class ResourceDB:
    """The server's SQLite file. One connection per call: the HTTP server is threaded."""

    def __init__(self, path: str | Path, key: bytes | None = None) -> None:
        """`key`: the SQLCipher key of an encrypted file (sync.server.at_rest); None: a plain file."""
        self.path, self.key = str(path), key
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        at_rest.prepare(Path(path), key)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
            new_index = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_index'").fetchone() is None
            conn.executescript(search_index.SCHEMA)
            new_sites = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'resource_sites'").fetchone() is None
            conn.executescript(sites.SCHEMA)
            if new_index or new_sites:  # a file from before the index or the sites: fill them from what it holds
                conn.execute("BEGIN IMMEDIATE")
                stored = [(row["type"], row["id"], loads(row["json"]))
                          for row in conn.execute("SELECT type, id, json FROM resources")]
                if new_index:
                    search_index.backfill(conn, stored)
                if new_sites:
                    sites.backfill(conn, stored)
                conn.execute("COMMIT")

    def _connect(self) -> sqlite3.Connection:
        conn = at_rest.connect(self.path, self.key)
        conn.execute("PRAGMA foreign_keys = ON")
        # the log is copied back into the file every WAL_CHECKPOINT_PAGES pages instead of SQLite's 1,000: an index
        # page changed by many transactions meanwhile is copied once, and as the file grows, each transaction
        # changes more distinct pages of its indexes on random values (the tablets' identifiers)
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        return conn

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of this file for one request, reused by the next one: opening one (the key, the schema,
        a cold page cache) cost more than many a request's own work. Each is used by one thread at a time; one
        left inside a transaction by an error is rolled back before it is reused."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._idle.put(conn)

    def transaction(self, bundle: dict[str, Any], scope: sites.Scope = None, *, owned: bool = False
                    ) -> dict[str, Any]:
        """Process every entry in one SQLite transaction; returns the transaction-response Bundle. `scope`: the
        sites of the tablet writing (sync.server.sites), None for any. `owned`: the bundle is a parsed request body
        nobody else holds, whose resources may be changed as they are stored (no copy made)."""
        entries = validate_transaction(bundle)
        with self._connection() as conn:  # rolled back there on any error
            conn.execute("BEGIN IMMEDIATE")  # take the write lock before looking up: no race between lookup and insert
            response_entries = _Transaction(conn, scope, owned).apply(entries)
            conn.execute("COMMIT")
        return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "transaction-response",
                "entry": response_entries}

    def create(self, rtype: str, resource: Any, if_none_exist: str | None, scope: sites.Scope = None, *,
               owned: bool = False) -> tuple[int, dict[str, Any], str]:
        """`POST [base]/[type]`: (status 201 or 200, the stored resource, its location). Runs as a one-entry
        transaction, so it has the very same conditional-create semantics."""
        if not isinstance(resource, dict) or resource.get("resourceType") != rtype:
            raise FhirError(400, f"body must be a {rtype} resource")
        request: dict[str, Any] = {"method": "POST", "url": rtype}
        if if_none_exist is not None:
            request["ifNoneExist"] = if_none_exist
        reply = self.transaction({"resourceType": "Bundle", "type": "transaction",
                                  "entry": [{"resource": resource, "request": request}]}, scope, owned=owned)
        response = reply["entry"][0]["response"]
        location = response["location"]
        _, resource_id = location.split("/")[:2]
        stored = self.read(rtype, resource_id)
        assert stored is not None
        return (201 if response["status"].startswith("201") else 200), stored, location

    def read(self, rtype: str, resource_id: str, scope: sites.Scope = None) -> dict[str, Any] | None:
        """One resource; None when there is none, or none of the sites of `scope`."""
        condition, args = sites.scope_condition(scope)
        with self._connection() as conn:
            row = conn.execute(f"SELECT json FROM resources r WHERE type = ? AND id = ? AND {condition}",
                               (rtype, resource_id, *args)).fetchone()
        return loads(row["json"]) if row else None

    def search(self, rtype: str, params: list[tuple[str, str]], scope: sites.Scope = None) -> list[dict[str, Any]]:
        """The matching resources of one page (all of them without `_count`), oldest first (sync.server.search)."""
        query = searching.parse(rtype, params, scope)
        with self._connection() as conn:
            return searching.run(conn, query).matches

    def search_bundle(self, rtype: str, params: list[tuple[str, str]], base: str,
                      scope: sites.Scope = None) -> dict[str, Any]:
        """The searchset Bundle of one page, with its `self` and `next` links under the absolute `base` URL."""
        query = searching.parse(rtype, params, scope)
        with self._connection() as conn:
            page = searching.run(conn, query)
        return searching.searchset(page, rtype, params, base)

    def counts(self) -> dict[str, int]:
        with self._connection() as conn:
            rows = conn.execute("SELECT type, count(*) AS n FROM resources GROUP BY type")
            return {row["type"]: row["n"] for row in rows}


class _Transaction:
    """One transaction Bundle applied on a connection that holds the write lock: first every entry is planned
    (matched by its conditional create, or given a new id), then the resources to write get their references
    rewritten and their sites checked (sync.server.sites), then they are stored."""

    def __init__(self, conn: sqlite3.Connection, scope: sites.Scope = None, owned: bool = False) -> None:
        self.conn = conn
        self.scope = scope
        self.owned = owned  # the resources may be rewritten in place (a parsed request body only stored)
        self.mapping: dict[str, str] = {}  # fullUrl → Type/id
        self.planned: dict[tuple[str, str, str], str] = {}  # identifiers created earlier in this same bundle
        self.written: set[tuple[str, str]] = set()  # (type, id) of the resources created or updated so far
        self.named: set[str] = set()  # the sites the bundle names
        self.org_sites: dict[str, set[str]] = {}  # Organization/id of the bundle's Organizations → their sites
        self.created = _CreatedRows()  # written together (see there)

    def apply(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        plan = [self._plan(entry, i) for i, entry in enumerate(entries)]
        targets = {f"{rtype}/{rid}" for _, rtype, rid, _ in plan}
        # every resource is rewritten once (in place when the bundle is owned: a request body is never copied)
        rewritten = [self._rewritten(entry["resource"]) for entry in entries]
        plan = [(status, rtype, rid, None if resource is None else new)
                for (status, rtype, rid, resource), (new, _) in zip(plan, rewritten)]
        # every resource sent is placed, also one a conditional create matched (and so will not store)
        own = [self._sites_of(rtype, new, references, targets, i)
               for i, ((_, rtype, _, _), (new, references)) in enumerate(zip(plan, rewritten))]
        bundle_sites = self.named.union(*own)
        if self.scope is not None and not bundle_sites:
            raise sites.forbidden("the bundle names no site (an Organization, a site tag, a resource of the site)")
        now = _now()
        response = [self._store(status, rtype, resource_id, resource, now, mine or bundle_sites)
                    for (status, rtype, resource_id, resource), mine in zip(plan, own)]
        self.created.write(self.conn)
        return response

    def _rewritten(self, resource: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The resource with its references rewritten to server ids (itself when owned, else a copy: new
        containers, the values shared), and its reference strings."""
        if self.owned:
            return resource, rewrite_references_in_place(resource, self.mapping, self._resolve)
        copy = rewrite_references(resource, self.mapping, self._resolve)
        return copy, list(sites.reference_strings(copy))

    def _sites_of(self, rtype: str, resource: dict[str, Any], references: list[str], targets: set[str],
                  i: int) -> set[str]:
        """The sites a resource sent names (its references already rewritten); 403 when it names, or points at,
        a site the tablet is not registered for (sync.server.sites)."""
        named = sites.organization_sites(resource) if rtype == "Organization" else sites.tag_sites(resource)
        for reference in references:
            target = sites.literal_target(reference)
            if target is None:
                if self.scope is not None and not reference.startswith("#"):
                    raise sites.forbidden(f"entry[{i}]: a reference this server cannot place in a site")
                continue
            if target.startswith("Organization/"):
                named |= self.org_sites.get(target) or sites.owners(self.conn, *target.split("/"))
            if target not in targets and not sites.visible(self.conn, self.scope, *target.split("/")):
                raise sites.forbidden(f"entry[{i}]: a reference points outside the tablet's sites")
        sites.check_named(self.scope, named, f"entry[{i}]")
        return named

    def _matching(self, rtype: str, system: str, value: str) -> set[str]:
        """The resources with this identifier, of the token's sites only, and those created earlier in the bundle."""
        condition, args = sites.scope_condition(self.scope, "i.type", "i.resource_id")
        ids = {row["resource_id"] for row in self.conn.execute(
            f"SELECT resource_id FROM identifiers i WHERE type = ? AND system = ? AND value = ? AND {condition}",
            (rtype, system, value, *args))}
        if (rtype, system, value) in self.planned:
            ids.add(self.planned[(rtype, system, value)])
        return ids

    def _match(self, rtype: str, system: str, value: str, what: str, i: int) -> str | None:
        """The one resource a conditional create or update matches (None: none); 412 on several. A conditional on
        an Organization's FINESS or site id names that site; a match names its sites."""
        if rtype == "Organization" and system in sites.SITE_SYSTEMS:
            sites.check_named(self.scope, {value}, f"entry[{i}].request")
            self.named.add(value)
        ids = self._matching(rtype, system, value)
        if len(ids) > 1:
            raise FhirError(412, f"entry[{i}]: {what} matches {len(ids)} resources", "duplicate")
        match = next(iter(ids), None)
        if match is not None:
            self.named |= sites.owners(self.conn, rtype, match)
        return match

    def _planned(self, entry: dict[str, Any], planned: tuple[str, str, str, dict[str, Any] | None]
                 ) -> tuple[str, str, str, dict[str, Any] | None]:
        status, rtype, resource_id, resource = planned
        if resource is not None:
            self.written.add((rtype, resource_id))
        if status.startswith("201"):
            for ident in resource_identifiers(entry["resource"]):
                self.planned[(rtype, *ident)] = resource_id
        if entry.get("fullUrl"):
            self.mapping[entry["fullUrl"]] = f"{rtype}/{resource_id}"
        if rtype == "Organization":
            self.org_sites[f"{rtype}/{resource_id}"] = sites.organization_sites(resource) if resource is not None \
                else sites.owners(self.conn, rtype, resource_id)
        return planned

    def _plan_update(self, entry: dict[str, Any], i: int) -> tuple[str, str, str, dict[str, Any] | None]:
        """A conditional update: created (201) without a match, the match replaced (200), 412 on several."""
        rtype, system, value = conditional_update_target(entry["request"], i)
        match = self._match(rtype, system, value, "the conditional update", i)
        resource = entry["resource"]
        if match is not None and (rtype, match) in self.written:
            # FHIR R4 transaction processing: entries whose resolved identities overlap fail the transaction
            raise FhirError(400, f"entry[{i}]: the conditional update targets a resource an earlier entry of the "
                                 f"bundle creates or updates", "processing")
        if match is not None:
            _check_identity_kept(self.conn, match, resource, i)
            return self._planned(entry, ("200 OK", rtype, match, resource))
        return self._planned(entry, ("201 Created", rtype, new_id(), resource))

    def _plan(self, entry: dict[str, Any], i: int) -> tuple[str, str, str, dict[str, Any] | None]:
        """(status, type, id, resource to create or replace — None when an existing one matched a create)."""
        if entry["request"]["method"] == "PUT":
            return self._plan_update(entry, i)
        rtype, resource = entry["request"]["url"], entry["resource"]
        match = None
        if "ifNoneExist" in entry["request"]:
            match = self._match(rtype, *parse_if_none_exist(entry["request"]["ifNoneExist"], i), "ifNoneExist", i)
        if match is not None:
            return self._planned(entry, ("200 OK", rtype, match, None))
        return self._planned(entry, ("201 Created", rtype, new_id(), resource))

    def _prepared(self, resource: dict[str, Any], resource_id: str, version: int, now: str
                  ) -> tuple[dict[str, Any], list[tuple[str, str]], str | None]:
        """The resource as stored (its references already rewritten; server id, meta of this version), its
        identifiers and its subject reference."""
        stored = dict(resource)
        stored["id"] = resource_id
        stored["meta"] = {**(stored.get("meta") or {}), "versionId": str(version), "lastUpdated": now}
        subject = stored["subject"].get("reference") if isinstance(stored.get("subject"), dict) else None
        return stored, resource_identifiers(stored), subject

    def _replace(self, rtype: str, resource_id: str, resource: dict[str, Any], now: str) -> tuple[int, str]:
        """Store the next version of a resource (references rewritten, id kept, meta renewed): its version and
        time. An update that changes nothing (the same bytes sent again after a lost reply) stores nothing and
        answers the current version, as a no-op update."""
        row = self.conn.execute("SELECT version, json, last_updated FROM resources WHERE type = ? AND id = ?",
                                (rtype, resource_id)).fetchone()
        if _content(loads(row["json"])) == _content({**resource, "id": resource_id}):
            return row["version"], row["last_updated"]
        version = row["version"] + 1
        stored, idents, subject = self._prepared(resource, resource_id, version, now)
        self.conn.execute(
            "UPDATE resources SET version = ?, identifier_system = ?, identifier_value = ?, subject = ?, json = ?,"
            " last_updated = ? WHERE type = ? AND id = ?",
            (version, idents[0][0] if idents else None, idents[0][1] if idents else None, subject,
             dumps_loaded(stored), now, rtype, resource_id))
        self.conn.execute("DELETE FROM identifiers WHERE type = ? AND resource_id = ?", (rtype, resource_id))
        self.conn.executemany(_INSERT_IDENTIFIER, [(rtype, s, v, resource_id) for s, v in idents])
        self.conn.execute("DELETE FROM search_index WHERE type = ? AND id = ?", (rtype, resource_id))
        search_index.write_index(self.conn, rtype, resource_id, stored)
        return version, now

    def _resolve(self, reference: str) -> str:
        """A conditional reference → `Type/id` of the one resource it matches (404/412 otherwise; 403 when a
        tablet's sites hold none, whether another site holds one or not)."""
        match = CONDITIONAL_REFERENCE.fullmatch(reference)
        assert match is not None
        rtype, query = match.groups()
        ids = self._matching(rtype, *parse_if_none_exist(query, 0))
        if not ids and self.scope is not None:
            raise sites.forbidden(f"a conditional reference to {rtype} matches no resource of the tablet's sites")
        if len(ids) != 1:
            raise FhirError(412 if ids else 404, f"a conditional reference to {rtype} matches {len(ids)} "
                                                 f"resources (it must match exactly one)", "not-found")
        return f"{rtype}/{next(iter(ids))}"

    def _store(self, status: str, rtype: str, resource_id: str, resource: dict[str, Any] | None,
               now: str, owners: set[str]) -> dict[str, Any]:
        """Insert a planned resource, replace an updated one (either recorded as of `owners`, its sites), or look
        up the matched one; its transaction-response entry."""
        if resource is not None and status.startswith("200"):  # an existing resource: never among `created`
            sites.write_owners(self.conn, rtype, resource_id, owners)
            version, last_modified = self._replace(rtype, resource_id, resource, now)
        elif resource is not None:
            version, last_modified = 1, now
            stored, idents, subject = self._prepared(resource, resource_id, version, now)
            self.created.add(rtype, resource_id, stored, idents, subject, now, owners)
        else:
            self.created.write(self.conn, (rtype, resource_id))
            row = self.conn.execute("SELECT version, last_updated FROM resources WHERE type = ? AND id = ?",
                                    (rtype, resource_id)).fetchone()
            version, last_modified = row["version"], row["last_updated"]
        return {"response": {"status": status, "location": f"{rtype}/{resource_id}/_history/{version}",
                             "etag": f'W/"{version}"', "lastModified": last_modified}}


class _CreatedRows:
    """The rows of the resources a transaction creates (the resource, its identifiers, its search index and its
    sites), kept to be written together, one statement per table, before anything reads one of them back and at
    the end: a batch of sessions creates thousands, and one statement each cost more than the writing."""

    def __init__(self) -> None:
        self._empty()

    def _empty(self) -> None:
        self.keys: set[tuple[str, str]] = set()
        self.resources: list[tuple[Any, ...]] = []
        self.identifiers: list[tuple[str, str, str, str]] = []
        self.index: list[tuple[str, str, str, str]] = []
        self.sites: list[tuple[str, str, str]] = []

    def add(self, rtype: str, resource_id: str, stored: dict[str, Any], idents: list[tuple[str, str]],
            subject: str | None, now: str, owners: set[str]) -> None:
        first = idents[0] if idents else (None, None)
        self.keys.add((rtype, resource_id))
        self.resources.append((rtype, resource_id, 1, *first, subject, dumps_loaded(stored), now))
        self.identifiers += [(rtype, system, value, resource_id) for system, value in idents]
        self.index += search_index.table_rows(rtype, resource_id, stored)
        self.sites += sites.owner_rows(rtype, resource_id, owners)

    def write(self, conn: sqlite3.Connection, needed: tuple[str, str] | None = None) -> None:
        """Write what is kept: always, or (with `needed`) only when that resource is among it."""
        if needed is not None and needed not in self.keys:
            return
        conn.executemany("INSERT INTO resources (type, id, version, identifier_system, identifier_value, subject,"
                         " json, last_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self.resources)
        conn.executemany(_INSERT_IDENTIFIER, self.identifiers)
        conn.executemany(search_index.INSERT, self.index)
        conn.executemany(sites.INSERT, self.sites)
        self._empty()


_LOCKED_STATUSES = ("RECUP", "QUAL")


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource without what the server itself sets (its version and time), to tell a real change."""
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    return {**resource, "meta": meta}


def _check_identity_kept(conn: sqlite3.Connection, resource_id: str, resource: dict[str, Any], i: int) -> None:
    """A Patient stored as retrieved or qualified keeps its strict traits and INS, and its status is not lowered
    (RNIV 1: they come from the national INS base); RECUP to QUAL is a qualification and may bring them."""
    if resource.get("resourceType") != "Patient":
        return
    row = conn.execute("SELECT json FROM resources WHERE type = 'Patient' AND id = ?", (resource_id,)).fetchone()
    old = identity_traits(loads(row["json"]))
    new = identity_traits(resource)
    if old["identity_status"] not in _LOCKED_STATUSES or old == new:
        return
    if old["identity_status"] == "RECUP" and new["identity_status"] == "QUAL":
        return
    raise FhirError(422, f"entry[{i}]: the identity of a retrieved or qualified Patient (its traits, status and "
                         f"INS) cannot be changed by an update", "business-rule")
