"""The pull end to end, the same tests on two FHIR engines: the development server and Medplum's (a FHIR engine
written by others, tests/medplum/server.mjs, which gives no `next` links: the watermark pages there).

Tablet A records sessions at the demo site and pushes them; a new tablet B of the same site pulls: the residents
(under A's ids, with their room and médecin traitant), the staff (never a PIN), the last 90 days of sessions with
their values (blood pressure components under the measurements' codes) and the NEWS2 computed from them. A second
pull changes no row; A's own sessions are never copied back to A; what cannot be read is skipped, whole."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from mobile.workflow import SessionWorkflow, WorkflowError
from sync import closing, fhir, retention
from sync.delivery.content import news2_of
from sync.pull import SearchClient, pull
from sync.pull.residents import IDENTITY_FIELDS
from sync.seed import DEMO_SITE, seed_sessions
from sync.store import Store
from sync.uploader import Uploader
from tests.support.servers import DevServer
from tests.support.workflow import ScriptedThermometer

MEDPLUM = Path(__file__).resolve().parents[1] / "medplum"
HAS_MEDPLUM = shutil.which("node") is not None and (MEDPLUM / "node_modules" / "@medplum").exists()
pytestmark = pytest.mark.timeout(300)
NOW = dt.datetime.now(dt.timezone.utc)


def medplum_process():
    proc = subprocess.Popen(["node", "--experimental-websocket", str(MEDPLUM / "server.mjs"), "0"], cwd=MEDPLUM,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    match = re.search(r"(http://127\.0\.0\.1:\d+/fhir)", proc.stdout.readline())
    if not match:
        proc.terminate()
        raise AssertionError(proc.stderr.read())
    return proc, match.group(1)


def tablet_a_at_the_site(path: Path) -> Store:
    """Recent complete sessions, two older than 90 days, and a resident with a room and a médecin traitant."""
    store = Store(path)
    seed_sessions(store, 6, seed=41, doctors=True)
    seed_sessions(store, 2, seed=42, now=NOW - dt.timedelta(days=120), days=3)
    site = store.list_sites()[0]["id"]
    resident = store.add_patient(family_name="Capucine-Démo", given_name="Odette", birth_date="1931-02-03", sex="F",
                                 birth_place_insee="69123", room="B 204 lit 2", resident_id="DEMO-00042")
    store.set_patient_gp(resident, name="Dr Hugo Démo-Traitant", address="hugo.demo-traitant@medecin.mssante.test",
                         rpps="00000000041")
    session = store.open_session(resident, reason="Contrôle", site_id=site, staff_id=store.list_staff()[0]["id"])
    for code, value, unit, panel in (("8310-5", "38.60", "Cel", None), ("8480-6", "92", "mm[Hg]", "cuff-1"),
                                     ("8462-4", "58", "mm[Hg]", "cuff-1")):
        store.add_measurement(session, code=code, value=value, unit=unit, source="manual", panel_id=panel,
                              measured_at=NOW - dt.timedelta(hours=2))
    closing.close_session(store, session)
    return store


@pytest.fixture(scope="module", params=["devserver", "medplum"])
def site(request, tmp_path_factory):
    """One engine with tablet A's sessions on it: (FHIR base URL, tablet A's store)."""
    work = tmp_path_factory.mktemp(request.param)
    if request.param == "medplum":
        if not HAS_MEDPLUM:
            pytest.skip("Node or the Medplum packages are missing (bash .ci/setup installs them)")
        proc, url = medplum_process()
        stop = proc.terminate
    else:
        server = DevServer(work / "server.db").__enter__()
        url, stop = server.url, lambda: server.__exit__(None, None, None)
    try:
        a = tablet_a_at_the_site(work / "a.db")
        result = Uploader(url, max_entries=8 if request.param == "medplum" else None).push(a)
        assert (result.remaining, result.rejected) == (0, 0)
        yield url, a
        a.close()
    finally:
        stop()


def tablet_b(path: Path) -> Store:
    store = Store(path)
    store.add_site(**DEMO_SITE)
    return store


def rows(store: Store) -> dict[str, list[dict]]:
    return {table: store.query(f"SELECT * FROM {table} ORDER BY 1") for table in (
        "patients", "staff", "history_sessions", "history_observations", "pull_cursors")}


def recent_sessions(a: Store) -> list[dict]:
    cutoff = NOW - dt.timedelta(days=90)
    return [s for s in a.query("SELECT * FROM sessions") if dt.datetime.fromisoformat(
        s["started_at"] or s["opened_at"]) >= cutoff]


def test_a_new_tablet_gets_the_residents_staff_and_recent_history(site, tmp_path):
    url, a = site
    with tablet_b(tmp_path / "b.db") as b:
        report = pull(b, SearchClient(url), page_size=7)
        patients = {p["id"]: p for p in b.query("SELECT * FROM patients")}
        assert set(patients) == {p["id"] for p in a.query("SELECT id FROM patients")}
        for original in a.query("SELECT * FROM patients"):
            assert {f: patients[original["id"]][f] for f in IDENTITY_FIELDS} == {f: original[f] for f in
                                                                                   IDENTITY_FIELDS}
            assert patients[original["id"]]["origin"] == "pulled"
        assert any(p["room"] == "B 204 lit 2" and p["gp_mssante"] for p in patients.values())
        staff = b.query("SELECT * FROM staff")
        # staff known at the site: those whose role there reached the server with a session
        known = {r["id"] for r in a.query("SELECT staff_id AS id FROM sessions UNION SELECT recorded_by FROM consents "
                                          "UNION SELECT staff_id FROM notes") if r["id"]}
        assert {s["id"] for s in staff} == known
        assert all(s["origin"] == "pulled" and s["pin_hash"] is None and not s["is_admin"] for s in staff)
        recent = recent_sessions(a)
        history = {h["id"]: h for h in b.query("SELECT * FROM history_sessions")}
        assert set(history) == {s["idempotency_key"] for s in recent}  # the two old sessions stay on the server
        for session in recent:
            copied = history[session["idempotency_key"]]
            assert (copied["patient_id"], copied["reason"]) == (session["patient_id"], session["reason"])
            values = a.measurements(session["id"])
            pulled = b.query("SELECT code, value, unit, interpretation FROM history_observations WHERE session_id = ?",
                             [session["idempotency_key"]])
            assert sorted((m["code"], Decimal(m["value"]), m["unit"], m["interpretation"]) for m in values) == \
                sorted((m["code"], Decimal(m["value"]), m["unit"], m["interpretation"]) for m in pulled)
            score = news2_of(values)
            assert (copied["news2_score"], copied["news2_band"], copied["news2_complete"]) == \
                (score.score, score.risk, int(score.complete))
            summary = a.get_summary(session["id"])
            assert summary is None or summary["text"] in copied["summary"]
        counts = report.summary()["counts"]
        assert counts["sessions"]["created"] == len(recent) and counts["residents"]["skipped"] == 0
        assert report.pages > 5 and report.requests == report.pages + 1  # + the site's Organization


def test_a_second_pull_with_nothing_new_changes_no_row(site, tmp_path):
    url, _ = site
    with tablet_b(tmp_path / "b.db") as b:
        pull(b, SearchClient(url), page_size=5)
        before = rows(b)
        report = pull(b, SearchClient(url), page_size=5)
        assert rows(b) == before
        assert all(c["created"] == c["updated"] == 0 for c in report.summary()["counts"].values())


def test_the_tablet_that_recorded_the_sessions_does_not_copy_them_back(site, tmp_path):
    url, a = site
    a.conn.execute("VACUUM INTO ?", [str(tmp_path / "a-copy.db")])  # tablet A itself, on a copy of its store
    with Store(tmp_path / "a-copy.db") as a_copy:
        before = a_copy.query("SELECT * FROM patients ORDER BY id")
        report = pull(a_copy, SearchClient(url))
        assert a_copy.query("SELECT count(*) AS n FROM history_sessions") == [{"n": 0}]
        assert a_copy.query("SELECT count(*) AS n FROM history_observations") == [{"n": 0}]
        # its residents as they were (the server's version of each is noted: the next pull compares with it)
        assert [{**p, "server_version": None} for p in a_copy.query("SELECT * FROM patients ORDER BY id")] == \
            [{**p, "server_version": None} for p in before]
        assert report.counts["sessions"]["own"] == len(recent_sessions(a_copy))


def test_a_pulled_staff_member_signs_in_only_after_an_administrator_gives_a_pin(site, tmp_path):
    """Through the app's own administration path (mobile.workflow): a PIN never comes down from the server."""
    url, _ = site
    with tablet_b(tmp_path / "b.db") as b:
        admin = b.add_staff(display_name="Admin Démo", role="administrateur", pin="246813")
        b.set_setting("site_id", b.list_sites()[0]["id"])  # the tablet is set up at the site
        pull(b, SearchClient(url))
        nurse = next(s for s in b.list_staff() if s["origin"] == "pulled")
        wf = SessionWorkflow(b, ScriptedThermometer())
        assert nurse["id"] not in {m["id"] for m in wf.staff_members()}  # not offered on the sign-in screen
        with pytest.raises(WorkflowError):
            wf.sign_in(nurse["id"], "1234")
        wf.sign_in(admin, "246813")
        wf.open_admin()
        assert {"id": nurse["id"], "has_pin": False} in [{"id": m["id"], "has_pin": m["has_pin"]}
                                                         for m in wf.staff_overview()]
        wf.reset_staff_pin(nurse["id"], "1357")
        wf.sign_out()
        wf.sign_in(nurse["id"], "1357")
        assert nurse["id"] in {m["id"] for m in wf.staff_members()}


