"""Advice without a call, through the real app: the call screen offers "Ask for advice without a call", says what
happens before anything goes, sends the téléexpertise request on confirmation and marks the session waiting; back on
the patient list the open session reads "Advice requested — waiting". French and English, landscape and portrait."""
from __future__ import annotations

import json

import pytest

from sync import live

from tests.support.ui import LANDSCAPE, PORTRAIT, begin_session, clipped_texts, make_runtime, running_app, screen, \
    screenshot, small_touch_targets, tap, wait_for

pytestmark = pytest.mark.timeout(90)

DEMO = dict(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F", birth_place_insee="75056")
WORDS = {"fr": ("Demander un avis sans appel", "Avis demandé — en attente"),
         "en": ("Ask for advice without a call", "Advice requested — waiting")}


def requested_tasks(runtime) -> list[dict]:
    """The requests queued, in the bundles the uploader will build for them."""
    return [e["resource"] for row in runtime.store.query("SELECT id FROM live_outbox")
            for e in json.loads(live.freeze(runtime.store, row["id"]).payload)["entry"]
            if e["resource"]["resourceType"] == "Task"]


# each language and each orientation once (the other two pairings were run and looked at when the screen changed)
@pytest.mark.parametrize("lang,size,tag", [("fr", LANDSCAPE, "fr-landscape"), ("en", PORTRAIT, "en-portrait")])
async def test_asking_for_advice_confirms_sends_and_marks_the_session_waiting(tmp_path, lang, size, tag):
    runtime = make_runtime(tmp_path)
    begin_session(runtime, DEMO)
    wf = runtime.workflow
    wf.enter_manual_temperature("38,4")
    wf.accept()
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="22", consciousness="A", on_oxygen=False)
    ask, waiting = WORDS[lang]
    async with running_app(runtime, size=size, lang=lang) as app:
        await wait_for(lambda: app.screen_manager.current == "teleconsult", what="the call screen")
        call = screen(app, "teleconsult")
        assert call.ids.ask_advice.text == ask
        await tap(call.ids.ask_advice)
        await wait_for(lambda: call.ids.advice_confirmation.shown, what="what asking for advice does")
        assert requested_tasks(runtime) == []                 # nothing goes before staff confirm
        await screenshot(app, f"80-advice-confirm-{tag}")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
        await tap(call.ids.confirm_advice)
        await wait_for(lambda: call.ids.advice_waiting.shown, what="the session marked waiting")
        (task,) = requested_tasks(runtime)
        assert task["code"]["coding"][0]["code"] == "teleexpertise"
        await screenshot(app, f"81-advice-waiting-{tag}")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
        await tap(call.ids.back_to_list)
        await wait_for(lambda: app.screen_manager.current == "patient", what="the patient list")
        patients = screen(app, "patient")
        await wait_for(lambda: len(patients.ids.open_list.children) == 1, what="the open session")
        (row,) = patients.ids.open_list.children
        assert row.ids.step_line.text == waiting
        await screenshot(app, f"82-advice-list-{tag}")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
