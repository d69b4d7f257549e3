"""Test helpers shared by the sync tests (and usable by app tests): the real development server as a subprocess,
and a scriptable stub HTTP server for answers a real FHIR server would not give (500, captive-portal HTML, …)."""
from __future__ import annotations

import gzip
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import sync

PROJECT_ROOT = Path(sync.__file__).resolve().parent.parent


def free_port() -> int:
    """A port that was free a moment ago (for 'server down, then started on the same port' scenarios)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """`python -m sync serve` as a real process. Use as a context manager; `.url` is the FHIR base URL and
    `.log_text()` what the server logged (stderr)."""

    def __init__(self, db_path: str | os.PathLike[str], *, port: int = 0, token: str | None = None,
                 host: str = "127.0.0.1", startup_timeout: float = 15,
                 tablets: str | os.PathLike[str] | None = None) -> None:
        self.db_path = Path(db_path)
        self.tablets = tablets
        self.port, self.token, self.host, self.startup_timeout = port, token, host, startup_timeout
        self.url: str = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.db_path.with_name(self.db_path.name + ".server.log")

    def start(self) -> "DevServer":
        cmd = [sys.executable, "-m", "sync", "serve", "--port", str(self.port), "--db", str(self.db_path),
               "--host", self.host]
        if self.tablets is not None:
            cmd += ["--tablets", str(self.tablets)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        env.pop("RELAIS_SERVER_TOKEN", None)
        if self.token:
            env["RELAIS_SERVER_TOKEN"] = self.token  # not on the command line, where `ps` would show it
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=PROJECT_ROOT)
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + self.startup_timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                self.stop()
                raise RuntimeError(f"dev server did not start; log: {self.log_text()}")
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                self.stop()
                raise RuntimeError(f"dev server exited; log: {self.log_text()}")
            line += chunk
        selector.close()
        text = line.decode().strip()
        if not text.startswith("serving on "):
            self.stop()
            raise RuntimeError(f"unexpected first line from dev server: {text!r}")
        self.url = text.removeprefix("serving on ")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> "DevServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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


# -- sample data ------------------------------------------------------------------------------------------------------

SAMPLE_TRAITS: dict[str, Any] = dict(family_name="Martin", given_name="Jeanne", birth_date="1938-04-02", sex="F",
                                     birth_place_insee="75056")


def valid_ins(first13: str = "2380475056123") -> str:
    """A 15-character INS (NIR) with a correct control key, for tests (fictitious person)."""
    body = first13.replace("2A", "19").replace("2B", "18") if first13[5:7] in ("2A", "2B") else first13
    return f"{first13}{97 - int(body) % 97:02d}"


def closed_session(store: Any, *, value: str = "37.60", measured_at: str | None = "2024-05-01T10:15:00+02:00",
                   received_at: str = "2024-05-01T08:15:30+00:00", patient_id: str | None = None,
                   **traits: Any) -> tuple[str, str, str]:
    """One patient (created unless given), one session with one temperature, closed: (patient, session, outbox)."""
    if patient_id is None:
        patient_id = store.add_patient(**{**SAMPLE_TRAITS, **traits})
    session_id = store.open_session(patient_id)
    store.add_measurement(session_id, code="8310-5", value=value, unit="Cel", measured_at=measured_at,
                          received_at=received_at, device={"address": "C0:FF:EE:00:00:01", "name": "Thermo-1",
                                                           "manufacturer": "Acme", "model": "T100"},
                          raw=b"\x00\x10\x0e\x00\xfe", status=["site:armpit"])
    return patient_id, session_id, store.close_session(session_id)
