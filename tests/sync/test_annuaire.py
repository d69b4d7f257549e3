"""The offline MSSanté directory: the public extraction imported by header names (BOM, CRLF, zip), people's and
organisations' boxes kept, malformed lines counted, a failed import keeping the previous copy, and the search by
name, city, postal code or RPPS, accents and case ignored; plus `python -m sync import-directory`."""
from __future__ import annotations

import zipfile

import pytest

from sync.__main__ import main
from sync.delivery.annuaire import (DirectoryError, directory_info, display_name, import_directory, normalise,
                                    search_directory)
from sync.store import Store
from tests.support.directory import HEADER, PEOPLE, extraction, line, write_extraction


def test_import_keeps_people_and_organisations_and_counts_what_it_skips(store, tmp_path):
    broken = "PER|only.three@fields.fr|8"
    not_an_address = line("PER", "no-at-sign.mssante.fr", family="FAUX", given="Faux")
    repeated = line("PER", "Claire.Martin@medecin.mssante.fr", family="MARTIN", given="Claire")
    path = write_extraction(tmp_path, *PEOPLE, broken, not_an_address, repeated, "")
    result = import_directory(store, path)
    assert (result.imported, result.malformed, result.other_types, result.duplicates) == (5, 2, 1, 1)
    info = directory_info(store)
    assert (info["file_name"], info["row_count"]) == (path.name, 5)
    [claire] = search_directory(store, "10000000001")
    assert claire == {"address": "claire.martin@medecin.mssante.fr", "bal_type": "PER", "national_id": "810000000001",
                      "rpps": "10000000001", "family_name": "MARTIN", "given_name": "Claire", "profession": "Médecin",
                      "specialty": "Médecine générale", "organisation": None, "address_lines": "12 R DES LILAS",
                      "postal_code": "69003", "city": "LYON"}
    assert display_name(claire) == "Claire MARTIN"
    [org] = search_directory(store, "tilleuls")
    assert (org["bal_type"], org["organisation"], display_name(org)) == ("ORG", "EHPAD LES TILLEULS",
                                                                       "EHPAD LES TILLEULS")
    assert search_directory(store, "laboratoire") == []  # APP boxes are no recipients of a report


def test_search_by_name_city_postal_code_rpps_and_national_id(store, tmp_path):
    import_directory(store, write_extraction(tmp_path))
    names = lambda text: [display_name(r) for r in search_directory(store, text)]  # noqa: E731
    assert names("martin") == ["Claire MARTIN", "Paul MARTINEZ"]       # a word's start, people by name
    assert names("MARTIN lyon") == ["Claire MARTIN"]                   # every word must match
    assert names("lefebvre") == names("LEFÈBVRE") == ["Éloïse LEFÈBVRE"]  # accents and case ignored
    assert names("éloise") == ["Éloïse LEFÈBVRE"]
    assert names("69003") == ["Jean DUPRÉ", "Claire MARTIN"]
    assert names("lyon infirmier") == ["Jean DUPRÉ"]
    assert names("810000000002") == ["Paul MARTINEZ"]                  # national id: 8 + RPPS
    assert names("100 000 000 03") == ["Éloïse LEFÈBVRE"]              # spaces typed in an RPPS
    assert names("") == names("  - ") == [] and names("nobody") == []
    assert len(search_directory(store, "medecin", limit=2)) == 2


def test_a_zip_holding_the_extraction_is_read(store, tmp_path):
    archive = tmp_path / "extraction.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Extraction_Correspondance_MSSante_20240501.txt", extraction())
    assert import_directory(store, archive).imported == 5
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.md", "nothing")
    with pytest.raises(DirectoryError) as refused:
        import_directory(store, empty)
    assert refused.value.code == "directory.file.no_text"


@pytest.mark.parametrize("content, code", [
    (b"Nom;Adresse\nMARTIN;claire@x.fr\n", "directory.file.header"),           # not the extraction
    (b"", "directory.file.header"),
    (("|".join(HEADER) + "\n" + line("APP", "robot@x.fr") + "\n").encode(), "directory.file.empty"),
    # Latin-1 bytes after many good lines: the rows already inserted are rolled back
    (extraction(*PEOPLE * 3, line("PER", "rene@x.fr", family="RENÉ", given="René")).replace(
        "RENÉ".encode(), "RENÉ".encode("latin-1")), "directory.file.encoding"),
])
def test_a_bad_file_is_refused_and_the_previous_copy_kept(store, tmp_path, content, code):
    import_directory(store, write_extraction(tmp_path))
    before = directory_info(store)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    with pytest.raises(DirectoryError) as refused:
        import_directory(store, bad)
    assert refused.value.code == code
    assert directory_info(store) == before
    assert [display_name(r) for r in search_directory(store, "martin lyon")] == ["Claire MARTIN"]


def test_a_missing_file_is_refused(store, tmp_path):
    with pytest.raises(DirectoryError) as refused:
        import_directory(store, tmp_path / "nope.txt")
    assert refused.value.code == "directory.file.unreadable"


def test_normalise_removes_accents_and_punctuation():
    assert normalise("Éloïse L'Hây-les-Roses  œ") == "ELOISE L HAY LES ROSES OE"


def test_the_command_line_imports_and_prints_counts(tmp_path, capsys):
    db = tmp_path / "relais.db"
    Store(db).close()
    assert main(["import-directory", str(write_extraction(tmp_path)), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5 MSSanté mailboxes imported from Extraction_Correspondance_MSSante_20240501.txt")
    assert "MARTIN" not in out
    bad = tmp_path / "bad.txt"
    bad.write_text("Nom;Adresse\n", encoding="utf-8")
    assert main(["import-directory", str(bad), "--db", str(db)]) == 2
    assert "lacks the columns Type de BAL, Adresse BAL; the previous directory is kept" in capsys.readouterr().err
    with Store(db) as store:
        assert directory_info(store)["row_count"] == 5
