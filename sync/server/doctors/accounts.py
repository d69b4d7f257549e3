"""The doctors allowed in, and the sites each serves: a JSON file beside the server's database::

    {"doctors": [{"id": "dr-demo", "name": "Dr Claire Démo", "rpps": "10000000000", "sites": ["000000018"],
                  "password": {"scrypt": "…", "salt": "…", "n": 16384, "r": 8, "p": 1},
                  "totp_secret": "…", "totp_last_step": 0}]}

- The password is kept as scrypt (RFC 7914) with a random salt, compared in constant time. N=2^14, r=8, p=1 are
  the interactive-login figures of scrypt's paper (Percival, "Stronger key derivation via sequential memory-hard
  functions", 2009); the parameters travel with each hash, so they can be raised (OWASP's Password Storage Cheat
  Sheet now advises N=2^17) without invalidating existing accounts.
- The second factor is a TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps) checked with pyotp; the step of the last
  accepted code is kept, so a code is never accepted twice (RFC 6238 §5.2), and one step of clock drift is allowed.
- An account signed in through OpenID Connect (Pro Santé Connect) is found by its RPPS; it needs no password.
- `sites` are FINESS numbers or local site ids, as in the tablet registry (sync.server.tablets).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
ISSUER = "Relais Médecins"
_lock = threading.Lock()


class AccountsError(Exception):
    """The accounts file cannot be used, or an account is given without what it needs."""


@dataclass(frozen=True)
class Doctor:
    """A signed-in doctor, as the session keeps them."""

    id: str
    name: str
    rpps: str
    sites: tuple[str, ...]

    def as_session(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "rpps": self.rpps, "sites": list(self.sites)}

    @classmethod
    def from_session(cls, data: Any) -> "Doctor | None":
        if not isinstance(data, dict):
            return None
        try:
            return cls(str(data["id"]), str(data["name"]), str(data["rpps"]), tuple(str(s) for s in data["sites"]))
        except (KeyError, TypeError):
            return None


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_password(password: str) -> dict[str, Any]:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, **SCRYPT)
    return {"scrypt": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(), **SCRYPT}


def password_matches(stored: Any, password: str) -> bool:
    if not isinstance(stored, dict):
        return False
    try:
        digest = _scrypt(password, base64.b64decode(stored["salt"]), int(stored["n"]), int(stored["r"]),
                         int(stored["p"]))
        return hmac.compare_digest(digest, base64.b64decode(stored["scrypt"]))
    except (KeyError, ValueError, TypeError):
        return False


class AccountBook:
    """The accounts file, read at each sign-in (an account added while the server runs can sign in)."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None

    def _load(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {"doctors": []}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data.get("doctors"), list):
                raise ValueError("no doctors list")
            return data
        except (ValueError, AttributeError) as exc:
            raise AccountsError(f"accounts file {self.path} is malformed: {exc}") from None

    def _save(self, data: dict[str, Any]) -> None:
        assert self.path is not None
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
        os.replace(temporary, self.path)

    @staticmethod
    def _doctor(entry: dict[str, Any]) -> Doctor:
        return Doctor(str(entry["id"]), str(entry["name"]), str(entry["rpps"]),
                      tuple(str(s) for s in entry["sites"]))

    def check_local(self, account_id: str, password: str, code: str, at: float | None = None) -> Doctor | None:
        """The doctor when the password and a TOTP code not used before both match; None otherwise. The scrypt
        runs even for an unknown account, so timing does not tell which accounts exist."""
        with _lock:
            data = self._load()
            entry = next((d for d in data["doctors"] if d.get("id") == account_id), None)
            stored = entry.get("password") if entry else hash_password("unknown account")
            if not password_matches(stored, password) or entry is None or not entry.get("totp_secret"):
                return None
            step = matching_step(entry["totp_secret"], code, time.time() if at is None else at)
            if step is None or step <= int(entry.get("totp_last_step") or 0):
                return None  # wrong, too old, or already used once (replay)
            entry["totp_last_step"] = step
            self._save(data)
            return self._doctor(entry)

    def by_rpps(self, rpps: str) -> Doctor | None:
        """The account of an RPPS (OpenID Connect sign-in)."""
        entry = next((d for d in self._load()["doctors"] if str(d.get("rpps")) == rpps), None)
        return self._doctor(entry) if entry else None

    def add(self, account_id: str, name: str, rpps: str, sites: list[str], password: str) -> tuple[str, str]:
        """Create or replace an account; returns the TOTP secret and its otpauth:// URI, to show once."""
        if not account_id or not name or not rpps or not sites:
            raise AccountsError("a doctor needs an id, a name, an RPPS and at least one site")
        if len(password) < 12:
            raise AccountsError("the password needs at least 12 characters")
        secret = pyotp.random_base32()
        with _lock:
            data = self._load()
            data["doctors"] = [d for d in data["doctors"] if d.get("id") != account_id]
            data["doctors"].append({"id": account_id, "name": name, "rpps": rpps, "sites": list(sites),
                                    "password": hash_password(password), "totp_secret": secret,
                                    "totp_last_step": 0})
            self._save(data)
        uri = pyotp.TOTP(secret).provisioning_uri(name=account_id, issuer_name=ISSUER)
        return secret, uri


def matching_step(secret: str, code: str, at: float) -> int | None:
    """The 30-second step whose code this is (now, or one step before or after), None if none."""
    totp = pyotp.TOTP(secret)
    if not (code.isdigit() and len(code) == totp.digits):
        return None
    now = totp.timecode(at)  # RFC 6238 §4: T = floor((Unix time - T0) / X)
    for offset in (0, -1, 1):
        if hmac.compare_digest(totp.generate_otp(now + offset), code):
            return now + offset
    return None
