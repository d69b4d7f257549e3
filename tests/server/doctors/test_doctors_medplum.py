"""The doctors' application in front of a FHIR engine written by others (Medplum's, tests/medplum), reading only
through the FHIR REST API: the same demo sessions pushed by a tablet, the same pages, the same refusals."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server.doctors.conftest import SITE_B, build_record, serve_doctors

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
