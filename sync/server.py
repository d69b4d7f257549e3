"""Development FHIR server: just enough of FHIR R4 to receive Relais uploads, standard library only.

What it guarantees, because the client's exactly-once promise rests on it:
- a transaction Bundle is processed in ONE SQLite transaction (BEGIN IMMEDIATE), so conditional creates are atomic
  even under concurrent requests, and an error leaves nothing half-stored;
- `ifNoneExist: identifier=SYSTEM|VALUE` → 200 OK with the existing resource when one matches, else 201 Created;
  `Patient?identifier=…` is refused with a 400 (it silently duplicates on some engines: catch the bug here);
- urn:uuid references are rewritten to the server ids, including references to matched resources;
- decimals are stored with the precision they were sent with (37.60 stays 37.60);
- logs carry method, path (never the query string), status and size: no bodies, no identifiers;
- request bodies may be gzipped (Content-Encoding: gzip, size-limited after decompression) or plain; JSON replies
  are gzipped when the client accepts it;
- `POST [base]/[type]` creates one resource, conditionally with `If-None-Exist` (or, as fhirpy sends it, the
  `identifier=` search in the query string): what a one-resource-per-request client needs (the benchmark baseline).

Not a production server: no history, no update/delete, no paging, JSON only.
"""
from __future__ import annotations

import copy
import datetime as dt
import gzip
import html
import logging
import re
import sqlite3
import time
import uuid
import zlib
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from sync.fhir import FINESS_SYSTEM, SITE_ID_SYSTEM, dumps, loads
from sync.tablets import AuthLimiter, Tablet, TabletRegistry

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_JSON_DEPTH = 64
GZIP_REPLY_MIN_BYTES = 1024  # smaller replies are not worth compressing
FHIR_JSON = "application/fhir+json"
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

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
CREATE INDEX IF NOT EXISTS resources_subject ON resources(type, subject);
"""


class FhirError(Exception):
    """An error answered as an OperationOutcome with an HTTP status."""

    def __init__(self, status: int, diagnostics: str, code: str = "invalid", *,
                 retry_after: float | None = None) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code
        self.retry_after = retry_after


def operation_outcome(diagnostics: str, code: str = "invalid", severity: str = "error") -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _parse_if_none_exist(text: Any, index: int) -> tuple[str, str]:
    if not isinstance(text, str) or not text:
        raise FhirError(400, f"entry[{index}].request.ifNoneExist must be a non-empty string")
    if "?" in text:
        raise FhirError(400, f"entry[{index}].request.ifNoneExist must hold the query part only "
                             f"('identifier=system|value'), not a URL with '?'")
    try:
        params = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise FhirError(400, f"entry[{index}].request.ifNoneExist is not a query string") from None
    if len(params) != 1 or params[0][0] != "identifier" or "|" not in params[0][1]:
        raise FhirError(400, f"entry[{index}].request.ifNoneExist: only 'identifier=system|value' is supported")
    system, _, value = params[0][1].partition("|")
    if not system or not value:
        raise FhirError(400, f"entry[{index}].request.ifNoneExist needs both a system and a value")
    return system, value


def validate_transaction(bundle: Any) -> list[dict[str, Any]]:
    """Check the bundle shape; returns the entries. Raises FhirError(400) saying what is wrong."""
    if not isinstance(bundle, dict):
        raise FhirError(400, "body must be a JSON object")
    if bundle.get("resourceType") != "Bundle":
        raise FhirError(400, f"resourceType must be 'Bundle', got {bundle.get('resourceType')!r}")
    if bundle.get("type") != "transaction":
        raise FhirError(400, f"Bundle.type must be 'transaction', got {bundle.get('type')!r}")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise FhirError(400, "Bundle.entry must be a list")
    full_urls: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise FhirError(400, f"entry[{i}] must be an object")
        resource, request = entry.get("resource"), entry.get("request")
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise FhirError(400, f"entry[{i}].resource with a resourceType is required")
        if not isinstance(request, dict):
            raise FhirError(400, f"entry[{i}].request is required")
        if request.get("method") != "POST":
            raise FhirError(400, f"entry[{i}].request.method {request.get('method')!r}: this server only supports POST")
        url = request.get("url")
        if not isinstance(url, str) or not _TYPE_NAME.fullmatch(url):
            raise FhirError(400, f"entry[{i}].request.url must be a resource type such as 'Patient'")
        if url != resource["resourceType"]:
            raise FhirError(400, f"entry[{i}]: request.url {url!r} does not match resourceType "
                                 f"{resource['resourceType']!r}")
        if "ifNoneExist" in request:
            _parse_if_none_exist(request["ifNoneExist"], i)
        full_url = entry.get("fullUrl")
        if full_url is not None:
            if not isinstance(full_url, str) or not full_url:
                raise FhirError(400, f"entry[{i}].fullUrl must be a string")
            if full_url in full_urls:
                raise FhirError(400, f"entry[{i}].fullUrl is used twice in the bundle")
            full_urls.add(full_url)
    return entries


_CONDITIONAL_REFERENCE = re.compile(r"([A-Z][A-Za-z]+)\?(identifier=.+)")


def _rewrite_references(node: Any, mapping: dict[str, str], resolve: Any = None) -> Any:
    """urn:uuid references → the entries' new `Type/id`; conditional references (`Type?identifier=sys|val`,
    FHIR R4 transaction processing) → the one resource they match, through `resolve`."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value.startswith("urn:uuid:"):
                if value not in mapping:
                    raise FhirError(400, "a urn:uuid reference does not resolve to an entry of the bundle")
                out[key] = mapping[value]
            elif key == "reference" and isinstance(value, str) and resolve is not None \
                    and _CONDITIONAL_REFERENCE.fullmatch(value):
                out[key] = resolve(value)
            else:
                out[key] = _rewrite_references(value, mapping, resolve)
        return out
    if isinstance(node, list):
        return [_rewrite_references(item, mapping, resolve) for item in node]
    return node


