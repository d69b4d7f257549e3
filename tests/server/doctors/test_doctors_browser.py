"""The doctor's pages in a real browser (headless Chromium over the DevTools protocol): a reading the tablet sends
AFTER the session page was loaded appears in it without a reload (static/live.js under the page's CSP), the view is
logged once however often the measurements refresh; the worklist with a waiting request, the conclusions form
with an error, and the page once signed, drawn as screenshots (tests/_artifacts/screenshots)."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sync.server.doctors.viewlog import ViewLog
from tests.server.doctors.browser import CHROMIUM, Browser
from tests.server.doctors.conftest import SITE_B
from tests.server.doctors.tablet_side import add_reading, ask, tablet

SCREENSHOTS = Path(__file__).resolve().parents[2] / "_artifacts" / "screenshots"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is missing (bash .ci/setup installs it)")


@pytest.fixture(scope="module")
def site_a(record, tmp_path_factory):
    store, _ = tablet(tmp_path_factory.mktemp("tablet") / "a.db", record.site_a)
    yield store
    store.close()


@pytest.fixture
def browser(tmp_path):
    opened = Browser(tmp_path / "profile")
    yield opened
    opened.close()


def drawn(path: Path) -> None:
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 20, path  # drawn, not blank


def measures(browser: Browser) -> str:
    return browser.evaluate("document.getElementById('measures').innerText")


def test_a_reading_sent_after_the_page_loaded_appears_without_reload(record, doctors, site_a, browser):
    asked = ask(record.url, site_a, family="Démo-Direct", given="Hélène", reason="Essoufflement brutal")
    session = doctors.sign_in(record.site_a)
    views = ViewLog(doctors.settings.view_log)
    browser.open(f"{doctors.url}/sessions/{asked.encounter_id}", session.cookies.get_dict())
    assert "104 /min" in measures(browser) and "91 %" not in measures(browser)
    assert "mis à jour à" in measures(browser)
    assert browser.evaluate("document.querySelectorAll('script:not([src])').length") == 0  # no inline script
    browser.evaluate("window.relaisSamePage = 'oui'")
    add_reading(asked, "59408-5", "91", "%", "L")
    browser.wait_for("document.getElementById('measures').innerText.includes('91 %')")
    assert browser.evaluate("window.relaisSamePage") == "oui"                      # swapped in, not reloaded
    assert "bas (L)" in measures(browser) and "NEWS2" in measures(browser)
    drawn(browser.screenshot(SCREENSHOTS / "doctors-session-live.png"))
    assert [v["page"] for v in views.views(asked.patient_id)] == ["session"]     # once, not once per refresh


def test_the_live_part_alone_is_scoped_and_stops_when_the_session_ends(record, doctors, site_a):
    asked = ask(record.url, site_a, family="Démo-Fragment", given="Igor", reason="Malaise")
    mine, other = doctors.sign_in(record.site_a), doctors.sign_in(SITE_B)
    fragment = mine.get(f"{doctors.url}/sessions/{asked.encounter_id}/live", timeout=10)
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith("<section")
    assert 'data-live="true"' in fragment.text and "104 /min" in fragment.text and "<html" not in fragment.text
    assert f'<a href="/sessions/{asked.encounter_id}#measures">Actualiser</a>' in fragment.text  # without JavaScript
    assert other.get(f"{doctors.url}/sessions/{asked.encounter_id}/live", timeout=10).status_code == 404
    signed_out = doctors.sign_in(record.site_a)
    signed_out.cookies.clear()
    assert signed_out.get(f"{doctors.url}/sessions/{asked.encounter_id}/live", timeout=10,
                          allow_redirects=False).status_code == 303
    finished = mine.get(f"{doctors.url}/sessions/{record.flagged_encounter}/live", timeout=10).text
    assert 'data-live="false"' in finished and "mis à jour à" not in finished and "182/95 mmHg" in finished


def test_screenshots_of_a_request_answered_in_the_browser(record, doctors, site_a, browser):
    asked = ask(record.url, site_a, family="Démo-Capture", given="Suzanne", reason="Fièvre à 38,9 et toux",
                minutes_ago=42)
    ask(record.url, site_a, family="Démo-Conseil", given="Albert", reason="Escarre sacrée à évaluer",
        kind="teleexpertise", minutes_ago=7)
    session = doctors.sign_in(record.site_a)
    browser.open(f"{doctors.url}/sites/{record.site_a}", session.cookies.get_dict())
    assert "Demande d'avis" in browser.evaluate("document.querySelector('.requests').innerText")
    drawn(browser.screenshot(SCREENSHOTS / "doctors-worklist-requests.png"))

    browser.open(f"{doctors.url}/sessions/{asked.encounter_id}")
    browser.evaluate("document.getElementById('orientation_detail').value = 'Appeler la famille'")
    browser.submit("form.sign")                                                  # no conclusion: refused
    assert browser.evaluate("document.querySelector('.field-error').innerText") == "La conclusion est obligatoire."
    assert browser.evaluate("document.getElementById('orientation_detail').value") == "Appeler la famille"
    drawn(browser.screenshot(SCREENSHOTS / "doctors-conclusions-error.png"))

    browser.evaluate("document.getElementById('conclusion').value = 'Pneumopathie probable, pas de signe de "
                     "gravité immédiate.\\nReprendre les constantes dans 4 h.'; "
                     "document.getElementById('orientation').value = 'gp'; "
                     "document.getElementById('prescriptions').value = 'Paracétamol 1 g, 3 fois par jour.\\n"
                     "Radiographie pulmonaire.'")
    browser.submit("form.sign")
    assert "Conclusions signées par Dr Camille Démo (RPPS 10000000025)" in browser.evaluate(
        "document.querySelector('.signed').innerText")
    drawn(browser.screenshot(SCREENSHOTS / "doctors-conclusions-signed.png"))
