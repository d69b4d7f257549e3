"""A small synthetic Annuaire Santé MSSanté extraction for the tests: the real header of the public file (its 31
columns, in their order), invented people and organisations, fictitious RPPS numbers (10000000001…)."""
from __future__ import annotations

from pathlib import Path

HEADER = [
    "Type de BAL", "Adresse BAL", "Type Identifiant PP", "Identifiant PP", "Identification nationale PP",
    "Type identifiant structure", "Identification Structure", "Service de rattachement", "Civilité d'exercice",
    "Nom d'exercice", "Prénom d'exercice", "Catégorie profession", "Libellé de catégorie profession",
    "Code Profession", "Libellé Profession", "Code savoir-faire", "Libellé savoir-faire", "Dématérialisation",
    "Raison Sociale structure BAL", "Enseigne commerciale structure BAL", "L2COMPLEMENTLOCALISATION structure BAL",
    "L3COMPLEMENTDISTRIBUTION structure BAL", "L4NUMEROVOIE structure BAL", "L4COMPLEMENTNUMEROVOIE structure BAL",
    "NL4TYPEVOIE structure BAL", "L4LIBELLEVOIE structure BAL", "L5LIEUDITMENTION structure BAL",
    "L6LIGNEACHEMINEMENT structure BAL", "Code postal structure BAL", "Département structure BAL",
    "Pays structure BAL",
]


def line(bal_type: str, address: str, *, rpps: str = "", family: str = "", given: str = "",
         profession: str = "Médecin", specialty: str = "Médecine générale", organisation: str = "",
         street: tuple[str, str, str] = ("", "", ""), postal_code: str = "", city: str = "") -> str:
    fields = dict.fromkeys(HEADER, "")
    fields.update({"Type de BAL": bal_type, "Adresse BAL": address, "Nom d'exercice": family,
                   "Prénom d'exercice": given, "Libellé Profession": profession if family else "",
                   "Libellé savoir-faire": specialty if family else "", "Raison Sociale structure BAL": organisation,
                   "L4NUMEROVOIE structure BAL": street[0], "NL4TYPEVOIE structure BAL": street[1],
                   "L4LIBELLEVOIE structure BAL": street[2], "Code postal structure BAL": postal_code,
                   "L6LIGNEACHEMINEMENT structure BAL": f"{postal_code} {city}".strip(),
                   "Département structure BAL": postal_code[:2], "Pays structure BAL": "99100" if city else "",
                   "Dématérialisation": "true"})
    if rpps:
        fields.update({"Type Identifiant PP": "8", "Identifiant PP": rpps, "Identification nationale PP": f"8{rpps}"})
    return "|".join(fields[name] for name in HEADER)


PEOPLE = [
    line("PER", "claire.martin@medecin.mssante.fr", rpps="10000000001", family="MARTIN", given="Claire",
         street=("12", "R", "DES LILAS"), postal_code="69003", city="LYON"),
    line("PER", "paul.martinez@medecin.mssante.fr", rpps="10000000002", family="MARTINEZ", given="Paul",
         street=("3", "AV", "JEAN JAURÈS"), postal_code="13001", city="MARSEILLE"),
    line("CAB", "cabinet.lefebvre@cabinet.mssante.fr", rpps="10000000003", family="LEFÈBVRE", given="Éloïse",
         specialty="Médecine générale", postal_code="75011", city="PARIS"),
    line("PER", "jean.dupre@infirmier.mssante.fr", rpps="10000000004", family="DUPRÉ", given="Jean",
         profession="Infirmier", specialty="", postal_code="69003", city="LYON"),
    line("ORG", "accueil@ehpad-tilleuls.mssante.fr", organisation="EHPAD LES TILLEULS", postal_code="69100",
         city="VILLEURBANNE"),
    line("APP", "robot@labo.mssante.fr", organisation="LABORATOIRE DEMO", postal_code="69003", city="LYON"),
]


def extraction(*lines: str, header: bool = True) -> bytes:
    """The file's bytes: a UTF-8 BOM, the header line, then `lines` (default: PEOPLE), CRLF as Windows tools write."""
    rows = (["|".join(HEADER)] if header else []) + list(lines or PEOPLE)
    return ("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8")


def write_extraction(directory: Path, *lines: str, name: str = "Extraction_Correspondance_MSSante_20240501.txt"
                     ) -> Path:
    path = directory / name
    path.write_bytes(extraction(*lines))
    return path
