"""The Annuaire Santé MSSanté directory, kept on the tablet: staff find the médecin traitant's secure mail address
offline, by name, city, postal code or RPPS.

The source is the public extraction the ANS publishes daily on data.gouv.fr (dataset "extraction-correspondance-
mssante", resource afe01105-d9a1-41fe-921f-e40ea48b2ba6): a file `Extraction_Correspondance_MSSante*.txt`, UTF-8,
`|`-delimited, one header line, sometimes delivered zipped. Columns are read by their header names, never by
position; the names are those of the public file as read by public tools (cardio75/adressesmssante,
`creer_bd_mssante.py`: "Adresse BAL", "Nom d'exercice", "Prénom d'exercice", "Libellé savoir-faire",
"Raison Sociale structure BAL", "L2COMPLEMENTLOCALISATION structure BAL" … "L6LIGNEACHEMINEMENT structure BAL",
"Code postal structure BAL"). The BAL types are those of the ANS FHIR directory (ansforge/annuaire-sante-fhir-
documentation, use case "BAL MSS"): PER (a person's own box), CAB (a practice's), ORG (a service's), APP (a
software's). People's boxes (PER, CAB) and organisational ones (ORG, with their organisation) are kept; APP boxes
are not recipients of a report. "Identification nationale PP" is the national id of a person, "8" followed by the
RPPS number for RPPS holders (ANS, Annuaire Santé, "identifiant national PP").

An import replaces the whole copy in one transaction: a file that fails leaves the previous copy untouched.
"""
from __future__ import annotations

import contextlib
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, TextIO

from sync.delivery.annuaire_columns import (ADDRESS_COLUMNS, COL_ADDRESS, COL_BRAND, COL_DELIVERY_LINE, COL_FAMILY,
                                            COL_GIVEN, COL_ID, COL_ID_TYPE, COL_NATIONAL_ID, COL_ORGANISATION,
                                            COL_POSTAL_CODE, COL_PROFESSION, COL_SPECIALTY, COL_TYPE)
from sync.errors import RelaisError
from sync.store.database import DB_ERRORS, Database

KEPT_BAL_TYPES = ("PER", "CAB", "ORG")
MATCHES_SORTED = 2000
REQUIRED_COLUMNS = (COL_TYPE, COL_ADDRESS)
RESULT_COLUMNS = ("address", "bal_type", "national_id", "rpps", "family_name", "given_name", "profession",
                  "specialty", "organisation", "address_lines", "postal_code", "city")
_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")
_WORDS = re.compile(r"[0-9A-Z]+")
_LIGATURES = str.maketrans({"Œ": "OE", "Æ": "AE", "ß": "SS"})  # letters Unicode does not decompose


class DirectoryError(RelaisError, ValueError):
    """The directory file cannot be imported (unreadable, not the extraction's format, no usable row)."""


@dataclass(frozen=True)
class ImportResult:
    imported: int       # boxes now in the directory
    malformed: int      # lines skipped: wrong number of fields, an address that is not one
    other_types: int    # APP boxes and unknown types, not recipients of a report
    duplicates: int     # the same address on a later line (its first line is kept)


def normalise(text: str | None) -> str:
    """Upper case without accents, words separated by one space: what the search compares."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).upper().translate(_LIGATURES)
    return " ".join(_WORDS.findall(plain))


@contextlib.contextmanager
def _open_text(path: Path) -> Iterator[TextIO]:
    """The extraction's text: the file itself, or the .txt inside a .zip (the form data.gouv.fr may serve)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith(".txt")]
                if not names:
                    raise DirectoryError("directory.file.no_text", file=path.name)
                with archive.open(names[0]) as raw:
                    yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        else:
            with open(path, encoding="utf-8-sig", newline="") as text:
                yield text
    except OSError as exc:
        raise DirectoryError("directory.file.unreadable", file=path.name, detail=type(exc).__name__) from None


def _column_reader(header: list[str]) -> dict[str, int]:
    """Header name → position; names compared without surrounding spaces and case, as files differ there."""
    positions = {name.strip().casefold(): i for i, name in enumerate(header)}
    missing = [name for name in REQUIRED_COLUMNS if name.casefold() not in positions]
    if missing:
        raise DirectoryError("directory.file.header", missing=", ".join(missing))
    return positions


def _row(fields: list[str], positions: dict[str, int]) -> dict[str, Any]:
    def get(name: str) -> str:
        index = positions.get(name.casefold())
        return fields[index].strip() if index is not None else ""

    national_id = get(COL_NATIONAL_ID)
    rpps = national_id[1:] if len(national_id) == 12 and national_id.startswith("8") else ""
    if not rpps and get(COL_ID_TYPE) == "8":
        rpps = get(COL_ID)
    lines = [" ".join(filter(None, map(get, part))) if isinstance(part, tuple) else get(part)
             for part in ADDRESS_COLUMNS]
    postal_code = get(COL_POSTAL_CODE)
    delivery = get(COL_DELIVERY_LINE)
    city = delivery[len(postal_code):].strip() if postal_code and delivery.startswith(postal_code) else delivery
    row = {"address": get(COL_ADDRESS).lower(), "bal_type": get(COL_TYPE).upper(), "national_id": national_id,
           "rpps": rpps if len(rpps) == 11 and rpps.isdigit() else "", "family_name": get(COL_FAMILY),
           "given_name": get(COL_GIVEN), "profession": get(COL_PROFESSION), "specialty": get(COL_SPECIALTY),
           "organisation": get(COL_ORGANISATION) or get(COL_BRAND), "address_lines": ", ".join(filter(None, lines)),
           "postal_code": postal_code, "city": city}
    row = {key: (value or None) for key, value in row.items()}
    row["search"] = normalise(" ".join(filter(None, (row[k] for k in (
        "family_name", "given_name", "profession", "specialty", "organisation", "postal_code", "city")))))
    return row


