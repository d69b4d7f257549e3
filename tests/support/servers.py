"""The real development server for tests, as a process started by the one class that does it
(sync.server.process.LocalServer), with what tests want: a log file beside its database, to read back."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from sync.server.process import LocalServer

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port that was free a moment ago (for 'server down, then started on the same port' scenarios)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer(LocalServer):
    """`python -m sync serve` as a real process, logging to `<db>.server.log` (`log_text()`). Use as a context
    manager; `.url` is the FHIR base URL. Same options as LocalServer (`token`, `tablets`, `port`, …)."""

    def __init__(self, db_path: str | os.PathLike[str], **options: Any) -> None:
        db_path = Path(db_path)
        options.setdefault("log_path", db_path.with_name(db_path.name + ".server.log"))
        options.setdefault("startup_timeout", 15.0)
        super().__init__(db_path, **options)
