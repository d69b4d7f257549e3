"""The doctors' application beside the development FHIR server of `python -m sync serve`: same process, its own
port (uvicorn in a thread), reading the FHIR server through its loopback URL. The FHIR server's `/` redirects to it.

When the FHIR server requires tablet tokens, the application gets a token of its own, minted at start and known
only to this process (registered in memory, never written to the tablets file).
"""
from __future__ import annotations

import secrets
import socket
from pathlib import Path

from sync.server.doctors.app import DoctorsSettings, create_app, is_loopback
from sync.server.doctors.serve import BackgroundServer
from sync.server.tablets import Tablet, TabletRegistry, token_digest


def start_beside(sock: socket.socket, fhir_base: str, *, host: str, accounts: str | None,
                 view_log: str | Path, registry: TabletRegistry | None) -> BackgroundServer:
    token = None
    if registry is not None:
        token = secrets.token_urlsafe(32)
        registry.tablets[token_digest(token)] = Tablet("doctors-application", None)
    settings = DoctorsSettings(fhir_base=fhir_base, accounts=accounts, view_log=view_log, fhir_token=token,
                               secure_cookies=not is_loopback(host))
    return BackgroundServer(create_app(settings), sock).start()
