"""The doctors' application beside the development FHIR server of `python -m sync serve`: same process, its own
port (uvicorn in a thread), reading the FHIR server through its loopback URL. The FHIR server's `/` redirects to it.

It starts in the background (`DoctorsBeside`), so the FHIR server answers at once: its web libraries load while
the FHIR server already serves, and a browser arriving meanwhile waits in the bound socket's backlog.
When the FHIR server requires tablet tokens, the application gets a token of its own, minted at start and known
only to this process (registered in memory, never written to the tablets file).
"""
from __future__ import annotations

import logging
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

from sync.server.tablets import Tablet, TabletRegistry, token_digest

log = logging.getLogger(__name__)


def start_beside(sock: socket.socket, fhir_base: str, *, host: str, accounts: str | None,
                 view_log: str | Path, registry: TabletRegistry | None) -> Any:
    """The application started on `sock` (a BackgroundServer)."""
    from sync.server.doctors.app import DoctorsSettings, create_app, is_loopback
    from sync.server.doctors.serve import BackgroundServer

    token = None
    if registry is not None:
        token = secrets.token_urlsafe(32)
        registry.tablets[token_digest(token)] = Tablet("doctors-application", None)
    settings = DoctorsSettings(fhir_base=fhir_base, accounts=accounts, view_log=view_log, fhir_token=token,
                               secure_cookies=not is_loopback(host))
    app = create_app(settings)
    if is_loopback(host):  # a page whose name was rebound to 127.0.0.1 (DNS rebinding) sends its own name
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app = TrustedHostMiddleware(app, allowed_hosts=["127.0.0.1", "localhost"])
    return BackgroundServer(app, sock).start()


class DoctorsBeside:
    """`start_beside` in a thread of its own; `stop()` ends the application if it came up."""

    def __init__(self, sock: socket.socket, fhir_base: str, **options: Any) -> None:
        self.server: Any = None
        self._thread = threading.Thread(target=self._run, args=(sock, fhir_base), kwargs=options, daemon=True,
                                        name="doctors-start")
        self._thread.start()

    def _run(self, sock: socket.socket, fhir_base: str, **options: Any) -> None:
        try:
            self.server = start_beside(sock, fhir_base, **options)
            log.info("doctors' application on %s/", self.server.url)
        except Exception:
            log.exception("the doctors' application did not start")

    def stop(self) -> None:
        self._thread.join(10)
        if self.server is not None:
            self.server.stop()