def _identifiers(resource: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    idents = resource.get("identifier") or []
    if isinstance(idents, dict):  # Composition.identifier (and Bundle.identifier) hold one Identifier, not a list
        idents = [idents]
    for ident in idents:
        if isinstance(ident, dict) and isinstance(ident.get("system"), str) and isinstance(ident.get("value"), str):
            found.append((ident["system"], ident["value"]))
    return found


def decode_body(data: bytes, encoding: str | None, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body as sent before any Content-Encoding: identity or gzip. Decompression stops at `limit`
    bytes, so a small gzip bomb cannot take the server's memory."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return data
    if coding not in ("gzip", "x-gzip"):
        raise FhirError(415, f"Content-Encoding {coding!r} is not supported (use gzip or none)", "not-supported")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit:
            raise FhirError(413, f"body larger than {limit} bytes once decompressed", "too-costly")
        if not inflater.eof or inflater.unconsumed_tail:
            raise FhirError(400, "gzip body is truncated or has trailing data", "structure")
    except zlib.error:
        raise FhirError(400, "body is not valid gzip", "structure") from None
    return out


class ResourceDB:
    """The server's SQLite file. One connection per call: the HTTP server is threaded."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Process every entry in one SQLite transaction; returns the transaction-response Bundle."""
        entries = validate_transaction(bundle)
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")  # take the write lock before looking up: no race between lookup and insert
            mapping: dict[str, str] = {}
            planned: dict[tuple[str, str, str], str] = {}  # identifiers created earlier in this same bundle
            plan: list[tuple[str, str, str, dict[str, Any] | None]] = []  # (status, type, id, resource to create)
            for i, entry in enumerate(entries):
                rtype, resource = entry["request"]["url"], entry["resource"]
                match = None
                if "ifNoneExist" in entry["request"]:
                    system, value = _parse_if_none_exist(entry["request"]["ifNoneExist"], i)
                    ids = {row["resource_id"] for row in conn.execute(
                        "SELECT resource_id FROM identifiers WHERE type = ? AND system = ? AND value = ?",
                        (rtype, system, value))}
                    if (rtype, system, value) in planned:
                        ids.add(planned[(rtype, system, value)])
                    if len(ids) > 1:
                        raise FhirError(412, f"entry[{i}]: ifNoneExist matches {len(ids)} resources", "duplicate")
                    match = next(iter(ids), None)
                if match is not None:
                    plan.append(("200 OK", rtype, match, None))
                    resource_id = match
                else:
                    resource_id = str(uuid.uuid4())
                    plan.append(("201 Created", rtype, resource_id, resource))
                    for system, value in _identifiers(resource):
                        planned[(rtype, system, value)] = resource_id
                if entry.get("fullUrl"):
                    mapping[entry["fullUrl"]] = f"{rtype}/{resource_id}"
            now = _now()

            def resolve(reference: str) -> str:
                rtype, query = _CONDITIONAL_REFERENCE.fullmatch(reference).groups()
                system, value = _parse_if_none_exist(query, 0)
                ids = {row["resource_id"] for row in conn.execute(
                    "SELECT resource_id FROM identifiers WHERE type = ? AND system = ? AND value = ?",
                    (rtype, system, value))}
                if (rtype, system, value) in planned:
                    ids.add(planned[(rtype, system, value)])
                if len(ids) != 1:
                    raise FhirError(412 if ids else 404, f"a conditional reference to {rtype} matches {len(ids)} "
                                                         f"resources (it must match exactly one)", "not-found")
                return f"{rtype}/{next(iter(ids))}"

            response_entries = []
            for status, rtype, resource_id, resource in plan:
                version = 1
                if resource is not None:
                    stored = _rewrite_references(copy.deepcopy(resource), mapping, resolve)
                    stored["id"] = resource_id
                    meta = dict(stored.get("meta") or {})
                    meta.update(versionId=str(version), lastUpdated=now)
                    stored["meta"] = meta
                    idents = _identifiers(stored)
                    subject = (stored.get("subject") or {}).get("reference") if isinstance(
                        stored.get("subject"), dict) else None
                    conn.execute(
                        "INSERT INTO resources (type, id, version, identifier_system, identifier_value, subject, json,"
                        " last_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (rtype, resource_id, version, idents[0][0] if idents else None,
                         idents[0][1] if idents else None, subject, dumps(stored), now))
                    conn.executemany("INSERT INTO identifiers (type, system, value, resource_id) VALUES (?, ?, ?, ?)",
                                     [(rtype, s, v, resource_id) for s, v in idents])
                    last_modified = now
                else:
                    row = conn.execute("SELECT version, last_updated FROM resources WHERE type = ? AND id = ?",
                                       (rtype, resource_id)).fetchone()
                    version, last_modified = row["version"], row["last_updated"]
                response_entries.append({"response": {
                    "status": status, "location": f"{rtype}/{resource_id}/_history/{version}",
                    "etag": f'W/"{version}"', "lastModified": last_modified}})
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
        return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "transaction-response",
                "entry": response_entries}

    def create(self, rtype: str, resource: Any, if_none_exist: str | None) -> tuple[int, dict[str, Any], str]:
        """`POST [base]/[type]`: (status 201 or 200, the stored resource, its location). Runs as a one-entry
        transaction, so it has the very same conditional-create semantics."""
        if not isinstance(resource, dict) or resource.get("resourceType") != rtype:
            raise FhirError(400, f"body must be a {rtype} resource")
        request: dict[str, Any] = {"method": "POST", "url": rtype}
        if if_none_exist is not None:
            request["ifNoneExist"] = if_none_exist
        reply = self.transaction({"resourceType": "Bundle", "type": "transaction",
                                  "entry": [{"resource": resource, "request": request}]})
        response = reply["entry"][0]["response"]
        location = response["location"]
        _, resource_id = location.split("/")[:2]
        stored = self.read(rtype, resource_id)
        assert stored is not None
        return (201 if response["status"].startswith("201") else 200), stored, location

    def read(self, rtype: str, resource_id: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute("SELECT json FROM resources WHERE type = ? AND id = ?", (rtype, resource_id)).fetchone()
        return loads(row["json"]) if row else None

    def search(self, rtype: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """identifier=[system|]value, patient=<id>|Patient/<id>, subject=Patient/<id>; no parameter: all."""
        sql = "SELECT r.json FROM resources r WHERE r.type = ?"
        args: list[Any] = [rtype]
        for name, value in params:
            if name == "identifier":
                if "|" in value:
                    system, _, val = value.partition("|")
                    cond, extra = ("system = ? AND value = ?", [system, val]) if system else ("value = ?", [val])
                else:
                    cond, extra = "value = ?", [value]
                sql += f" AND r.id IN (SELECT resource_id FROM identifiers WHERE type = r.type AND {cond})"
                args += extra
            elif name in ("patient", "subject") and rtype != "Patient":
                reference = value if "/" in value else f"Patient/{value}"
                if name == "patient" and not reference.startswith("Patient/"):
                    raise FhirError(400, "patient must be a Patient id or Patient/<id>")
                sql += " AND r.subject = ?"
                args.append(reference)
            elif name in ("_format",):
                continue
            else:
                raise FhirError(400, f"unsupported search parameter {name!r}", "not-supported")
        sql += " ORDER BY r.last_updated, r.rowid"
        with self._connect() as conn:
            return [loads(row["json"]) for row in conn.execute(sql, args)]

    def counts(self) -> dict[str, int]:
        with self._connect() as conn:
            return {row["type"]: row["n"] for row in conn.execute("SELECT type, count(*) AS n FROM resources GROUP BY type")}


def capability_statement() -> dict[str, Any]:
    searchable = {"Patient": [("identifier", "token")],
                  "Observation": [("identifier", "token"), ("patient", "reference"), ("subject", "reference")]}
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2025-01-01", "kind": "instance",
        "software": {"name": "Relais development FHIR server"},
        "implementation": {"description": "Relais development server (not for production)"},
        "fhirVersion": "4.0.1", "format": [FHIR_JSON, "json"],
        "rest": [{"mode": "server", "interaction": [{"code": "transaction"}],
                  "resource": [{"type": t, "interaction": [{"code": "read"}, {"code": "search-type"},
                                                           {"code": "create"}],
                                "conditionalCreate": True,
                                "searchParam": [{"name": n, "type": k} for n, k in params]}
                               for t, params in searchable.items()]}],
    }


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
                flags = ", ".join(c.get("code", "") for i in obs.get("interpretation") or []
                                  for c in i.get("coding") or [])
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


class FhirHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with Content-Length on every reply, so keep-alive clients work."""

    protocol_version = "HTTP/1.1"
    server_version = "RelaisDevFHIR/0.1"
    timeout = 30  # seconds a client may stall mid-request (a body announced longer than sent) before we hang up
    db: ResourceDB
    registry: TabletRegistry | None = None  # None: open development server
    limiter: AuthLimiter
    tablet: Tablet | None = None

    # -- logging without patient data ------------------------------------------------------------------------------
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        path = urlsplit(self.path).path if hasattr(self, "path") else "-"
        log.info("%s %s %s %s %.1fms", getattr(self, "command", "-"), path, code, size,
                 (time.perf_counter() - getattr(self, "_started", time.perf_counter())) * 1000)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        log.warning("request error (%s)", args[0] if args and isinstance(args[0], int) else "-")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the base class would print the raw request line, query string included

    # -- plumbing --------------------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        if len(body) >= GZIP_REPLY_MIN_BYTES and "json" in content_type and self._accepts_gzip():
            body = gzip.compress(body, compresslevel=6, mtime=0)
            extra = {**(extra or {}), "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, resource: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, dumps(resource).encode("utf-8"), f"{FHIR_JSON}; charset=utf-8", extra)

    def _send_error(self, error: FhirError, *, close: bool = False) -> None:
        if close:
            self.close_connection = True
        extra = {"WWW-Authenticate": 'Bearer realm="relais"'} if error.status == 401 else None
        if error.retry_after:
            extra = {"Retry-After": str(max(1, round(error.retry_after)))}
        self._send_json(error.status, operation_outcome(error.diagnostics, error.code), extra)

    def _accepts_gzip(self) -> bool:
        for item in self.headers.get("Accept-Encoding", "").split(","):
            name, _, params = item.strip().partition(";")
            if name.strip().lower() == "gzip":
                return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
        return False

    def _authenticate(self) -> None:
        """The tablet behind this request's bearer token; 401 without one, 429 while its address is locked out
        after repeated failures (sync.tablets)."""
        if self.registry is None:
            return
        address = self.client_address[0]
        wait = self.limiter.retry_after(address)
        if wait > 0:
            raise FhirError(429, "too many failed authentications: wait before trying again", "throttled",
                            retry_after=wait)
        supplied = self.headers.get("Authorization")
        tablet = self.registry.authenticate(supplied or "")
        if tablet is None:
            # a request without credentials guesses nothing (a browser opening the page): only wrong ones count
            if supplied and self.limiter.failed(address):
                log.warning("authentication: %s locked out after repeated failures", address)
            raise FhirError(401, "missing or invalid bearer token", "login")
        self.limiter.succeeded(address)
        self.tablet = tablet

    def _check_sites(self, resources: list[Any]) -> None:
        """A tablet writes only for its own sites: every Organization the upload carries or points to must be one
        of them (FINESS or local site id). 403 otherwise, before anything is stored."""
        tablet = self.tablet
        if tablet is None or tablet.sites is None:
            return
        organisations: list[set[str]] = []
        for resource in resources:
            if isinstance(resource, dict) and resource.get("resourceType") == "Organization":
                organisations.append(_site_identifiers(resource))
        for reference in _references(resources):
            if reference.startswith("Organization/"):
                stored = self.db.read("Organization", reference.split("/", 2)[1])
                organisations.append(_site_identifiers(stored) if stored else {reference})
            elif reference.startswith("Organization?"):
                _, _, value = reference.partition("|")
                organisations.append({value})
        for identifiers in organisations:
            if not tablet.may_write_for(identifiers):
                log.warning("authentication: tablet %s refused for a site it is not registered for", tablet.id)
                raise FhirError(403, f"tablet {tablet.id} is not registered for this site", "forbidden")

    def _route(self) -> tuple[list[str], list[tuple[str, str]]]:
        parts = urlsplit(self.path)
        segments = [s for s in parts.path.split("/") if s]
        try:
            query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError:
            raise FhirError(400, "malformed query string") from None
        return segments, query

    def _handle(self, method: str) -> None:
        self._started = time.perf_counter()
        self._body_consumed = method != "POST"
        try:
            segments, query = self._route()
            is_fhir = bool(segments) and segments[0] == "fhir"
            # the capability statement stays public (clients probe it); everything else, the HTML page included,
            # shows or takes patient data and needs the token when one is configured
            if segments != ["fhir", "metadata"]:
                self._authenticate()
            if method == "POST":
                if len(segments) == 2 and is_fhir and _TYPE_NAME.fullmatch(segments[1]):
                    self._create(segments[1], query)
                    return
                if segments != ["fhir"]:
                    raise FhirError(404 if not is_fhir else 405, "POST a transaction Bundle to the base URL",
                                    "not-supported")
                bundle = self._read_body()
                entries = bundle.get("entry") if isinstance(bundle, dict) else None
                self._check_sites([e.get("resource") for e in entries if isinstance(e, dict)]
                                  if isinstance(entries, list) else [])
                self._send_json(200, self.db.transaction(bundle))
                return
            if segments == []:
                self._send(200, html_overview(self.db).encode("utf-8"), "text/html; charset=utf-8",
                           {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
                return
            if not is_fhir:
                raise FhirError(404, "not found", "not-found")
            rest = segments[1:]
            if rest == ["metadata"]:
                self._send_json(200, capability_statement())
            elif len(rest) == 1 and _TYPE_NAME.fullmatch(rest[0]):
                found = self.db.search(rest[0], query)
                base = f"http://{self.headers.get('Host', 'localhost')}/fhir"
                self._send_json(200, {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset",
                                      "total": len(found),
                                      "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                                                 "search": {"mode": "match"}} for r in found]})
            elif len(rest) == 2 and _TYPE_NAME.fullmatch(rest[0]) and _ID.fullmatch(rest[1]):
                resource = self.db.read(rest[0], rest[1])
                if resource is None:
                    raise FhirError(404, f"{rest[0]}/{rest[1]} not found", "not-found")
                self._send_json(200, resource, {"ETag": f'W/"{resource["meta"]["versionId"]}"'})
            else:
                raise FhirError(404, "unsupported path", "not-found")
        except FhirError as error:
            if not self._body_consumed:
                self._drain_body()
            # an unread request body would be parsed as the next request: close the connection then
            self._send_error(error, close=not self._body_consumed)
        except Exception:
            log.exception("internal error while handling %s", method)
            self._send_error(FhirError(500, "internal server error", "exception"), close=True)

    def _create(self, rtype: str, query: list[tuple[str, str]]) -> None:
        """Type-level create; conditional with If-None-Exist, or with `?identifier=system|value` (fhirpy's form)."""
        condition = self.headers.get("If-None-Exist")
        if query:
            if condition is not None or len(query) != 1 or query[0][0] != "identifier":
                raise FhirError(400, "conditional create: only one identifier=system|value search is supported")
            condition = f"identifier={quote(query[0][1], safe=':/|.-_~')}"  # parse_qsl decoded it once
        body = self._read_body()
        self._check_sites([body])
        status, stored, location = self.db.create(rtype, body, condition)
        self._send_json(status, stored, {"Location": location, "ETag": f'W/"{stored["meta"]["versionId"]}"'})

    def _drain_body(self) -> None:
        """Read and drop a refused request's body, so the client gets our answer rather than a reset while it is
        still sending (a 401 must reach the uploader as a 401, not as a network error)."""
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return
        if 0 <= length <= MAX_BODY_BYTES and not self.headers.get("Transfer-Encoding"):
            self.rfile.read(length)
            self._body_consumed = True

    def _read_body(self) -> Any:
        if self.headers.get("Transfer-Encoding"):
            raise FhirError(411, "send a Content-Length, chunked bodies are not supported", "not-supported")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise FhirError(411, "Content-Length required", "required") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise FhirError(413, f"body larger than {MAX_BODY_BYTES} bytes", "too-costly")
        data = self.rfile.read(length)
        self._body_consumed = True
        data = decode_body(data, self.headers.get("Content-Encoding"))
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in (FHIR_JSON, "application/json"):
            raise FhirError(415, "Content-Type must be application/fhir+json", "not-supported")
        try:
            document = loads(data)
        except (ValueError, UnicodeDecodeError):
            raise FhirError(400, "body is not valid JSON", "structure") from None
        except RecursionError:
            document = None
        if document is None or _deeper_than(document, MAX_JSON_DEPTH):
            # FHIR resources nest a dozen levels; hundreds would only exhaust the recursion of later steps
            raise FhirError(400, f"body is nested more than {MAX_JSON_DEPTH} levels deep", "structure")
        return document

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._method_not_allowed()

    def do_DELETE(self) -> None:  # noqa: N802
        self._method_not_allowed()

    def do_PATCH(self) -> None:  # noqa: N802
        self._method_not_allowed()

    def _method_not_allowed(self) -> None:
        self._started = time.perf_counter()
        self._send_error(FhirError(405, "method not supported by this development server", "not-supported"),
                         close=True)


def _deeper_than(value: Any, limit: int) -> bool:
    """True when the JSON value nests containers more than `limit` deep (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _site_identifiers(organization: dict[str, Any]) -> set[str]:
    return {str(i.get("value")) for i in organization.get("identifier") or () if isinstance(i, dict)
            and i.get("system") in (FINESS_SYSTEM, SITE_ID_SYSTEM)}


def _references(value: Any) -> list[str]:
    """Every `reference` string anywhere in these resources."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str):
                found.append(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def make_server(host: str, port: int, db_path: str | Path, *, token: str | None = None,
                registry: TabletRegistry | None = None, limiter: AuthLimiter | None = None) -> ThreadingHTTPServer:
    """A ready-to-serve server (port 0 picks a free port: read `server.server_address`). `registry`: one token
    per tablet, bound to its sites (sync.tablets); `token`: a single shared token for any site (development)."""
    db = ResourceDB(db_path)
    if registry is None and token:
        registry = TabletRegistry.single(token)
    handler = type("BoundFhirHandler", (FhirHandler,), {"db": db, "registry": registry,
                                                         "limiter": limiter or AuthLimiter()})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def base_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in str(host) else host
    return f"http://{host}:{port}/fhir"
