"""Start the development sync server as its own process (for the app's embedded defaults and for tests)."""
from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests


class LocalServer:
    """`python -m sync serve` in a child process on 127.0.0.1; `url` is its FHIR base once started."""

    def __init__(self, db_path: Path | str, *, port: int = 0, token: str | None = None) -> None:
        self.db_path = Path(db_path)
        self.port = port
        self.token = token
        self.process: subprocess.Popen[str] | None = None
        self.url: str | None = None

    def start(self, timeout: float = 20.0) -> str:
        cmd = [sys.executable, "-m", "sync", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--db", str(self.db_path)]
        if self.token:
            cmd += ["--token", self.token]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        found: list[str] = []

        def read_banner() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                match = re.search(r"(http://127\.0\.0\.1:\d+/fhir)", line)
                if match:
                    found.append(match.group(1))
                    break
            # keep draining so the child never blocks on a full pipe
            for _ in self.process.stdout:
                pass

        threading.Thread(target=read_banner, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found:
            if self.process.poll() is not None:
                raise RuntimeError(f"sync server exited with code {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("sync server did not start in time")
            time.sleep(0.02)
        self.url = found[0]
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        return self.url

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, for crash tests."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def __enter__(self) -> "LocalServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def server_alive(url: str, timeout: float = 1.0) -> bool:
    """Does a FHIR server answer /metadata at this base URL?"""
    try:
        reply = requests.get(f"{url.rstrip('/')}/metadata", timeout=timeout)
        return reply.status_code == 200 and reply.json().get("resourceType") == "CapabilityStatement"
    except (requests.RequestException, ValueError):
        return False
