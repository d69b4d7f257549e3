"""One row of a residents export checked by the store's own rules (sync.store.identity for the identity,
sync.store.recipients for the médecin traitant), after the forms a care software writes are brought to the store's
codes: "12/03/1938" to 1938-03-12, "Féminin" to F, "Qualifiée" to QUAL. A row either becomes a `Resident` (every
value cleaned) or a `BadRow` (its line, the refusal's code and the field at fault).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sync.residents_csv.reading import COLUMNS, RawRow
from sync.store import identity
from sync.store.errors import IdentityError, InputError
from sync.store.recipients import DOCTOR_NAME, check_address, check_rpps

IDENTITY_TRAITS = ("family_name", "given_name", "birth_given_names", "birth_date", "sex", "birth_place_insee")
_FRENCH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_SEX_WORDS = {"f": "F", "feminin": "F", "femme": "F", "m": "M", "masculin": "M", "homme": "M", "i": "I",
              "indetermine": "I"}
_STATUS_WORDS = {"prov": "PROV", "provisoire": "PROV", "recup": "RECUP", "recuperee": "RECUP", "vali": "VALI",
                 "validee": "VALI", "qual": "QUAL", "qualifiee": "QUAL"}


@dataclass(frozen=True)
class Resident:
    line: int
    values: dict[str, Any]  # field → cleaned value; only the cells the row filled (an empty cell erases nothing)


@dataclass(frozen=True)
class BadRow:
    line: int
    code: str
    field: str | None = None
    params: dict[str, Any] | None = None

    def report(self) -> dict[str, Any]:
        found: dict[str, Any] = {"line": self.line, "code": self.code}
        if self.field:
            found.update(field=self.field, column=COLUMNS[self.field][0] if self.field in COLUMNS else self.field)
        if self.params:
            found["params"] = self.params
        return found


def _word(value: str | None, words: dict[str, str]) -> str | None:
    """A code from a code or a French word ("Qualifiée" → QUAL); the text as it is when it is neither."""
    if value is None:
        return None
    return words.get(identity.fold(value).strip().rstrip("."), value)


def _iso_date(value: str | None) -> str | None:
    """dd/mm/yyyy as ISO; anything else as it is (the store's check says what is wrong with it)."""
    match = _FRENCH_DATE.fullmatch(value or "")
    if not match:
        return value
    day, month, year = (int(part) for part in match.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


def _identity(cells: dict[str, str], today: dt.date) -> dict[str, Any]:
    given_text = cells.get("given_name") or (cells.get("birth_given_names") or "").split(" ")[0]
    status = identity.clean_status(_word(cells.get("identity_status"), _STATUS_WORDS) or "PROV")
    given = identity.clean_name(given_text, "given_name")
    values = {
        "family_name": identity.clean_name(cells.get("family_name"), "family_name"),
        "given_name": given,
        "birth_date": identity.clean_birth_date(_iso_date(cells.get("birth_date")), today),
        "sex": identity.clean_sex(_word(cells.get("sex"), _SEX_WORDS)),
        "birth_place_insee": identity.clean_birth_place(cells.get("birth_place_insee")),
        "identity_status": status,
        "birth_given_names": identity.clean_birth_given_names(cells.get("birth_given_names"), given),
        "usual_name": identity.clean_usual_name(cells.get("usual_name")),
        "room": identity.clean_room(cells.get("room")),
        "identity_document": identity.clean_document(cells.get("identity_document"), status),
        "ins": identity.clean_ins(cells.get("ins"), status),
    }
    if not cells.get("identity_status"):  # PROV for a new identity; an existing one keeps its own
        del values["identity_status"]
    return {name: value for name, value in values.items() if value is not None}


def _doctor(cells: dict[str, str]) -> dict[str, Any]:
    """The médecin traitant as the store keeps it: a name and an MSSanté address together, the RPPS when known."""
    if not any(cells.get(name) for name in ("gp_name", "gp_rpps", "gp_mssante")):
        return {}
    name = DOCTOR_NAME.clean(cells.get("gp_name"))
    rpps = check_rpps(cells.get("gp_rpps"), "gp_rpps")
    address = check_address(cells.get("gp_mssante"), "gp_mssante")
    if name is None:
        raise InputError("recipient.name.required", "gp_name")
    return {"gp_name": name, "gp_mssante": address, **({"gp_rpps": rpps} if rpps else {})}


def check_row(row: RawRow, today: dt.date) -> Resident | BadRow:
    if row.extra_cells:
        return BadRow(row.line, "residents.row.cells")
    try:
        return Resident(row.line, {**_identity(row.values, today), **_doctor(row.values)})
    except (IdentityError, InputError) as exc:
        field = {"name": "gp_name", "address": "gp_mssante", "rpps": "gp_rpps"}.get(exc.field or "", exc.field)
        return BadRow(row.line, exc.code, field, exc.params or None)
