"""A scriptable HTTP server in a thread, for answers a real FHIR server would not give (500, captive-portal HTML,
a partial transaction-response, …): each request is recorded and answered by a function of the test (or a fixed
StubResponse)."""
from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class StubResponse:
    status: int = 200
    body: bytes | str | dict[str, Any] = b""
    content_type: str = "application/fhir+json"
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass
class RecordedRequest:
    """`body` is the request body decoded from its Content-Encoding (gzip), `wire_body` the bytes received."""
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    wire_body: bytes = b""


class StubServer:
    """An HTTP server in a thread answering every request with `respond(request)` (a function or a fixed
    StubResponse). `.requests` records what was received."""

    def __init__(self, respond: StubResponse | Callable[[RecordedRequest], StubResponse]) -> None:
        self.respond = respond if callable(respond) else (lambda _req: respond)
        self.requests: list[RecordedRequest] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                wire = self.rfile.read(length)
                body = gzip.decompress(wire) if self.headers.get("Content-Encoding") == "gzip" else wire
                request = RecordedRequest(self.command, self.path, dict(self.headers), body, wire)
                stub.requests.append(request)
                reply = stub.respond(request)
                body = reply.encoded()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _any  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> "StubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
