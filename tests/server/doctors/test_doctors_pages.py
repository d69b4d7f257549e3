"""What a signed-in doctor reads, over real HTTP, in front of the development server: the worklist of a site
(waiting sessions first), a session in French (labels, units, flags in words, NEWS2, the 15 call, device or manual
entry, the report), the trends of 90 days, each view logged; and what they are refused."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from PIL import Image

import sync.server.doctors

from sync.server.doctors.viewlog import ViewLog
from tests.server.doctors.conftest import SITE_B

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_without_sign_in_no_patient_data_is_served(record, doctors):
    anonymous = requests.Session()
    for path in ("/", f"/sites/{record.site_a}", f"/sessions/{record.flagged_encounter}",
                 f"/patients/{record.flagged_patient}"):
        reply = anonymous.get(doctors.url + path, timeout=10, allow_redirects=False)
        assert reply.status_code == 303 and reply.headers["Location"] == "/signin", path
    page = anonymous.get(doctors.url + f"/sessions/{record.flagged_encounter}", timeout=10)
    assert page.url.endswith("/signin") and "Démo-Alerte".upper() not in page.text.upper()


def test_worklist_puts_waiting_sessions_first_and_shows_unreadable_ones(record, doctors):
    session = doctors.sign_in(record.site_a)
    page = session.get(f"{doctors.url}/sites/{record.site_a}", timeout=10).text
    waiting, recent = page.split("Séances récentes")
    assert f"/sessions/{record.waiting_encounter}" in waiting and "en cours" in waiting
    assert f"/sessions/{record.flagged_encounter}" in recent and f"/sessions/{record.flagged_encounter}" not in waiting
    assert "DÉMO-USAGE Odette" in recent and "(né·e DÉMO-ALERTE Odette)" in recent
    assert "Patient illisible" in recent                           # a Patient that does not fit, not a 500
    assert "&lt;script&gt;" in waiting and "<script" not in page   # escaped once, never run
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", recent)
    assert "Démo-Ailleurs" not in page                              # another site's resident


def test_a_session_in_french_with_flags_news2_and_the_15_call(record, doctors):
    session = doctors.sign_in(record.site_a)
    page = session.get(f"{doctors.url}/sessions/{record.flagged_encounter}", timeout=10).text
    assert "Fièvre &gt; 38,5 et essoufflement" in page and "&amp;gt;" not in page   # escaped once
    assert "Nom de naissance" in page and "DÉMO-ALERTE Odette" in page and "DÉMO-USAGE Odette" in page
    assert "Identité qualifiée" in page and "236037505600008" in page and "Femme" in page
    assert "Fréquence cardiaque" in page and "115 /min" in page and "élevé (H)" in page
    assert "38,9 °C" in page and "Cel" not in page
    assert "Saturation en oxygène (SpO2)" in page and "bas (L)" in page
    assert "182/95 mmHg" in page and "Pression systolique élevé (H)" in page
    assert "saisie manuelle" in page
    assert "NEWS2 : <strong>" in page and "risque" in page
    assert "Appel au SAMU (15)" in page and "Appel au 15 à 10:05" in page
    assert "Oxygen saturation" not in page and "Heart rate" not in page


def test_a_session_news2_is_the_tablet_score(record, doctors):
    """RR 24 (2) + SpO2 91 (3) + air (not given) + SBP 182 (0) + pulse 115 (2) + alert (0) + 38.9 °C (1) = 8."""
    page = doctors.sign_in(record.site_a).get(f"{doctors.url}/sessions/{record.flagged_encounter}", timeout=10).text
    assert re.search(r"NEWS2 : <strong>8 — risque élevé", page), page


def test_an_unreadable_measurement_never_breaks_the_session(record, doctors):
    page = doctors.sign_in(record.site_a).get(f"{doctors.url}/sessions/{record.waiting_encounter}", timeout=10)
    assert page.status_code == 200
    assert f"Mesure illisible (Observation {record.unreadable_observation})" in page.text and "88 /min" in page.text
    assert "Pas encore de compte rendu" in page.text
    unreadable_patient = doctors.sign_in(record.site_a).get(
        f"{doctors.url}/sessions/{record.unreadable_patient_encounter}", timeout=10)
    assert unreadable_patient.status_code == 200 and "Patient illisible" in unreadable_patient.text


def test_trends_of_90_days_are_svg_with_flagged_points(record, doctors):
    page = doctors.sign_in(record.site_a).get(f"{doctors.url}/patients/{record.flagged_patient}", timeout=10).text
    assert page.count("<svg") >= 5 and "<script" not in page
    assert "Fréquence cardiaque" in page and "°C" in page
    # temperature H, SpO2 L, pulse H, respiration H, systolic H: each flagged reading a red dot, no other
    assert page.count('class="dot flagged"') == 5


def test_another_sites_ids_and_sites_are_refused(record, doctors):
    session = doctors.sign_in(record.site_a)
    assert session.get(f"{doctors.url}/sites/{SITE_B}", timeout=10).status_code == 403
    for path in (f"/sessions/{record.site_b_encounter}", f"/patients/{record.site_b_patient}",
                 "/sessions/does-not-exist", "/patients/does-not-exist"):
        reply = session.get(doctors.url + path, timeout=10)
        assert reply.status_code == 404 and "Démo-Ailleurs" not in reply.text and "Toux" not in reply.text, path
    other = doctors.sign_in(SITE_B)
    assert other.get(f"{doctors.url}/sessions/{record.flagged_encounter}", timeout=10).status_code == 404
    assert "Toux" in other.get(f"{doctors.url}/sessions/{record.site_b_encounter}", timeout=10).text


def test_every_view_of_a_patient_is_logged_and_kept_six_months(record, doctors, tmp_path):
    session = doctors.sign_in(record.site_a)
    log = ViewLog(doctors.settings.view_log)
    before = len(log.views(record.flagged_patient))
    session.get(f"{doctors.url}/sessions/{record.flagged_encounter}", timeout=10)
    session.get(f"{doctors.url}/patients/{record.flagged_patient}", timeout=10)
    session.get(f"{doctors.url}/sites/{record.site_a}", timeout=10)            # a list, not a patient's data
    session.get(f"{doctors.url}/sessions/{record.site_b_encounter}", timeout=10)  # refused: nothing shown
    views = log.views(record.flagged_patient)[before:]
    assert [(v["page"], v["rpps"]) for v in views] == [("session", "10000000025"), ("trends", "10000000025")]
    assert session.account_id not in {v["doctor_id"] for v in log.views(record.site_b_patient)}

    now = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    clock = iter([now - dt.timedelta(days=200), now - dt.timedelta(days=100), now])
    aging = ViewLog(tmp_path / "views.sqlite", clock=lambda: next(clock))
    for n in range(3):
        aging.record(doctor_id="dr", rpps="10000000025", patient_id=f"p{n}", page="session", subject_id="e")
    assert [v["patient_id"] for v in aging.views()] == ["p1", "p2"]   # beyond six months: purged


SCREENSHOTS = Path(__file__).resolve().parents[2] / "_artifacts" / "screenshots"
CSS = Path(sync.server.doctors.__file__).parent / "static" / "doctors.css"


def screenshot(html: str, name: str, folder: Path, height: int) -> Path:
    """The page as served, drawn by headless Chromium (its stylesheet beside it: the file has no server)."""
    page = folder / f"{name}.html"
    page.write_text(html.replace("/static/doctors.css", CSS.as_uri()), encoding="utf-8")
    target = SCREENSHOTS / f"{name}.png"
    profile = folder / f"profile-{name}"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={profile}", f"--screenshot={target}", f"--window-size=1100,{height}",
                    page.as_uri()], check=True, capture_output=True, timeout=60)
    return target


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is missing (bash .ci/setup installs it)")
def test_screenshots_of_the_sign_in_worklist_session_and_trends(record, doctors, tmp_path):
    session = doctors.sign_in(record.site_a)
    pages = {"doctors-signin": (requests.get(doctors.url + "/signin", timeout=10).text, 700),
             "doctors-worklist": (session.get(f"{doctors.url}/sites/{record.site_a}", timeout=10).text, 900),
             "doctors-session": (session.get(f"{doctors.url}/sessions/{record.flagged_encounter}",
                                             timeout=10).text, 1900),
             "doctors-trends": (session.get(f"{doctors.url}/patients/{record.flagged_patient}", timeout=10).text,
                                1900)}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, (html, height) in pages.items():
        with Image.open(screenshot(html, name, tmp_path, height)) as image:
            colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
            assert colours is not None and len(colours) > 20, name  # drawn, not blank
