"""Residents imported from a care software's CSV export (sync.residents_csv, `python -m sync import-residents`):
real files (UTF-8 with BOM and ";", Windows-1252 and ","), every value checked by the store's own rules, a report
first, then everything in one transaction or nothing; a dry run and a second import change nothing, and a
qualified identity's traits are never overwritten. Invented residents, the fictitious RPPS 10000000000-style."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync.residents_csv import ResidentsFileError, import_residents
from sync.store import Store
from tests.support.samples import valid_ins
from tests.support.servers import PROJECT_ROOT

HEADER = ("Nom de naissance;Premier prénom de naissance;Prénoms de naissance;Date de naissance;Sexe;"
          "Code INSEE du lieu de naissance;Nom utilisé;Chambre;Médecin traitant;RPPS du médecin traitant;"
          "Adresse MSSanté du médecin traitant;Statut de l'identité;Pièce justificative;Matricule INS;Régime")
INS_QUALIFIED = valid_ins("2350775056123")


def row(family="Bernardin", given="Hélène", names="Hélène Odette", born="03/07/1935", sex="F", insee="75056",
        usual="", room="12", gp="Dr Camille Démo", rpps="10000000001", mss="camille.demo@medecin.mssante.test",
        status="VALI", document="CN", ins="", extra="général") -> str:
    return ";".join([family, given, names, born, sex, insee, usual, room, gp, rpps, mss, status, document, ins,
                     extra])


@pytest.fixture
def tablet(tmp_path):
    """A store holding a qualified resident, a provisional one, and one known under her usual name."""
    path = tmp_path / "relais.db"
    with Store(path) as store:
        ids = {
            "qualified": store.add_patient(family_name="Lefebvre", given_name="Marie", birth_date="1935-07-12",
                                           sex="F", birth_place_insee="75056", identity_status="QUAL",
                                           ins=INS_QUALIFIED, room="3"),
            "provisional": store.add_patient(family_name="Durandeau", given_name="Paul", birth_date="1930-01-20",
                                             sex="M", birth_place_insee="69123", room="7"),
            "usual": store.add_patient(family_name="Petitjean", given_name="Jeanne", birth_date="1928-11-02",
                                       sex="F", birth_place_insee="13055", usual_name="Morelle"),
        }
    return path, ids


def write(path: Path, lines: list[str], *, encoding="utf-8-sig", delimiter=";") -> Path:
    text = "\r\n".join(line.replace(";", delimiter) for line in lines) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cli(sync_cli):
    """`python -m sync import-residents …`, forked from an interpreter that imported the commands once."""
    return lambda *args: sync_cli("import-residents", *args)


def site_export(tmp_path: Path) -> Path:
    return write(tmp_path / "residents.csv", [
        HEADER,
        row(),                                                                      # 2: new
        row(family="DURANDEAU", given="Paul", names="", born="20/01/1930", sex="M", insee="69123", room="14",
            gp="", rpps="", mss="", status="", document=""),                       # 3: known, moved room
        row(family="Lefebvre-Martin", given="Marie", names="", born="1935-07-12", room="5", gp="", rpps="", mss="",
            status="QUAL", document="", ins=INS_QUALIFIED),                         # 4: qualified, other name
        row(family="Morelle", given="Jeanne", names="", born="02/11/1928", insee="13055", room="9", gp="", rpps="",
            mss="", status="PROV", document=""),                                    # 5: the usual name of another
    ])


def test_a_dry_run_reports_everything_and_changes_nothing(tablet, tmp_path, cli):
    db, ids = tablet
    before = sha(db)
    done = cli(str(site_export(tmp_path)), "--db", str(db), "--dry-run")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["encoding"], report["delimiter"], report["rows"], report["applied"]) == ("utf-8-sig", ";", 4,
                                                                                           False)
    assert report["counts"] == {"create": 1, "update": 2, "unchanged": 0, "duplicate": 1, "protected": 1, "bad": 0}
    assert report["create"] == [{"line": 2}]
    assert {u["line"]: (u["patient_id"], u["fields"]) for u in report["update"]} == {
        3: (ids["provisional"], ["room"]), 4: (ids["qualified"], ["room"])}
    assert report["protected"] == [{"line": 4, "patient_id": ids["qualified"], "fields": ["family_name"]}]
    assert report["duplicate"] == [{"line": 5, "patient_id": ids["usual"]}]
    assert report["ignored_columns"] == ["Régime"]
    assert "Bernardin" not in done.stdout + done.stderr and "Lefebvre" not in done.stdout  # no names shown
    assert sha(db) == before


def test_the_import_writes_everything_once_and_a_second_import_changes_nothing(tablet, tmp_path, cli):
    db, ids = tablet
    export = site_export(tmp_path)
    done = cli(str(export), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["applied"] is True
    with Store(db) as store:
        (created,) = [p for p in store.find_patients() if p["origin"] == "imported"]
        assert (created["family_name"], created["given_name"], created["birth_given_names"], created["birth_date"],
                created["identity_status"], created["identity_document"], created["room"]) == (
            "Bernardin", "Hélène", "Hélène Odette", "1935-07-03", "VALI", "CN", "12")
        assert store.patient_gp(created["id"]) == {"name": "Dr Camille Démo", "rpps": "10000000001",
                                                   "address": "camille.demo@medecin.mssante.test"}
        qualified = store.get_patient(ids["qualified"])
        assert (qualified["family_name"], qualified["room"], qualified["origin"]) == ("Lefebvre", "5", "local")
        assert store.get_patient(ids["provisional"])["family_name"] == "Durandeau"  # same name: case kept
        assert store.get_patient(ids["provisional"])["room"] == "14"
        assert len(store.find_patients()) == 4  # the probable duplicate was left out
        traced = store.query("SELECT action, detail FROM audit_log WHERE subject_kind = 'patient' AND "
                             "detail LIKE '%imported%' ORDER BY seq")
        assert sorted(t["detail"] for t in traced) == ["identity VALI imported", "imported: room", "imported: room"]
    before = sha(db)
    again = cli(str(export), "--db", str(db))
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["counts"] == {"create": 0, "update": 0, "unchanged": 2, "duplicate": 1, "protected": 1, "bad": 0}
    assert report["applied"] is False and sha(db) == before


def test_one_bad_row_and_nothing_is_imported(tablet, tmp_path, cli):
    db, _ = tablet
    bad_key = INS_QUALIFIED[:-2] + f"{(int(INS_QUALIFIED[-2:]) + 1) % 100:02d}"
    export = write(tmp_path / "bad.csv", [HEADER, row(), row(family="Rocher", given="Luc", names="", sex="M",
                                                             status="QUAL", document="", ins=bad_key)])
    before = sha(db)
    done = cli(str(export), "--db", str(db))
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["bad"] == [{"line": 3, "code": "identity.ins.key", "field": "ins", "column": "Matricule INS"}]
    assert report["applied"] is False and "nothing was imported" in done.stderr
    assert sha(db) == before  # the good row was not written either


def test_a_windows_1252_export_with_commas_is_read_by_header_name(tablet, tmp_path):
    db, _ = tablet
    export = write(tmp_path / "export.csv", [
        "Sexe,Date de naissance,NOM DE NAISSANCE,Prénoms de naissance,Lieu de naissance (code INSEE),Chambre",
        "Féminin,1941-05-30,Éloïse-Dubœuf,Anaïs Léa,2A004,B 204 lit 2",
    ], encoding="cp1252", delimiter=",")
    with Store(db) as store:
        outcome = import_residents(store, export)
        assert (outcome.file.encoding, outcome.file.delimiter, outcome.applied) == ("cp1252", ",", True)
        (created,) = [p for p in store.find_patients() if p["origin"] == "imported"]
    assert (created["family_name"], created["given_name"], created["birth_given_names"], created["sex"],
            created["birth_place_insee"], created["room"], created["identity_status"]) == (
        "Éloïse-Dubœuf", "Anaïs", "Anaïs Léa", "F", "2A004", "B 204 lit 2", "PROV")


@pytest.mark.parametrize("cells, code, field", [
    (dict(born="31/02/1940"), "identity.birth_date.calendar", "birth_date"),
    (dict(born="1940"), "identity.birth_date.format", "birth_date"),
    (dict(born="01/01/2999"), "identity.birth_date.future", "birth_date"),
    (dict(insee="7505"), "identity.birth_place_insee.format", "birth_place_insee"),
    (dict(sex="X"), "identity.sex.invalid", "sex"),
    (dict(family="Bern4rd"), "identity.family_name.characters", "family_name"),
    (dict(names="Odette Hélène"), "identity.birth_given_names.order", "birth_given_names"),
    (dict(status="PROV", document="CN"), "identity.identity_document.status", "identity_document"),
    (dict(status="VALI", ins=INS_QUALIFIED), "identity.ins.not_qualified", "ins"),
    (dict(status="QUAL", ins="2350775056"), "identity.ins.format", "ins"),
    (dict(status="Douteuse"), "identity.identity_status.invalid", "identity_status"),
    (dict(rpps="123"), "recipient.rpps.invalid", "gp_rpps"),
    (dict(mss=""), "recipient.address.required", "gp_mssante"),
    (dict(mss="camille.demo@"), "recipient.address.invalid", "gp_mssante"),
    (dict(gp=""), "recipient.name.required", "gp_name"),
])
def test_each_bad_value_is_refused_by_the_store_s_own_rule(tablet, tmp_path, cells, code, field):
    db, _ = tablet
    with Store(db) as store:
        outcome = import_residents(store, write(tmp_path / "one.csv", [HEADER, row(**cells)]), dry_run=True)
    assert [(b.line, b.code, b.field) for b in outcome.plan.bad] == [(2, code, field)]


def test_rows_repeated_in_the_file_an_ins_on_someone_else_and_stray_cells_are_bad(tablet, tmp_path):
    db, ids = tablet
    export = write(tmp_path / "rows.csv", [
        HEADER,
        row(),
        row(family="BERNARDIN"),                                              # 3: line 2 again
        row(family="Durandeau", given="Paul", names="", born="20/01/1930", sex="M", insee="69123", gp="", rpps="",
            mss="", status="QUAL", document="", ins=valid_ins("1300169123456")),  # 4: now qualified
        row(family="Lefebvre", given="Marie", names="", born="12/07/1935", gp="", rpps="", mss="", status="QUAL",
            document="", ins=valid_ins("2350775056999")),                      # 5: not the INS she has
        row(family="Roux", given="Lina", names="") + ";surplus",              # 6: a cell beyond the headers
    ])
    with Store(db) as store:
        plan = import_residents(store, export).plan
    assert [(b.line, b.code) for b in plan.bad] == [(3, "residents.row.repeated"), (5, "residents.ins.mismatch"),
                                                   (6, "residents.row.cells")]
    assert plan.bad[0].params == {"first_line": 2}
    assert [(pid, sorted(changes)) for _, pid, changes in plan.update] == [
        (ids["provisional"], ["identity_status", "ins", "room"])]  # qualified by the care software: accepted


def test_a_status_is_never_lowered_and_an_empty_cell_erases_nothing(tablet, tmp_path):
    db, ids = tablet
    with Store(db) as store:
        store.set_patient_gp(ids["provisional"], name="Dr Ana Démo", address="ana.demo@medecin.mssante.test")
        export = write(tmp_path / "low.csv", [HEADER, row(family="Durandeau", given="Paul", names="", sex="M",
                                                          born="20/01/1930", insee="69123", room="", gp="", rpps="",
                                                          mss="", status="VALI", document="PA")])
        assert import_residents(store, export).applied
        moved = store.get_patient(ids["provisional"])
        assert (moved["identity_status"], moved["identity_document"], moved["room"], moved["gp_name"]) == (
            "VALI", "PA", "7", "Dr Ana Démo")
        lower = write(tmp_path / "lower.csv", [HEADER, row(family="Durandeau", given="Paul", names="", sex="M",
                                                           born="20/01/1930", insee="69123", room="", gp="",
                                                           rpps="", mss="", status="PROV", document="")])
        plan = import_residents(store, lower).plan
        assert [(pid, kept) for _, pid, kept in plan.protected] == [(ids["provisional"], ["identity_status"])]
        assert store.get_patient(ids["provisional"])["identity_status"] == "VALI"


def test_a_file_that_is_not_a_residents_export_is_refused_whole(tablet, tmp_path, cli):
    db, _ = tablet
    export = write(tmp_path / "other.csv", ["Nom;Prénom;Téléphone", "Bernardin;Hélène;0600000000"])
    with Store(db) as store, pytest.raises(ResidentsFileError) as refused:
        import_residents(store, export)
    assert refused.value.code == "residents.file.header"
    assert "Date de naissance" in refused.value.params["missing"]
    done = cli(str(export), "--db", str(db))
    assert done.returncode == 2 and "lacks the columns" in done.stderr


def test_the_columns_are_documented_in_the_help():
    done = subprocess.run([sys.executable, "-m", "sync", "import-residents", "--help"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, cwd=PROJECT_ROOT,
                          timeout=60)
    for column in ("Nom de naissance", "Premier prénom de naissance", "Code INSEE du lieu de naissance",
                   "Adresse MSSanté du médecin traitant", "Matricule INS", "--dry-run", "exit status"):
        assert column in done.stdout, column


def test_today_bounds_the_birth_dates(tablet, tmp_path):
    """The store's clock says what "in the future" means, not the machine's."""
    db, _ = tablet
    with Store(db, clock=lambda: dt.datetime(1935, 1, 1, tzinfo=dt.timezone.utc)) as store:
        plan = import_residents(store, write(tmp_path / "t.csv", [HEADER, row()]), dry_run=True).plan
    assert [b.code for b in plan.bad] == ["identity.birth_date.future"]
