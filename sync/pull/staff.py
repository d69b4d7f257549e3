"""Staff known at the site, as they come down from the server: a PractitionerRole at the site's Organization and
its Practitioner become a `staff` row (origin 'pulled') under the id the tablet that created them minted.

Never a PIN and never the right to administer this tablet: a PIN is a secret of one tablet (it never leaves it), so
a pulled staff member cannot sign in here until an administrator of this tablet gives them one (the existing reset
path, `Store.reset_pin`); administration rights are granted on each tablet by its own administrators.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sync import fhir
from sync.fhir.terminology import STAFF_ROLE_SYSTEM
from sync.pull.residents import identifier_value, within_transaction
from sync.store import Store
from sync.store.identity import clean_adeli, clean_rpps
from sync.store.staff import DISPLAY_NAME, STAFF_ROLES
from sync.store.trail import trace

_FIELDS = ("display_name", "role", "rpps", "adeli", "active")


def staff_fields(role: dict[str, Any], practitioner: dict[str, Any]) -> dict[str, Any]:
    """The `staff` columns a PractitionerRole and its Practitioner give (ValueError / InputError when unusable)."""
    codes = [c.get("code") for concept in role.get("code") or () if isinstance(concept, dict)
             for c in concept.get("coding") or () if isinstance(c, dict) and c.get("system") == STAFF_ROLE_SYSTEM]
    if not codes or codes[0] not in STAFF_ROLES:
        raise ValueError("a PractitionerRole without a staff role of this product")
    national = identifier_value(practitioner, fhir.IDNAT_PS_SYSTEM) or ""
    active = role.get("active", True) is not False and practitioner.get("active", True) is not False
    return {"display_name": DISPLAY_NAME.clean((practitioner.get("name") or [{}])[0].get("text")),
            "role": codes[0], "rpps": clean_rpps(identifier_value(practitioner, fhir.RPPS_SYSTEM), "rpps"),
            "adeli": clean_adeli(national[1:] if national.startswith("0") else None, "adeli"),
            "active": int(active)}


def apply_staff(store: Store, role: dict[str, Any], practitioner: dict[str, Any], *, now: dt.datetime) -> str:
    """Apply one pulled staff member: "created", "updated", "unchanged" or "duplicate" (this tablet knows them
    under another id, by RPPS or ADELI: left as it is)."""
    staff_id = identifier_value(practitioner, fhir.STAFF_ID_SYSTEM)
    if not staff_id:
        raise ValueError("a Practitioner without the product's staff-id identifier")
    fields = staff_fields(role, practitioner)
    with within_transaction(store):
        row = next(iter(store.query("SELECT * FROM staff WHERE id = ?", [staff_id])), None)
        if row is None:
            for column in ("rpps", "adeli"):
                if fields[column] and store.query(f"SELECT 1 FROM staff WHERE {column} = ?", [fields[column]]):
                    return "duplicate"
            store.db["staff"].insert({"id": staff_id, **fields, "pin_hash": None, "is_admin": 0, "origin": "pulled",
                                      "created_at": store.stamp(now)})
            trace(store, "create", "staff", staff_id, f"pulled from the server, role {fields['role']}")
            return "created"
        changed = {name: fields[name] for name in _FIELDS if row[name] != fields[name]}
        if not changed or row["origin"] != "pulled":
            return "unchanged"
        store.db["staff"].update(staff_id, changed)
        trace(store, "change", "staff", staff_id, "pulled from the server: " + ", ".join(sorted(changed)))
        return "updated"
