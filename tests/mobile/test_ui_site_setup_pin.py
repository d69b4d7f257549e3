"""The first account, made on the first start, administers the tablet: its PIN form asks for six digits at least.
French and English, landscape and portrait."""
from __future__ import annotations

import pytest

from tests.mobile.test_ui_admin_pin import COMBINATIONS
from tests.support.ui import (clipped_texts, make_runtime, running_app, screen, screenshot, small_touch_targets, tap,
                              type_into)

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("size,tag,lang", COMBINATIONS)
async def test_the_first_account_form_asks_for_six_digits(tmp_path, size, tag, lang):
    runtime = make_runtime(tmp_path, signed_in=False)
    async with running_app(runtime, size=size, lang=lang) as app:
        assert app.screen_manager.current == "site_setup"
        setup = screen(app, "site_setup")
        assert setup.ids.pin.hint_text == {"fr": "Choisissez un code PIN (6 à 8 chiffres)",
                                           "en": "Choose a PIN (6 to 8 digits)"}[lang]
        await type_into(setup.ids.staff_name, "Hugo Pharmacien")
        await type_into(setup.ids.pin, "2468")
        await tap(setup.ids.save)  # four digits: refused for the tablet's administrator, nothing written
        assert setup.ids.error.text == {"fr": "Le code PIN d'un administrateur a de 6 à 8 chiffres.",
                                        "en": "An administrator's PIN has 6 to 8 digits."}[lang]
        assert runtime.store.list_staff() == [] and runtime.store.list_sites() == []
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
        await screenshot(app, f"41-site-setup-{lang}-{tag}")
