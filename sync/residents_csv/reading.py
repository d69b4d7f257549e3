"""Reading a residents export of a care software: the bytes decoded, the separator found, the columns recognised by
their French header names (the columns themselves are listed in sync.residents_csv).

- Encoding: UTF-8 with or without its byte order mark; anything that is not valid UTF-8 is read as Windows-1252,
  the encoding of spreadsheet exports made on Windows in France (every byte decodes in it but five, refused).
- Separator: ";" (what a French-locale spreadsheet writes, the comma being the decimal mark) or ",", found by
  the standard library's csv.Sniffer on the first lines, else by counting them in the header line.
- Headers: compared case-, accent- and punctuation-insensitively ("Date de naissance", "DATE DE NAISSANCE",
  "date_de_naissance" are the same column); unknown columns are ignored and listed in the report.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from sync.errors import RelaisError
from sync.store.identity import fold

# field → the header names a care software may give it (compared by `header_key`)
COLUMNS: dict[str, tuple[str, ...]] = {
    "family_name": ("Nom de naissance",),
    "given_name": ("Premier prénom de naissance", "Premier prénom"),
    "birth_given_names": ("Prénoms de naissance", "Liste des prénoms de naissance"),
    "birth_date": ("Date de naissance",),
    "sex": ("Sexe",),
    "birth_place_insee": ("Code INSEE du lieu de naissance", "Lieu de naissance (code INSEE)",
                          "Code lieu de naissance"),
    "usual_name": ("Nom utilisé", "Nom d'usage"),
    "room": ("Chambre",),
    "gp_name": ("Médecin traitant", "Nom du médecin traitant"),
    "gp_rpps": ("RPPS du médecin traitant", "RPPS médecin traitant"),
    "gp_mssante": ("Adresse MSSanté du médecin traitant", "MSSanté du médecin traitant"),
    "identity_status": ("Statut de l'identité", "Statut identité"),
    "identity_document": ("Pièce justificative",),
    "ins": ("Matricule INS", "INS"),
}
# one of each group must be there
REQUIRED_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("family_name",), ("given_name", "birth_given_names"), ("birth_date",), ("sex",), ("birth_place_insee",))
MAX_FILE_BYTES = 20 * 1024 * 1024  # a facility's residents: a few hundred lines


class ResidentsFileError(RelaisError):
    """The file cannot be read as a residents export: codes `residents.file.*`."""


@dataclass(frozen=True)
class RawRow:
    line: int  # the file's line number where the row ends (the header is line 1)
    values: dict[str, str]  # field → the cell's text, stripped; absent columns are absent
    extra_cells: bool = False  # text in cells beyond the last header


@dataclass(frozen=True)
class ResidentsFile:
    encoding: str
    delimiter: str
    rows: list[RawRow]
    ignored_columns: list[str] = field(default_factory=list)


def header_key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(text)).split())


_FIELD_BY_HEADER = {header_key(name): name_field for name_field, names in COLUMNS.items() for name in names}


def decode(data: bytes, file_name: str) -> tuple[str, str]:
    """(text, encoding name) of the file's bytes."""
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        try:
            data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        raise ResidentsFileError("residents.file.encoding", file=file_name) from None


def sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=";,").delimiter
    except csv.Error:
        header = text.splitlines()[0] if text else ""
        return ";" if header.count(";") >= header.count(",") else ","


def _fields_of(headers: list[str]) -> tuple[list[str | None], list[str]]:
    fields: list[str | None] = []
    ignored: list[str] = []
    for header in headers:
        name = _FIELD_BY_HEADER.get(header_key(header))
        if name is None or name in fields:
            ignored.append(header)
            name = None
        fields.append(name)
    missing = [COLUMNS[group[0]][0] for group in REQUIRED_COLUMNS if not any(f in fields for f in group)]
    if missing:
        raise ResidentsFileError("residents.file.header", missing=", ".join(missing))
    return fields, ignored


def read_residents_file(path: str | Path) -> ResidentsFile:
    """The rows of the export at `path`, each cell under its field name; ResidentsFileError when the file cannot
    be read, is not delimited text, or lacks a required column."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ResidentsFileError("residents.file.unreadable", file=path.name, detail=type(exc).__name__) from None
    if len(data) > MAX_FILE_BYTES:
        raise ResidentsFileError("residents.file.too_large", file=path.name, max_bytes=MAX_FILE_BYTES)
    text, encoding = decode(data, path.name)
    if not text.strip():
        raise ResidentsFileError("residents.file.empty", file=path.name)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        fields, ignored = _fields_of(next(reader))
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            values = {name: cell.strip() for name, cell in zip(fields, cells) if name is not None and cell.strip()}
            rows.append(RawRow(reader.line_num, values, any(c.strip() for c in cells[len(fields):])))
    except csv.Error as exc:
        raise ResidentsFileError("residents.file.format", file=path.name, detail=str(exc)) from None
    return ResidentsFile(encoding, delimiter, rows, ignored)
