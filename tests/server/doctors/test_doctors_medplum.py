"""The doctors' application in front of a FHIR engine written by others (Medplum's, tests/medplum), reading only
through the FHIR REST API: the same demo sessions pushed by a tablet, the same pages, the same refusals."""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from sync.fhir.exchange import (CONCLUSIONS_ID_SYSTEM, REQUEST_ID_SYSTEM, conclusions_value, read_conclusions,
                                request_value)
from tests.server.doctors.conftest import SITE_B, build_record, serve_doctors
from tests.server.doctors.tablet_side import add_reading, ask, tablet

HERE = Path(__file__).resolve().parents[2] / "medplum"
pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(shutil.which("node") is None or not (HERE / "node_modules" / "@medplum").exists(),
                                 reason="Node or the Medplum packages are missing (bash .ci/setup installs them)")]


@pytest.fixture(scope="module")
def medplum_record(tmp_path_factory):
    proc = subprocess.Popen(["node", "--experimental-websocket", str(HERE / "server.mjs"), "0"], cwd=HERE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/fhir)", banner)
        assert match, banner + proc.stderr.read()
        yield build_record(match.group(1), tmp_path_factory.mktemp("medplum") / "tablet.db", hand_made=False,
                           max_entries=8)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def medplum_doctors(medplum_record, tmp_path_factory):
    server, doctors = serve_doctors(medplum_record.url, tmp_path_factory.mktemp("doctors"))
    yield doctors
    server.stop()


def test_worklist_session_and_trends_over_medplum(medplum_record, medplum_doctors):
    record, doctors = medplum_record, medplum_doctors
    session = doctors.sign_in(record.site_a)
    worklist = session.get(f"{doctors.url}/sites/{record.site_a}", timeout=30).text
    assert f"/sessions/{record.flagged_encounter}" in worklist and "DÉMO-USAGE Odette" in worklist
    page = session.get(f"{doctors.url}/sessions/{record.flagged_encounter}", timeout=30).text
    assert "115 /min" in page and "élevé (H)" in page and "38,9 °C" in page and "182/95 mmHg" in page
    assert "NEWS2 : <strong>8 — risque élevé" in page and "Appel au SAMU (15)" in page
    assert "Identité qualifiée" in page and "236037505600008" in page
    trends = session.get(f"{doctors.url}/patients/{record.flagged_patient}", timeout=30).text
    assert trends.count("<svg") >= 5 and 'class="dot flagged"' in trends


def test_another_site_is_refused_over_medplum(medplum_record, medplum_doctors):
    other = medplum_doctors.sign_in(SITE_B)
    assert other.get(f"{medplum_doctors.url}/sites/{medplum_record.site_a}", timeout=30).status_code == 403
    for path in (f"/sessions/{medplum_record.flagged_encounter}", f"/patients/{medplum_record.flagged_patient}"):
        assert other.get(medplum_doctors.url + path, timeout=30).status_code == 404


@pytest.fixture(scope="module")
def medplum_tablet(medplum_record, tmp_path_factory):
    store, _ = tablet(tmp_path_factory.mktemp("tablet") / "a.db", medplum_record.site_a)
    yield store
    store.close()


def test_a_request_answered_over_medplum(medplum_record, medplum_doctors, medplum_tablet):
    """Medplum's engine answers the same searches (Task by tag, status and patient; ClinicalImpression by
    encounter and identifier) and runs the same transaction of conditional updates."""
    record, doctors = medplum_record, medplum_doctors
    asked = ask(record.url, medplum_tablet, family="Démo-Medplum", given="Agathe", reason="Toux", minutes_ago=20,
                kind="teleexpertise")
    session = doctors.sign_in(record.site_a)
    worklist = html.unescape(session.get(f"{doctors.url}/sites/{record.site_a}", timeout=30).text)
    requested = worklist.split("Séances en cours")[0]
    assert "Demande d'avis" in requested and "DÉMO-MEDPLUM Agathe" in requested and "20 min" in requested
    add_reading(asked, "59408-5", "93", "%")
    live = session.get(f"{doctors.url}/sessions/{asked.encounter_id}/live", timeout=30).text
    assert 'data-live="true"' in live and "93 %" in live and "104 /min" in live

    def stored() -> list[dict]:
        reply = requests.get(f"{record.url}/ClinicalImpression", timeout=30,
                             params={"identifier": f"{CONCLUSIONS_ID_SYSTEM}|{conclusions_value(asked.key)}"})
        return [e["resource"] for e in reply.json().get("entry") or []]

    path = f"/sessions/{asked.encounter_id}"
    refused = session.post(f"{doctors.url}{path}/conclusions", timeout=30,
                           data={"csrf": medplum_doctors.csrf(session, path), "conclusion": ""})
    assert refused.status_code == 400 and stored() == []
    for text in ("Avis : soins locaux.", "Avis révisé : consultation dermatologique."):
        reply = session.post(f"{doctors.url}{path}/conclusions", timeout=30, data={
            "csrf": medplum_doctors.csrf(session, path), "conclusion": text, "orientation": "specialist"})
        assert reply.status_code == 200 and "Conclusions signées par Dr Camille Démo (RPPS 10000000025)" in reply.text
    [impression] = stored()
    assert read_conclusions(impression).conclusion == "Avis révisé : consultation dermatologique."
    assert impression["encounter"] == {"reference": f"Encounter/{asked.encounter_id}"}
    [task] = [e["resource"] for e in requests.get(f"{record.url}/Task", timeout=30, params={
        "identifier": f"{REQUEST_ID_SYSTEM}|{request_value(asked.key)}"}).json()["entry"]]
    assert task["status"] == "completed"
    assert task["output"][0]["valueReference"]["reference"] == f"ClinicalImpression/{impression['id']}"
