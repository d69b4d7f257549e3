"""French (and English) texts fit their widgets on every screen of a whole session, in landscape and portrait: the
demo's session is played in the test's own process and every screen it shows is checked."""
from __future__ import annotations

import pytest

from mobile.app import play_demo
from tests.support.ui import LANDSCAPE, PORTRAIT, clipped_texts, make_runtime, running_app

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("size,lang", [(LANDSCAPE, "fr"), (PORTRAIT, "fr"), (PORTRAIT, "en")])
async def test_no_text_is_cut_off_on_any_screen_of_a_session(tmp_path, size, lang):
    runtime = make_runtime(tmp_path, signed_in=False, demo=True)
    problems: dict[str, list[str]] = {}
    seen: list[str] = []
    async with running_app(runtime, size=size, lang=lang) as app:
        def check(name: str) -> None:
            seen.append(name)
            clipped = clipped_texts(app)
            if clipped:
                problems[name] = clipped

        await play_demo(app, pause=0.15, on_screen=check)
    assert {"site-setup", "patients", "new-patient", "session-start", "measure", "vitals-news2", "teleconsult",
            "summary", "saved"} <= set(seen)
    assert problems == {}


async def test_the_check_sees_a_text_that_does_not_fit(tmp_path):
    runtime = make_runtime(tmp_path)
    async with running_app(runtime, size=PORTRAIT) as app:
        from tests.support.ui import frames, screen

        patient = screen(app, "patient")
        assert clipped_texts(app) == []
        patient.ids.new_patient.text = "Créer une nouvelle fiche patient avec les cinq traits stricts et la méthode"
        await frames(3)
        assert any("Créer une nouvelle fiche" in p for p in clipped_texts(app))
        patient.ids.new_patient.text = "Nouveau patient"
        patient.ids.list_caption.text = "Un texte qui passe à la ligne " * 20  # wraps: its box grows, it fits
        await frames(3)
        assert clipped_texts(app) == []
