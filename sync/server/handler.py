"""The HTTP front of the development FHIR server: routes, request reading, replies, logs; standard library only.

Just enough of the HL7 FHIR R4 RESTful API to receive Relais uploads and let a doctor or a test read them back:
- `POST [base]` with a transaction Bundle (sync.server.resources runs it all-or-nothing);
- `POST [base]/[type]` creates one resource, conditionally with `If-None-Exist` (or, as fhirpy sends it, the
  `identifier=` search in the query string): what a one-resource-per-request client needs (the benchmark baseline);
- `GET [base]/metadata` (public, clients probe it), `GET [base]/[type]?…` (search), `GET [base]/[type]/[id]`;
- `GET /`: a redirect to the doctors' application (sync.server.doctors), served on its own port.
On a loopback address it answers only requests whose `Host` is a loopback name (DNS rebinding).
Every refusal is an OperationOutcome (sync.server.outcome). HTTP/1.1 with a Content-Length on every reply, so
keep-alive clients work; a refused request's body is read and dropped, or the connection closed, so it is never
parsed as the next request.

Logs carry method, path (never the query string), status, size and time: no bodies, no identifiers, no tokens.
"""
from __future__ import annotations

import gzip
import ipaddress
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from sync.fhir import dumps
from sync.server import intake
from sync.server.access import authenticate
from sync.server.bundles import RESOURCE_ID, TYPE_NAME
from sync.server.outcome import FhirError, operation_outcome
from sync.server.resources import ResourceDB
from sync.server.search_index import DATES, REFERENCES, TOKENS
from sync.server.tablets import AuthLimiter, Tablet, TabletRegistry
from sync.server.wire import FHIR_JSON, GZIP_REPLY_MIN_BYTES, MAX_BODY_BYTES, accepts_gzip, decode_body, parse_fhir_json

log = logging.getLogger(__name__)


def capability_statement() -> dict[str, Any]:
    """What this server does, as `GET [base]/metadata` answers it (FHIR R4 CapabilityStatement)."""
    common = [("identifier", "token"), ("_lastUpdated", "date"), ("_tag", "token")]
    types = ("Patient", "Observation", "Encounter", "Composition", "PractitionerRole", "Practitioner",
             "Organization", "DocumentReference", "ClinicalImpression", "Task")
    searchable = {t: [*common, *(("date", "date") for _ in [t] if t in DATES),
                      *((n, "reference") for (rt, n) in REFERENCES if rt == t)] for t in types}
    searchable["Observation"].append(("patient", "reference"))
    searchable["Task"].extend((name, "token") for (rt, name) in TOKENS if rt == "Task")
    includes = {t: [f"{t}:{n}" for (rt, n) in REFERENCES if rt == t] for t in types}
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2025-01-01", "kind": "instance",
        "software": {"name": "Relais development FHIR server"},
        "implementation": {"description": "Relais development server (not for production)"},
        "fhirVersion": "4.0.1", "format": [FHIR_JSON, "json"],
        # every search also takes _count (a page of at most sync.server.search.MAX_COUNT, a `next` link after it)
        # and _sort=_lastUpdated
        "rest": [{"mode": "server", "interaction": [{"code": "transaction"}],
                  "resource": [{"type": t, "interaction": [{"code": "read"}, {"code": "search-type"},
                                                           {"code": "create"}, {"code": "update"}],
                                "conditionalCreate": True, "conditionalUpdate": True,
                                "searchInclude": includes.get(t, []),
                                "searchParam": [{"name": n, "type": k} for n, k in params]}
                               for t, params in searchable.items()]}],
    }


class FhirHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with Content-Length on every reply, so keep-alive clients work."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a reply is written in two parts: the body must not wait for an ACK
    server_version = "RelaisDevFHIR/0.1"
    timeout = 30  # seconds a client may stall mid-request (a body announced longer than sent) before we hang up
    db: ResourceDB
    registry: TabletRegistry | None = None  # None: open development server
    limiter: AuthLimiter
    large_bodies: intake.LargeBodies
    allowed_hosts: frozenset[str] | None = None  # the `Host` names answered (None: any, off loopback)
    tablet: Tablet | None = None
    doctors_port: int | None = None  # where `/` redirects (the doctors' application)

    # -- logging without patient data ------------------------------------------------------------------------------
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        path = urlsplit(self.path).path if hasattr(self, "path") else "-"
        log.info("%s %s %s %s %.1fms", getattr(self, "command", "-"), path, code, size,
                 (time.perf_counter() - getattr(self, "_started", time.perf_counter())) * 1000)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        log.warning("request error (%s)", args[0] if args and isinstance(args[0], int) else "-")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the base class would print the raw request line, query string included

    # -- replies ---------------------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        if len(body) >= GZIP_REPLY_MIN_BYTES and "json" in content_type \
                and accepts_gzip(self.headers.get("Accept-Encoding", "")):
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

    # -- routing ---------------------------------------------------------------------------------------------------
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
        self._give_back: list[Any] = []  # the large-body slot this request holds, if any
        try:
            self._answer(method)
        finally:
            for give_back in self._give_back:
                give_back()

    def _answer(self, method: str) -> None:
        try:
            self._check_host()
            segments, query = self._route()
            # the capability statement stays public (clients probe it), and `/` (a redirect to the doctors'
            # application, which signs doctors in); everything else needs the token when one is configured
            if segments not in (["fhir", "metadata"], []) and self.registry is not None:
                self.tablet = authenticate(self.registry, self.limiter, self.client_address[0],
                                           self.headers.get("Authorization"))
            if method == "POST":
                self._post(segments, query)
            else:
                self._get(segments, query)
        except FhirError as error:
            if not self._body_consumed:
                self._drain_body()
            # an unread request body would be parsed as the next request: close the connection then
            self._send_error(error, close=not self._body_consumed)
        except Exception:
            log.exception("internal error while handling %s", method)
            self._send_error(FhirError(500, "internal server error", "exception"), close=True)

    def _post(self, segments: list[str], query: list[tuple[str, str]]) -> None:
        is_fhir = bool(segments) and segments[0] == "fhir"
        if len(segments) == 2 and is_fhir and TYPE_NAME.fullmatch(segments[1]):
            self._create(segments[1], query)
            return
        if segments != ["fhir"]:
            raise FhirError(404 if not is_fhir else 405, "POST a transaction Bundle to the base URL", "not-supported")
        bundle = self._read_body()
        self._send_json(200, self.db.transaction(bundle, self._scope(), owned=True))  # the parsed body is ours

    def _get(self, segments: list[str], query: list[tuple[str, str]]) -> None:
        if segments == []:
            self._redirect_to_doctors()
            return
        if segments[0] != "fhir":
            raise FhirError(404, "not found", "not-found")
        rest = segments[1:]
        if rest == ["metadata"]:
            self._send_json(200, capability_statement())
        elif len(rest) == 1 and TYPE_NAME.fullmatch(rest[0]):
            base = f"http://{self.headers.get('Host', 'localhost')}/fhir"
            self._send_json(200, self.db.search_bundle(rest[0], query, base, self._scope()))
        elif len(rest) == 2 and TYPE_NAME.fullmatch(rest[0]) and RESOURCE_ID.fullmatch(rest[1]):
            resource = self.db.read(rest[0], rest[1], self._scope())
            if resource is None:
                raise FhirError(404, f"{rest[0]}/{rest[1]} not found", "not-found")
            self._send_json(200, resource, {"ETag": f'W/"{resource["meta"]["versionId"]}"'})
        else:
            raise FhirError(404, "unsupported path", "not-found")

    def _check_host(self) -> None:
        """A server on loopback answers only requests addressed to a loopback name: a web page whose name was
        rebound to 127.0.0.1 (DNS rebinding) sends its own name in `Host` and is refused."""
        if self.allowed_hosts is None:
            return
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rpartition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
        if name not in self.allowed_hosts:
            raise FhirError(403, "this server answers only requests addressed to its loopback name", "forbidden")

    def _scope(self) -> frozenset[str] | None:
        """The sites this request may see and write (sync.server.sites); None: any (open server, shared token)."""
        return self.tablet.sites if self.tablet is not None else None

    def _redirect_to_doctors(self) -> None:
        """`/` is the doctors' application (sync.server.doctors), on its own port of the same host."""
        if self.doctors_port is None:
            raise FhirError(404, "no doctors' application on this server", "not-found")
        host = self.headers.get("Host") or self.server.server_address[0]
        name = host.rpartition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
        self._send(303, b"", "text/plain", {"Location": f"http://{name}:{self.doctors_port}/"})

    def _create(self, rtype: str, query: list[tuple[str, str]]) -> None:
        """Type-level create; conditional with If-None-Exist, or with `?identifier=system|value` (fhirpy's form)."""
        condition = self.headers.get("If-None-Exist")
        if query:
            if condition is not None or len(query) != 1 or query[0][0] != "identifier":
                raise FhirError(400, "conditional create: only one identifier=system|value search is supported")
            condition = f"identifier={quote(query[0][1], safe=':/|.-_~')}"  # parse_qsl decoded it once
        body = self._read_body()
        status, stored, location = self.db.create(rtype, body, condition, self._scope(), owned=True)
        self._send_json(status, stored, {"Location": location, "ETag": f'W/"{stored["meta"]["versionId"]}"'})

    # -- request bodies --------------------------------------------------------------------------------------------
    def _drain_body(self) -> None:
        """Read and drop a refused request's body in small pieces, so the client gets our answer rather than a
        reset while it is still sending (a 401 must reach the uploader as a 401, not as a network error). A chunked
        body, or one announced over the limit, is not read: the connection is closed instead."""
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return
        if 0 <= length <= MAX_BODY_BYTES and not self.headers.get("Transfer-Encoding"):
            intake.drain(self.rfile, length)
            self._body_consumed = True

    def _take_large_slot(self) -> None:
        self._give_back.append(self.large_bodies.take())

    def _read_body(self) -> Any:
        """The request's JSON body, its memory bounded (sync.server.intake, sync.server.wire)."""
        data = intake.read_body(self.headers, self.rfile, self._take_large_slot)
        self._body_consumed = True
        data = decode_body(data, self.headers.get("Content-Encoding"))
        if len(data) >= intake.LARGE_BODY_BYTES and not self._give_back:  # small on the wire, large inflated
            self._take_large_slot()
        return parse_fhir_json(data, self.headers.get("Content-Type", ""))

    # -- methods ---------------------------------------------------------------------------------------------------
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


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})


def make_server(host: str, port: int, db_path: str | Path, *, token: str | None = None,
                registry: TabletRegistry | None = None, limiter: AuthLimiter | None = None,
                doctors_port: int | None = None, key: bytes | None = None) -> ThreadingHTTPServer:
    """A ready-to-serve server (port 0 picks a free port: read `server.server_address`). `registry`: one token
    per tablet, bound to its sites (sync.server.tablets); `token`: a single shared token for any site
    (development); `key`: the file's SQLCipher key (sync.server.at_rest). On a loopback address it answers only
    requests addressed to a loopback name."""
    db = ResourceDB(db_path, key)
    if registry is None and token:
        registry = TabletRegistry.single(token)
    handler = type("BoundFhirHandler", (FhirHandler,), {"db": db, "registry": registry, "doctors_port": doctors_port,
                                                         "limiter": limiter or AuthLimiter(),
                                                         "large_bodies": intake.LargeBodies(),
                                                         "allowed_hosts": LOOPBACK_NAMES if _is_loopback(host)
                                                         else None})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def base_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in str(host) else host
    return f"http://{host}:{port}/fhir"