def _rows(text: TextIO, counts: dict[str, int]) -> Iterator[dict[str, Any]]:
    reader = csv.reader(text, delimiter="|", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if not header:
        raise DirectoryError("directory.file.header", missing=", ".join(REQUIRED_COLUMNS))
    positions = _column_reader(header)
    for fields in reader:
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            counts["malformed"] += 1
            continue
        row = _row(fields, positions)
        if row["bal_type"] not in KEPT_BAL_TYPES:
            counts["other_types"] += 1
        elif not row["address"] or not _ADDRESS.fullmatch(row["address"]):
            counts["malformed"] += 1
        else:
            yield row


def import_directory(db: Database, path: str | Path) -> ImportResult:
    """Replace the tablet's directory with the extraction at `path` (a .txt, or a .zip holding it), in one
    transaction: any failure (unreadable file, bad header, bad encoding, no usable row) keeps the previous copy."""
    path = Path(path)
    counts = {"malformed": 0, "other_types": 0, "read": 0}
    insert = ("INSERT OR IGNORE INTO mssante_directory (address, bal_type, national_id, rpps, family_name, "
              "given_name, profession, specialty, organisation, address_lines, postal_code, city, search) VALUES "
              "(:address, :bal_type, :national_id, :rpps, :family_name, :given_name, :profession, :specialty, "
              ":organisation, :address_lines, :postal_code, :city, :search)")
    try:
        with _open_text(path) as text, db.transaction():
            db.conn.execute("DELETE FROM mssante_directory")
            for row in _rows(text, counts):
                counts["read"] += 1
                db.conn.execute(insert, row)
            imported = db.conn.execute("SELECT count(*) FROM mssante_directory").fetchone()[0]
            if not imported:
                raise DirectoryError("directory.file.empty", file=path.name)
            db.conn.execute("INSERT INTO mssante_directory_search (mssante_directory_search) VALUES ('rebuild')")
            db.conn.execute("INSERT INTO directory_meta (id, file_name, imported_at, row_count) VALUES (1, ?, ?, ?) "
                            "ON CONFLICT(id) DO UPDATE SET file_name = excluded.file_name, "
                            "imported_at = excluded.imported_at, row_count = excluded.row_count",
                            [path.name, db.stamp(), imported])
    except UnicodeDecodeError:
        raise DirectoryError("directory.file.encoding", file=path.name) from None
    except csv.Error as exc:
        raise DirectoryError("directory.file.format", file=path.name, detail=str(exc)) from None
    return ImportResult(imported=imported, malformed=counts["malformed"], other_types=counts["other_types"],
                        duplicates=counts["read"] - imported)


def directory_info(db: Database) -> dict[str, Any] | None:
    """The copy this tablet holds (file_name, imported_at, row_count), or None when none was imported."""
    rows = db.query("SELECT file_name, imported_at, row_count FROM directory_meta WHERE id = 1")
    return rows[0] if rows else None


def search_directory(db: Database, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Boxes matching `text`, offline: an RPPS (11 digits) or a national id (8 + RPPS), else every word of `text`
    as the start of a word of the name, profession, organisation, postal code or city (accents and case ignored).
    People first by name, then organisations."""
    columns = ", ".join(f"d.{c}" for c in RESULT_COLUMNS)
    compact = re.sub(r"\s+", "", text or "")
    if compact.isdigit() and len(compact) == 11:
        sql, params = f"SELECT {columns} FROM mssante_directory AS d WHERE d.rpps = ?", [compact]
    elif compact.isdigit() and len(compact) == 12 and compact.startswith("8"):
        sql, params = f"SELECT {columns} FROM mssante_directory AS d WHERE d.national_id = ?", [compact]
    else:
        words = normalise(text).split()
        if not words:
            return []
        # at most MATCHES_SORTED matches are sorted by name: a word found in every row ("medecin") still answers
        # at once, and a name search (a few hundred matches at most) is complete and in order
        sql = (f"SELECT {columns} FROM (SELECT rowid FROM mssante_directory_search WHERE mssante_directory_search "
               "MATCH ? LIMIT ?) AS s JOIN mssante_directory AS d ON d.rowid = s.rowid")
        params = [" ".join(f'"{word}"*' for word in words), MATCHES_SORTED]
    sql += " ORDER BY d.family_name IS NULL, d.family_name, d.given_name, d.organisation, d.address LIMIT ?"
    try:
        return db.query(sql, [*params, max(1, int(limit))])
    except DB_ERRORS as exc:  # pragma: no cover - words are letters and digits only, so a query always parses
        raise DirectoryError("directory.search.failed", detail=str(exc)) from None


def display_name(entry: dict[str, Any]) -> str:
    """How a box is named on screen and in the report: "Claire MARTIN" for a person, the organisation else."""
    person = " ".join(filter(None, (entry.get("given_name"), (entry.get("family_name") or "").upper())))
    return person or entry.get("organisation") or entry["address"]


__all__ = ["DirectoryError", "ImportResult", "directory_info", "display_name", "import_directory", "normalise",
           "search_directory"]