def test_history_older_than_ninety_days_leaves_with_the_retention_pass(site, tmp_path):
    url, _ = site
    with tablet_b(tmp_path / "b.db") as b:
        pull(b, SearchClient(url))
        kept = len(b.query("SELECT id FROM history_sessions"))
        retention.purge(b, now=NOW)
        assert len(b.query("SELECT id FROM history_sessions")) == kept > 0
        retention.purge(b, now=NOW + dt.timedelta(days=100))
        assert b.query("SELECT count(*) AS n FROM history_sessions") == [{"n": 0}]
        assert b.query("SELECT count(*) AS n FROM history_observations") == [{"n": 0}]


def test_only_the_sites_asked_for(site, tmp_path):
    url, _ = site
    with tablet_b(tmp_path / "b.db") as b:
        other = b.add_site(kind="pharmacie", name="Pharmacie Démo")
        report = pull(b, SearchClient(url), site_ids=[other])
        assert b.query("SELECT count(*) AS n FROM patients") == [{"n": 0}]
        assert report.sites_not_on_server == 1


def test_what_cannot_be_read_is_skipped_whole_and_never_attached_to_someone_else(site, tmp_path):
    url, a = site
    organization = requests.get(f"{url}/Organization", params={"identifier": f"{fhir.FINESS_SYSTEM}|000000018"},
                                timeout=30).json()["entry"][0]["resource"]["id"]
    unreadable = {"resourceType": "Patient", "managingOrganization": {"reference": f"Organization/{organization}"},
                  "identifier": [{"system": fhir.PATIENT_ID_SYSTEM, "value": "p-unreadable"}],
                  "name": [{"family": "Sans-Date", "given": ["Hors"]}], "gender": "female"}  # no birth date
    created = requests.post(f"{url}/Patient", json=unreadable, timeout=30,
                            headers={"Content-Type": "application/fhir+json"})
    assert created.status_code == 201, created.text
    stranger = created.json()["id"]
    tag = {"system": fhir.SITE_TAG_SYSTEM, "code": "000000018"}
    orphan = {"resourceType": "Observation", "status": "final", "meta": {"tag": [tag]},
              "identifier": [{"system": fhir.OBSERVATION_ID_SYSTEM, "value": "k-orphan/obs/1-8310-5"}],
              "code": {"coding": [{"system": fhir.LOINC, "code": "8310-5"}]},
              "subject": {"reference": f"Patient/{stranger}"}, "effectiveDateTime": NOW.isoformat(),
              "valueQuantity": {"value": 37, "unit": "Cel", "system": fhir.UCUM, "code": "Cel"}}
    assert requests.post(f"{url}/Observation", json=orphan, timeout=30,
                         headers={"Content-Type": "application/fhir+json"}).status_code == 201
    with tablet_b(tmp_path / "b.db") as b:
        report = pull(b, SearchClient(url))
        counts = report.summary()["counts"]
        assert counts["residents"]["skipped"] == 1 and counts["observations"]["skipped"] == 1
        assert b.query("SELECT count(*) AS n FROM patients WHERE id = 'p-unreadable'") == [{"n": 0}]
        assert b.query("SELECT count(*) AS n FROM history_observations WHERE session_id = 'k-orphan'") == [{"n": 0}]
        assert len(b.query("SELECT id FROM patients")) == len(a.query("SELECT id FROM patients"))
