"""Staff members of the site: who they are (name, role, RPPS or ADELI number), whether they may still act
(active) and administer the tablet, their PIN set or reset by an administrator, and the export of the audit
trail an administrator may ask for.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sync import audit
from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import InputError
from sync.store.fields import TextRule, choice, flag
from sync.store.identity import clean_adeli, clean_rpps
from sync.store.pins import ADMIN_PIN_DIGITS, admin_ready, hash_pin, long_enough_for_admin, store_new_pin
from sync.store.trail import trace

STAFF_ROLES = ("aide_soignant", "infirmier", "assistant_medical", "pharmacien", "medecin", "administrateur")
DISPLAY_NAME = TextRule("display_name", 100, "staff.display_name.too_long", required="staff.display_name.required")


def add_staff(db: Database, *, display_name: str, role: str, rpps: str | None = None, adeli: str | None = None,
              pin_hash: str | None = None, active: bool = True, pin: str | None = None,
              is_admin: bool = False) -> str:
    """A staff member of the site: name as shown, role, national identifier (RPPS 11 digits, or ADELI) when the
    profession has one. `pin`: their sign-in PIN, stored as a salted scrypt hash (`pin_hash`: an existing one,
    whose length is unknown: an administrator given one chooses a PIN before administering)."""
    name = DISPLAY_NAME.clean(display_name)
    role_code = choice(role, STAFF_ROLES, "role", "staff.role.invalid")
    admin = bool(is_admin) or role_code == "administrateur"
    if pin is not None:
        pin_hash = hash_pin(pin, admin=admin)
    rpps_value = clean_rpps(rpps, "rpps")
    adeli_value = clean_adeli(adeli, "adeli")
    if pin_hash is not None and (not isinstance(pin_hash, str) or not pin_hash):
        raise InputError("staff.pin_hash.invalid", "pin_hash")
    flag(active, "active")
    flag(is_admin, "is_admin")
    staff_id = new_id()
    with db.transaction():
        if rpps_value and list(db.db.query("SELECT 1 FROM staff WHERE rpps = ?", [rpps_value])):
            raise InputError("staff.rpps.taken", "rpps")
        if adeli_value and list(db.db.query("SELECT 1 FROM staff WHERE adeli = ?", [adeli_value])):
            raise InputError("staff.adeli.taken", "adeli")
        db.db["staff"].insert({"id": staff_id, "display_name": name, "role": role_code, "rpps": rpps_value,
                               "adeli": adeli_value, "pin_hash": pin_hash, "active": int(active),
                               "is_admin": int(admin), "created_at": db.stamp(),
                               "pin_admin_ready": int(pin is not None and long_enough_for_admin(pin))})
        trace(db, "create", "staff", staff_id, f"role {role_code}" + (" admin" if is_admin else ""))
    return staff_id


def get_staff(db: Database, staff_id: str) -> dict[str, Any]:
    return db.row("staff", staff_id)


def list_staff(db: Database, *, active_only: bool = False) -> list[dict[str, Any]]:
    return db.query("SELECT * FROM staff" + (" WHERE active = 1" if active_only else "") + " ORDER BY display_name, id")


def active_staff(db: Database, staff_id: Any, field: str) -> dict[str, Any]:
    """The row of a registered, active staff member chosen for `field`."""
    if not isinstance(staff_id, str):
        raise InputError("staff.required", field)
    row = db.row("staff", staff_id)
    if not row["active"]:
        raise InputError("staff.inactive", field, staff_id=staff_id)
    return row


def set_staff_active(db: Database, staff_id: str, active: bool) -> None:
    """Deactivate (or reactivate) a staff member: they can no longer be chosen for a session. Their past sessions
    are untouched."""
    flag(active, "active")
    with db.transaction():
        db.row("staff", staff_id)
        db.conn.execute("UPDATE staff SET active = ? WHERE id = ?", [int(active), staff_id])
        trace(db, "change", "staff", staff_id, "active" if active else "deactivated")


def set_staff_admin(db: Database, staff_id: str, is_admin: bool) -> None:
    """Grant or withdraw the right to manage the tablet."""
    flag(is_admin, "is_admin")
    with db.transaction():
        db.row("staff", staff_id)
        db.conn.execute("UPDATE staff SET is_admin = ? WHERE id = ?", [int(is_admin), staff_id])
        trace(db, "change", "staff", staff_id, "admin granted" if is_admin else "admin withdrawn")


def _admin(db: Database, admin_id: str, refusal: str) -> dict[str, Any]:
    admin = active_staff(db, admin_id, "admin_id")
    if not admin["is_admin"]:
        raise InputError(refusal, "admin_id")
    if not admin_ready(admin):
        raise InputError("pin.admin.choose_longer", "admin_id", digits=ADMIN_PIN_DIGITS)
    return admin


def reset_pin(db: Database, admin_id: str, staff_id: str, new_pin: str) -> None:
    """An administrator sets a new PIN for a staff member (forgotten PIN, lock-out); an administrator's needs
    ADMIN_PIN_DIGITS digits."""
    _admin(db, admin_id, "pin.reset.not_admin")
    digest = hash_pin(new_pin, admin=bool(db.row("staff", staff_id)["is_admin"]))
    with db.transaction():
        store_new_pin(db, staff_id, digest, admin_ready=long_enough_for_admin(new_pin))
        trace(db, "change", "staff", staff_id, "pin reset by administrator", staff_id=admin_id)


def export_audit_csv(db: Database, admin_id: str, path: str | os.PathLike[str] | None = None) -> str:
    """The audit log as CSV, for an administrator only; the export itself is traced (first, so the file shows
    it). Written to `path` (owner-only) when given; the text is returned either way."""
    _admin(db, admin_id, "audit.export.not_admin")
    with db.transaction():
        trace(db, "export", "audit_log", None, "csv", staff_id=admin_id)
    text = audit.to_csv(db, audit.rows(db))
    if path is not None:
        fd = os.open(Path(path), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return text
