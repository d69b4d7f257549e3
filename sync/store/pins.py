"""Staff PINs: salted scrypt hashes (RFC 7914) and the lock-out after repeated wrong PINs.

Parameters are stored with each hash (`scrypt$n$r$p$salt$digest`), so they can be raised later without a
migration; n=2^14, r=8, p=1 costs ~16 MiB and tens of ms per check, fine for a tablet sign-in and costly for a
thief brute-forcing a copied database (whose PIN space is small: the lock-out protects the live app). From the
PIN_ATTEMPTS-th wrong PIN in a row the member is locked for a delay that doubles each time (30 s, 1 min, 2 min…
capped at one hour); a right PIN resets the count.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
from typing import Any

from sync.store.database import Database
from sync.store.errors import InputError, PinLockedError
from sync.store.trail import trace

PIN_ATTEMPTS = 5
PIN_LOCK_FIRST_SECONDS = 30
PIN_LOCK_MAX_SECONDS = 3600
_PIN = re.compile(r"[0-9]{4,8}")  # ASCII digits only: \d also takes "１２３４" (fullwidth) and other scripts' digits


def hash_pin(pin: str, *, n: int = 2 ** 14, r: int = 8, p: int = 1) -> str:
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise InputError("pin.format", "pin")
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(str(pin).encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                   dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def lock_delay(failures: int) -> int | None:
    """Seconds of lock-out after `failures` wrong PINs in a row; None below PIN_ATTEMPTS."""
    if failures < PIN_ATTEMPTS:
        return None
    return min(PIN_LOCK_MAX_SECONDS, PIN_LOCK_FIRST_SECONDS * 2 ** (failures - PIN_ATTEMPTS))


def store_new_pin(db: Database, staff_id: str, digest: str) -> None:
    """Inside the caller's transaction: the new hash, and the lock-out cleared."""
    db.row("staff", staff_id)
    db.db["staff"].update(staff_id, {"pin_hash": digest, "pin_failures": 0, "pin_locked_until": None})


def set_pin(db: Database, staff_id: str, pin: str) -> None:
    """Store a new PIN for this staff member as a salted scrypt hash (never the PIN); clears any lock-out."""
    digest = hash_pin(pin)
    with db.transaction():
        store_new_pin(db, staff_id, digest)
        trace(db, "change", "staff", staff_id, "pin")


def verify_pin(db: Database, staff_id: str, pin: str) -> bool:
    """True when `pin` is this active staff member's PIN. Each wrong PIN counts; PinLockedError while locked out,
    whatever the PIN. A right PIN resets the count."""
    with db.transaction():
        member = db.row("staff", staff_id)
        if not member["active"]:
            raise InputError("pin.account_disabled", "staff_id")
        now = db.now()
        if member["pin_locked_until"] and dt.datetime.fromisoformat(member["pin_locked_until"]) > now:
            raise PinLockedError(dt.datetime.fromisoformat(member["pin_locked_until"]) - now)
        if not member["pin_hash"]:
            raise InputError("pin.not_set", "pin")
        if isinstance(pin, str) and _PIN.fullmatch(pin) and check_pin(pin, member["pin_hash"]):
            db.db["staff"].update(staff_id, {"pin_failures": 0, "pin_locked_until": None})
            trace(db, "sign_in", "staff", staff_id, staff_id=staff_id)
            return True
        failures = member["pin_failures"] + 1
        changes: dict[str, Any] = {"pin_failures": failures}
        delay = lock_delay(failures)
        if delay is not None:
            changes["pin_locked_until"] = db.stamp(now + dt.timedelta(seconds=delay))
        db.db["staff"].update(staff_id, changes)
        trace(db, "sign_in_refused", "staff", staff_id,
              f"wrong pin {failures}" + (", locked" if "pin_locked_until" in changes else ""))
        return False
