"""The administration's probable duplicates, by taps on the real app: the same resident created on this tablet and
on another one is listed with the traits that tell the two records apart; the Merge button asks first, then keeps
one record (the qualified one, else the older) and takes the other out of the patient list. French and English,
landscape and portrait."""
from __future__ import annotations

import datetime as dt

import pytest

from sync import fhir
from sync.fhir.patient_fields import resident_resource
from sync.residents import apply_remote_patient
from sync.store import Store
from sync.store.patient_stamps import stamps_of
from tests.mobile.test_ui_admin import ADMIN_PIN
from tests.support.ui import LANDSCAPE, PORTRAIT, clipped_texts, make_runtime, running_app, screen, screenshot, \
    small_touch_targets, tap, wait_for, frames, _scroll_into_view
from tests.support.workflow import set_up_tablet

pytestmark = pytest.mark.timeout(90)

TRAITS = dict(family_name="Démo-Tilleul", given_name="Lucette", birth_date="1935-04-02", sex="F",
              birth_place_insee="75056")
TEXTS = {"fr": ("Mêmes nom de naissance, prénom, sexe", "Conservé : DÉMO-TILLEUL Lucette", "Fusionner ces deux dossiers…",
                "Dossiers fusionnés"),
         "en": ("Same birth name, first name", "Kept: DÉMO-TILLEUL Lucette", "Merge these two records…",
                "Records merged")}


def duplicate_runtime(tmp_path):
    """An administrator signed in on a tablet holding a resident typed here and the same person typed offline on
    another tablet of the site, pulled since."""
    runtime = make_runtime(tmp_path, signed_in=False)
    set_up_tablet(runtime.store)
    admin = runtime.store.add_staff(display_name="Alex Admin", role="infirmier", pin=ADMIN_PIN, is_admin=True)
    here = runtime.store.add_patient(**TRAITS, room="12")
    with Store(tmp_path / "other.db") as other:
        there = other.add_patient(**TRAITS, usual_name="Martin", room="3 bis")
        row = other.get_patient(there)
        resource = resident_resource(row, stamps_of(row), ins_system=fhir.INS_DEMO_SYSTEM)
    resource["meta"] = {"versionId": "1", "lastUpdated": "2024-05-01T09:00:00Z"}
    assert apply_remote_patient(runtime.store, resource, now=dt.datetime.now(dt.timezone.utc)) == "duplicate"
    runtime.workflow.sign_in(admin, ADMIN_PIN)
    return runtime, here, there


@pytest.mark.parametrize("size,tag", [(LANDSCAPE, "landscape"), (PORTRAIT, "portrait")])
@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_an_administrator_sees_and_merges_a_probable_duplicate(tmp_path, size, tag, lang):
    runtime, here, there = duplicate_runtime(tmp_path)
    reason, kept, merge_button, done = TEXTS[lang]
    async with running_app(runtime, size=size, lang=lang) as app:
        runtime.workflow.open_admin()
        await wait_for(lambda: app.screen_manager.current == "admin", what="the administration screen")
        admin_screen = screen(app, "admin")
        await frames(3)
        [row] = [w for w in admin_screen.walk() if type(w).__name__ == "DuplicateRow"]
        texts = [w.text for w in row.walk() if hasattr(w, "text")]
        assert texts[0].startswith(reason) and texts[1] == kept  # the older record, typed here, is kept
        assert "3 bis" in texts[6] and "12" in texts[3]            # the room tells them apart
        button = next(w for w in row.walk() if getattr(w, "text", "") == merge_button)
        await _scroll_into_view(admin_screen.ids.scroll, row)
        await screenshot(app, f"64-admin-duplicates-{lang}-{tag}")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []

        await tap(button)
        assert "MARTIN Lucette" in admin_screen.ids.merge_question.text and runtime.store.open_duplicates()
        await screenshot(app, f"65-admin-merge-confirm-{lang}-{tag}")
        assert clipped_texts(app) == []
        await tap(admin_screen.ids.confirm_merge)
        await wait_for(lambda: admin_screen.ids.done.text.startswith(done), what="the merge done")
        assert runtime.store.get_patient(there)["merged_into"] == here
        assert [p["id"] for p in runtime.store.find_patients("")] == [here]
        assert [w for w in admin_screen.walk() if type(w).__name__ == "DuplicateRow" and w.pair_id] == []


async def test_cancel_merges_nothing(tmp_path):
    runtime, here, there = duplicate_runtime(tmp_path)
    async with running_app(runtime, size=LANDSCAPE) as app:
        runtime.workflow.open_admin()
        await wait_for(lambda: app.screen_manager.current == "admin", what="the administration screen")
        admin_screen = screen(app, "admin")
        await frames(3)
        [row] = [w for w in admin_screen.walk() if type(w).__name__ == "DuplicateRow"]
        await tap(next(w for w in row.walk() if getattr(w, "text", "") == "Fusionner ces deux dossiers…"))
        await tap(admin_screen.ids.cancel_merge)
        assert admin_screen.vm.merge_pair is None and len(runtime.store.open_duplicates()) == 1
        assert runtime.store.get_patient(there)["merged_into"] is None
