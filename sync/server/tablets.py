"""Who may upload to the development server: one token per tablet, each bound to its sites, and a brake on
guessing.

The registry is a JSON file the operator keeps beside the server's database::

    {"tablets": [{"id": "ehpad-tilleuls-1", "token_sha256": "…", "sites": ["750000010"]}]}

Only the SHA-256 of each token is stored (a stolen registry gives no token); `sites` lists the keys of the sites
the tablet works for: a site's FINESS when it has one, else its local site id (sync.fhir.SITE_ID_SYSTEM), as
sync.server.sites names sites. `python -m sync tablets add` mints a token, prints
it once and records its hash. A lost tablet is removed with `python -m sync tablets remove`, without touching the
others.

Failed authentication is rate-limited per client address: from the 5th failure within a minute the address is
refused (429 with Retry-After) for 30 s, doubling at each new lock-out up to 15 minutes, whatever token it sends
meanwhile — so a token cannot be guessed at network speed.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

FAILURES_BEFORE_LOCK = 5
FAILURE_WINDOW_SECONDS = 60.0
LOCK_FIRST_SECONDS = 30.0
LOCK_MAX_SECONDS = 900.0


class RegistryError(Exception):
    """The registry file cannot be used (missing, not JSON, wrong shape)."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Tablet:
    id: str
    sites: frozenset[str] | None  # None: any site (the single shared --token of a development set-up)


@dataclass
class TabletRegistry:
    tablets: dict[str, Tablet] = field(default_factory=dict)  # token SHA-256 → tablet

    @classmethod
    def single(cls, token: str) -> "TabletRegistry":
        return cls({token_digest(token): Tablet("shared-token", None)})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "TabletRegistry":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            entries = data["tablets"]
            tablets = {}
            for entry in entries:
                digest, sites = str(entry["token_sha256"]).lower(), entry["sites"]
                if len(digest) != 64 or not isinstance(sites, list) or not sites:
                    raise ValueError(f"tablet {entry.get('id')!r}: a 64-hex token_sha256 and a list of sites")
                tablets[digest] = Tablet(str(entry["id"]), frozenset(str(s) for s in sites))
        except FileNotFoundError:
            raise RegistryError(f"no tablet registry at {path}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"tablet registry {path} is malformed: {exc}") from None
        return cls(tablets)

    def authenticate(self, authorization: str) -> Tablet | None:
        """The tablet whose token is in this `Authorization: Bearer …` header, or None. Compares digests in
        constant time against every entry."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        digest = token_digest(token.strip()).encode()
        found = None
        for known, tablet in self.tablets.items():
            if hmac.compare_digest(known.encode(), digest):
                found = tablet
        return found


def add_tablet(path: str | os.PathLike[str], tablet_id: str, sites: list[str]) -> str:
    """Register a tablet (replacing one with the same id) and return its new token, shown once."""
    if not tablet_id or not sites:
        raise RegistryError("a tablet needs an id and at least one site")
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"tablets": []}
    token = secrets.token_urlsafe(32)
    data["tablets"] = [t for t in data["tablets"] if t.get("id") != tablet_id]
    data["tablets"].append({"id": tablet_id, "token_sha256": token_digest(token), "sites": list(sites)})
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    return token


def remove_tablet(path: str | os.PathLike[str], tablet_id: str) -> bool:
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    kept = [t for t in data["tablets"] if t.get("id") != tablet_id]
    if len(kept) == len(data["tablets"]):
        return False
    data["tablets"] = kept
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return True


class AuthLimiter:
    """Failed-authentication brake per client address (thread-safe: the server is threaded)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lockouts: dict[str, int] = {}

    def retry_after(self, address: str) -> float:
        """Seconds this address must still wait (0: it may try)."""
        with self._lock:
            return max(0.0, self._locked_until.get(address, 0.0) - self._clock())

    def failed(self, address: str) -> float:
        """Count a failure; returns the lock-out it starts (0 if none)."""
        now = self._clock()
        with self._lock:
            recent = self._failures.setdefault(address, deque())
            recent.append(now)
            while recent and recent[0] < now - FAILURE_WINDOW_SECONDS:
                recent.popleft()
            if len(recent) < FAILURES_BEFORE_LOCK:
                return 0.0
            recent.clear()
            count = self._lockouts.get(address, 0)
            delay = min(LOCK_MAX_SECONDS, LOCK_FIRST_SECONDS * 2 ** count)
            self._lockouts[address] = count + 1
            self._locked_until[address] = now + delay
            return delay

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)
            self._lockouts.pop(address, None)
