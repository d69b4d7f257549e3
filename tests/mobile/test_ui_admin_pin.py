"""An administrator's PIN has six digits at least, on the real app: someone made administrator with a 4-digit PIN
opens the administration on their own new PIN, the rest of the screen waiting until it is saved. French and
English, landscape and portrait."""
from __future__ import annotations

import pytest

from tests.support.ui import (LANDSCAPE, PORTRAIT, clipped_texts, frames, make_runtime, running_app, screen,
                              screenshot, small_touch_targets, tap, type_into, wait_for)
from tests.support.workflow import set_up_tablet

pytestmark = pytest.mark.timeout(90)

SHOWN = {"fr": ("Choisissez votre nouveau code PIN (6 à 8 chiffres) avant d'administrer la tablette.",
                "Le code PIN d'un administrateur a de 6 à 8 chiffres.",
                "Votre nouveau code PIN est enregistré\u00a0: vous pouvez administrer la tablette."),
         "en": ("Choose your new PIN (6 to 8 digits) before administering this tablet.",
                "An administrator's PIN has 6 to 8 digits.",
                "Your new PIN is saved: you may administer this tablet.")}
# each language and each orientation once (the other two pairings were run and looked at when the screen changed)
COMBINATIONS = [(LANDSCAPE, "landscape", "fr"), (PORTRAIT, "portrait", "en")]


@pytest.mark.parametrize("size,tag,lang", COMBINATIONS)
async def test_an_administrator_with_a_short_pin_chooses_a_longer_one_first(tmp_path, size, tag, lang):
    runtime = make_runtime(tmp_path, signed_in=False)
    set_up_tablet(runtime.store)
    admin = runtime.store.add_staff(display_name="Alex Admin", role="infirmier", pin="975310", is_admin=True)
    lou = runtime.store.add_staff(display_name="Louise Préparatrice", role="aide_soignant", pin="1357")
    runtime.store.set_staff_admin(lou, True)
    runtime.workflow.sign_in(lou, "1357")
    asking, too_short, saved = SHOWN[lang]
    async with running_app(runtime, size=size, lang=lang) as app:
        runtime.workflow.open_admin()
        await wait_for(lambda: app.screen_manager.current == "admin", what="the administration screen")
        admin_screen = screen(app, "admin")
        await frames(3)
        assert admin_screen.ids.pin_for.text == asking
        assert admin_screen.ids.staff_rv.parent.shown is False  # the accounts wait for the new PIN
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
        await screenshot(app, f"64-admin-own-pin-{lang}-{tag}")
        await type_into(admin_screen.ids.reset_pin, "2468")
        await tap(admin_screen.ids.save_pin)
        assert admin_screen.ids.error.text == too_short
        await type_into(admin_screen.ids.reset_pin, "135790")
        await tap(admin_screen.ids.save_pin)
        await frames(3)
        assert admin_screen.ids.done.text == saved and admin_screen.ids.staff_rv.parent.shown is True
        assert runtime.store.verify_pin(lou, "135790") and runtime.store.get_staff(admin)["is_admin"] == 1
