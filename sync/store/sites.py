"""Sites: the places where sessions happen, an EHPAD or a pharmacy, with their FINESS number and the number of
their teleconsultation equipment declaration to the ARS, when known."""
from __future__ import annotations

from typing import Any

from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import InputError
from sync.store.fields import TextRule, choice
from sync.store.identity import clean_finess
from sync.store.trail import trace

SITE_KINDS = ("ehpad", "pharmacie")
SITE_NAME = TextRule("name", 200, "site.name.too_long", required="site.name.required")
ARS_DECLARATION = TextRule("ars_declaration", 64, "site.ars_declaration.too_long")


def add_site(db: Database, *, kind: str, name: str, finess: str | None = None,
             ars_declaration: str | None = None) -> str:
    """A site; its FINESS (9 characters) has its key checked, and belongs to one site only."""
    kind_code = choice(kind, SITE_KINDS, "kind", "site.kind.invalid")
    site_name = SITE_NAME.clean(name)
    finess_value = clean_finess(finess)
    declaration = ARS_DECLARATION.clean(ars_declaration)
    site_id = new_id()
    with db.transaction():
        if finess_value and list(db.db.query("SELECT 1 FROM sites WHERE finess = ?", [finess_value])):
            raise InputError("site.finess.taken", "finess")
        db.db["sites"].insert({"id": site_id, "kind": kind_code, "name": site_name, "finess": finess_value,
                               "ars_declaration": declaration, "created_at": db.stamp()})
        trace(db, "create", "site", site_id)
    return site_id


def get_site(db: Database, site_id: str) -> dict[str, Any]:
    return db.row("sites", site_id)


def list_sites(db: Database) -> list[dict[str, Any]]:
    return db.query("SELECT * FROM sites ORDER BY name, id")


def adopt_site(db: Database, *, site_id: str, kind: str, name: str, finess: str | None = None,
               ars_declaration: str | None = None) -> str:
    """A site another tablet created, under the id it has on the server (the `site-id` identifier of its
    Organization), so this tablet's sessions and searches name the same place. Checked like `add_site`; a site
    already here under that id or FINESS is kept as it is and its id returned."""
    kind_code = choice(kind, SITE_KINDS, "kind", "site.kind.invalid")
    site_name = SITE_NAME.clean(name)
    finess_value = clean_finess(finess)
    declaration = ARS_DECLARATION.clean(ars_declaration)
    with db.transaction():
        known = db.query("SELECT id FROM sites WHERE id = ? OR (finess IS NOT NULL AND finess = ?)",
                         [site_id, finess_value])
        if known:
            return known[0]["id"]
        db.db["sites"].insert({"id": site_id, "kind": kind_code, "name": site_name, "finess": finess_value,
                               "ars_declaration": declaration, "created_at": db.stamp()})
        trace(db, "create", "site", site_id)
    return site_id
