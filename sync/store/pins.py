"""Staff PINs: salted scrypt hashes (RFC 7914) and the lock-out after repeated wrong PINs.

Parameters are stored with each hash (`scrypt$n$r$p$salt$digest`), so they can be raised later without a
migration; n=2^14, r=8, p=1 costs ~16 MiB and tens of ms per check, fine for a tablet sign-in and costly for a
thief brute-forcing a copied database (whose PIN space is small: the lock-out protects the live app). From the
PIN_ATTEMPTS-th wrong PIN in a row the member is locked for a delay that doubles each time (30 s, 1 min, 2 min…
capped at one hour); a right PIN resets the count.

The lock-out is elapsed time on the boot clock (sync.store.uptime), not a date: moving the wall clock forward
does not end it. After a reboot the elapsed time is unknown, so the lock-out starts again in full (the safe
side); only a system that names no boot falls back to the wall clock.

An administrator's PIN has at least ADMIN_PIN_DIGITS digits (it guards every account and the audit trail). Whether
a member's PIN is long enough is kept as a flag (`pin_admin_ready`), learnt when the PIN is set or typed: an
administrator whose PIN is shorter, or not known yet, signs in as usual but must choose a longer one before
administering (`admin_ready`).
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
from sync.store.uptime import BootReading, elapsed

PIN_ATTEMPTS = 5
PIN_LOCK_FIRST_SECONDS = 30
PIN_LOCK_MAX_SECONDS = 3600
ADMIN_PIN_DIGITS = 6
_PIN = re.compile(r"[0-9]{4,8}")  # ASCII digits only: \d also takes "１２３４" (fullwidth) and other scripts' digits


def validate_pin(pin: Any, *, admin: bool = False) -> None:
    """A PIN is 4 to 8 ASCII digits; `admin`: an administrator's, which needs ADMIN_PIN_DIGITS."""
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise InputError("pin.format", "pin")
    if admin and len(pin) < ADMIN_PIN_DIGITS:
        raise InputError("pin.admin.too_short", "pin", digits=ADMIN_PIN_DIGITS)


def hash_pin(pin: str, *, admin: bool = False, n: int = 2 ** 14, r: int = 8, p: int = 1) -> str:
    """The salted hash of a valid PIN (see `validate_pin`)."""
    validate_pin(pin, admin=admin)
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def long_enough_for_admin(pin: str) -> bool:
    return len(pin) >= ADMIN_PIN_DIGITS


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


_UNLOCKED = {"pin_failures": 0, "pin_locked_until": None, "pin_lock_boot": None, "pin_lock_uptime": None}


def store_new_pin(db: Database, staff_id: str, digest: str, *, admin_ready: bool) -> None:
    """Inside the caller's transaction: the new hash, whether it is long enough for an administrator, and the
    lock-out cleared."""
    db.row("staff", staff_id)
    db.db["staff"].update(staff_id, {"pin_hash": digest, "pin_admin_ready": int(admin_ready), **_UNLOCKED})


def set_pin(db: Database, staff_id: str, pin: str) -> None:
    """Store a new PIN for this staff member as a salted scrypt hash (never the PIN); clears any lock-out. An
    administrator's needs ADMIN_PIN_DIGITS digits."""
    digest = hash_pin(pin, admin=bool(db.row("staff", staff_id)["is_admin"]))
    with db.transaction():
        store_new_pin(db, staff_id, digest, admin_ready=long_enough_for_admin(pin))
        trace(db, "change", "staff", staff_id, "pin")


def admin_ready(member: dict[str, Any]) -> bool:
    """An administrator may administer once their PIN is known to be long enough."""
    return bool(member["is_admin"]) and bool(member["pin_admin_ready"])


def _lock_remaining(db: Database, member: dict[str, Any]) -> float | None:
    """Seconds this member is still locked out (None: not locked), inside the caller's transaction. A lock-out
    from another boot starts again here, in full."""
    delay = lock_delay(member["pin_failures"])
    if not member["pin_locked_until"] or delay is None:
        return None
    now = db.uptime()
    if now.boot is None:  # no boot clock to measure with: the wall clock, the only one left
        left = (dt.datetime.fromisoformat(member["pin_locked_until"]) - db.now()).total_seconds()
        return left if left > 0 else None
    since = elapsed(BootReading(member["pin_lock_boot"], member["pin_lock_uptime"] or 0.0), now)
    if since is None:
        db.db["staff"].update(member["id"], {"pin_lock_boot": now.boot, "pin_lock_uptime": now.seconds})
        return float(delay)
    left = delay - since
    return left if left > 0 else None


def is_locked(db: Database, member: dict[str, Any]) -> bool:
    """Whether this member is locked out now, as `verify_pin` would find (read only: a lock-out from another boot
    counts as running until a PIN is tried)."""
    delay = lock_delay(member["pin_failures"])
    if not member["pin_locked_until"] or delay is None:
        return False
    now = db.uptime()
    if now.boot is None:
        return dt.datetime.fromisoformat(member["pin_locked_until"]) > db.now()
    since = elapsed(BootReading(member["pin_lock_boot"], member["pin_lock_uptime"] or 0.0), now)
    return since is None or since < delay


def verify_pin(db: Database, staff_id: str, pin: str) -> bool:
    """True when `pin` is this active staff member's PIN. Each wrong PIN counts; PinLockedError while locked out,
    whatever the PIN. A right PIN resets the count."""
    with db.transaction():
        member = db.row("staff", staff_id)
        if not member["active"]:
            raise InputError("pin.account_disabled", "staff_id")
        locked = _lock_remaining(db, member)  # a restarted lock-out is kept: the transaction commits
        if locked is None:
            right = _check(db, member, pin)
    if locked is not None:
        raise PinLockedError(dt.timedelta(seconds=locked))
    return right


def _check(db: Database, member: dict[str, Any], pin: str) -> bool:
    staff_id = member["id"]
    if not member["pin_hash"]:
        raise InputError("pin.not_set", "pin")
    if isinstance(pin, str) and _PIN.fullmatch(pin) and check_pin(pin, member["pin_hash"]):
        db.db["staff"].update(staff_id, {**_UNLOCKED, "pin_admin_ready": int(long_enough_for_admin(pin))})
        trace(db, "sign_in", "staff", staff_id, staff_id=staff_id)
        return True
    failures = member["pin_failures"] + 1
    changes: dict[str, Any] = {"pin_failures": failures}
    delay = lock_delay(failures)
    if delay is not None:
        reading = db.uptime()
        changes.update(pin_locked_until=db.stamp(db.now() + dt.timedelta(seconds=delay)),
                       pin_lock_boot=reading.boot, pin_lock_uptime=reading.seconds)
    db.db["staff"].update(staff_id, changes)
    trace(db, "sign_in_refused", "staff", staff_id,
          f"wrong pin {failures}" + (", locked" if "pin_locked_until" in changes else ""))
    return False
