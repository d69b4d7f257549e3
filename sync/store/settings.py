"""The tablet's settings: small named values kept in the encrypted store (the site chosen at first run, the idle
lock delay, the language, the server to sync with, retention delays). Changing one is traced (its name, never its
value)."""
from __future__ import annotations

from sync.store.database import Database
from sync.store.errors import InputError
from sync.store.trail import trace


def get_setting(db: Database, key: str, default: str | None = None) -> str | None:
    rows = db.query("SELECT value FROM settings WHERE key = ?", [key])
    return rows[0]["value"] if rows else default


def set_setting(db: Database, key: str, value: str, detail: str | None = None) -> None:
    """`detail`: what changed, for the audit trail, when the setting's name alone does not say it (never a
    patient's data)."""
    if not isinstance(key, str) or not key or not isinstance(value, str):
        raise InputError("setting.invalid", "key")
    with db.transaction():
        db.conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                        [key, value, db.stamp()])
        trace(db, "change", "setting", key, detail)


def set_settings(db: Database, values: dict[str, str]) -> None:
    """Several settings that only work together, written in one transaction (all or none), each traced by name."""
    if not values or not all(isinstance(k, str) and k and isinstance(v, str) for k, v in values.items()):
        raise InputError("setting.invalid", "key")
    with db.transaction():
        for key, value in values.items():
            db.conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                            [key, value, db.stamp()])
            trace(db, "change", "setting", key)
