"""The check that French (and English) texts fit their widgets sees a text that does not fit, and lets a wrapping
one grow. The training scenarios (tests/mobile/test_ui_demo.py) run it on every screen of their sessions, in
landscape and portrait, French and English."""
from __future__ import annotations

import pytest

from tests.support.ui import PORTRAIT, clipped_texts, make_runtime, running_app

pytestmark = pytest.mark.timeout(120)


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
