"""The development server as a process of its own: `python -m sync serve` started on loopback, its first line
("serving on URL") read for the FHIR base URL.

One class for every caller: the app's embedded local server (started by the app's entry point, shared with another
Relais already running on the port), the tests and the benchmark (a tablets file, a log file to read back, a crash by
SIGKILL). The token goes to the child through its environment ($RELAIS_SERVER_TOKEN), never on its command line,
where `ps` would show it; without a token the child is an open server even if the caller's environment holds one.
"""
from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import requests

from sync.errors import RelaisError
from sync.keys import KeyFileError, keys_home, load_or_create_key, read_key

BANNER = "serving on "
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `sync` package
TOKEN_VARIABLE = "RELAIS_SERVER_TOKEN"


class ServerStartError(RelaisError, RuntimeError):
    """The server did not come up: `server.start.exited` (returncode), `server.start.timeout` (seconds) or
    `server.start.banner` (the unexpected first line). `log` holds what it logged, when it logs to a file."""


class LocalServer:
    """`python -m sync serve` in a child process; `url` is its FHIR base and `port` its port once started. Use as a
    context manager, or `start()` (returns the URL) and `stop()`."""

    def __init__(self, db_path: str | os.PathLike[str], *, port: int = 0, host: str = "127.0.0.1",
                 token: str | None = None, tablets: str | os.PathLike[str] | None = None,
                 log_path: str | os.PathLike[str] | None = None, startup_timeout: float = 20.0,
                 doctors: str | os.PathLike[str] | None = None,
                 key_file: str | os.PathLike[str] | None = None) -> None:
        """`tablets`: the registry of per-tablet tokens (`python -m sync tablets add`); `token`: one shared token
        instead; neither: an open server. `log_path`: where its log (stderr) goes, appended; None: discarded.
        `doctors`: the doctors' accounts file (`python -m sync doctors add`) of the application `/` leads to.
        `key_file`: keep its database encrypted under this key (sync.server.at_rest)."""
        self.db_path = Path(db_path).absolute()
        self.key_file = Path(key_file).absolute() if key_file is not None else None
        self.port, self.host, self.token = port, host, token
        self.tablets = Path(tablets).absolute() if tablets is not None else None
        self.doctors = Path(doctors).absolute() if doctors is not None else None
        self.log_path = Path(log_path).absolute() if log_path is not None else None
        self.startup_timeout = startup_timeout
        self.url: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "sync", "serve", "--host", self.host, "--port", str(self.port),
               "--db", str(self.db_path)]
        if self.tablets is not None:
            cmd += ["--tablets", str(self.tablets)]
        if self.doctors is not None:
            cmd += ["--doctors", str(self.doctors)]
        if self.key_file is not None:
            cmd += ["--key-file", str(self.key_file)]
        return cmd

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        env.pop(TOKEN_VARIABLE, None)
        if self.token:
            env[TOKEN_VARIABLE] = self.token
        return env

    def start(self, timeout: float | None = None) -> str:
        """Start the process and wait for its banner (at most `timeout`, default `startup_timeout` seconds);
        returns the FHIR base URL. ServerStartError (a RuntimeError) when it exits or stays silent."""
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                        stderr=self._log if self._log is not None else subprocess.DEVNULL,
                                        env=self.environment(), cwd=PROJECT_ROOT)
        line = self._first_line(self.startup_timeout if timeout is None else timeout)
        if not line.startswith(BANNER):
            self.stop()
            raise ServerStartError("server.start.banner", line=line, log=self.log_text())
        self.url = line.removeprefix(BANNER)
        self.port = urlsplit(self.url).port or self.port
        return self.url

    def _first_line(self, timeout: float) -> str:
        """The child's first line on stdout (its banner); it writes nothing else there, so nothing else is read."""
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.stop()
                    raise ServerStartError("server.start.timeout", seconds=timeout, log=self.log_text())
                chunk = os.read(self.process.stdout.fileno(), 1)
                if not chunk:
                    try:
                        returncode = self.process.wait(5)
                    except subprocess.TimeoutExpired:
                        returncode = None
                    self.stop()
                    raise ServerStartError("server.start.exited", returncode=returncode, log=self.log_text())
                line += chunk
        return line.decode("utf-8", "replace").strip()

    def stop(self) -> None:
        """SIGTERM (the server closes its socket and exits 0), SIGKILL if it has not exited within 5 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._release()

    def kill(self) -> None:
        """SIGKILL, for crash tests."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
        self._release()

    def _release(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        """What the server logged so far ("" without a log file)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> "LocalServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


LOCAL_KEY_NAME = "devserver.key"
LOCAL_TOKEN_NAME = "devserver.token"


def local_token(keys: Path | None = None) -> str:
    """The token of the app's local server, in its own owner-only file of the keys folder (made the first time):
    every Relais of this account finds it, no other account nor a web page does."""
    path = (keys or keys_home()) / LOCAL_TOKEN_NAME
    try:
        return read_key(path).hex()
    except KeyFileError as exc:
        if exc.code != "key.missing":
            raise
    return load_or_create_key(path, database_exists=False).hex()


def app_server(db_path: Path, *, port: int, doctors: Path, keys: Path | None = None) -> LocalServer:
    """The local server the app starts when no server is configured: on loopback, its copy encrypted under a key
    of its own (apart from the store's), answering only its token (`local_token`) and signed-in doctors."""
    folder = keys or keys_home()
    return LocalServer(db_path, port=port, doctors=doctors, token=local_token(folder),
                       key_file=folder / LOCAL_KEY_NAME)


def server_alive(url: str, timeout: float = 1.0) -> bool:
    """Does a FHIR server answer /metadata at this base URL?"""
    try:
        reply = requests.get(f"{url.rstrip('/')}/metadata", timeout=timeout)
        return reply.status_code == 200 and reply.json().get("resourceType") == "CapabilityStatement"
    except (requests.RequestException, ValueError):
        return False
