"""The doctors' application under uvicorn (an ASGI server), on a socket bound by the caller, so the port is known
before anything starts and no other process can take it in between: in a thread of `python -m sync serve` beside
the development FHIR server, in tests, or alone in front of another FHIR server (`python -m sync doctors serve`).
"""
from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette

from sync.server.doctors.listen import bind, socket_url

__all__ = ["BackgroundServer", "bind", "socket_url"]


class BackgroundServer:
    """uvicorn serving `app` on `sock` in a daemon thread; `stop()` ends it."""

    def __init__(self, app: Starlette, sock: socket.socket) -> None:
        self.sock, self.url = sock, socket_url(sock)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True,
                                       name="doctors-app")

    def start(self, timeout: float = 10.0) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.server.started:
            raise RuntimeError("the doctors' application did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
