"""Measuring through the real app, the simulated devices and the real store: what a waiting screen says (what it
waits for, for how long, how long at most) and how it gives up; a running measurement cancelled, its link closed;
values typed by hand for the blood pressure; review offering "next device" and "finish the measurements" as two
actions; in English, no French left on the measure and review screens, device warnings included."""
from __future__ import annotations

import re

import pytest

from devices.limits import WaitLimits
from devices.simulated import PLX_SCENARIOS
from tests.support.ui import (LANDSCAPE, PORTRAIT, begin_session, clipped_texts, frames, make_runtime, running_app,
                              screen, screenshot, small_touch_targets, tap, type_into, wait_for)

pytestmark = pytest.mark.timeout(90)

NBSP = "\u00a0"
DEMO = dict(family_name="DÉMO", given_name="Paul", birth_date="1931-11-05", sex="M", birth_place_insee="69123")
WORDS = {
    "fr": dict(finger="Placez le doigt du patient dans l'oxymètre et gardez la main immobile…",
               waiting=re.compile(r"^\d s sur 9 s au maximum$"), cancel="Annuler la mesure",
               gave_up="Arrêt au bout de 9 s — aucun doigt détecté : placez le doigt du patient bien au fond de "
                       "l'oxymètre, puis recommencez.",
               failed=f"Échec{NBSP}: aucun doigt détecté", cancelled="Mesure annulée",
               state_cancelled=f"Mesure annulée{NBSP}: rien n'a été enregistré.",
               labels=("Systolique (mmHg)", "Diastolique (mmHg)", "Pouls (/min)"),
               remaining=f"Reste à mesurer{NBSP}: Température, Saturation (oxymètre)", next="Appareil suivant",
               finish="Terminer les mesures", source=f"Source{NBSP}: Saisie manuelle"),
    "en": dict(finger="Place the patient's finger in the oximeter and keep the hand still…",
               waiting=re.compile(r"^\d s of 9 s at most$"), cancel="Cancel the measurement",
               gave_up="Stopped after 9 s — no finger detected: place the patient's finger fully into the oximeter, "
                       "then measure again.",
               failed="Failed: no finger detected", cancelled="Measurement cancelled",
               state_cancelled="Measurement cancelled: nothing was recorded.",
               labels=("Systolic (mmHg)", "Diastolic (mmHg)", "Pulse (/min)"),
               remaining="Still to measure: Temperature, Saturation (oximeter)", next="Next device", finish="Finish the measurements",
               source="Source: Manual entry"),
}
FRENCH = re.compile(r"[éèêàùçôî]|\s:\s|\bMesure\b|\bSaisie\b|\bReprenez\b|\bpouls\b")


def visible_texts(app) -> list[str]:
    from kivy.uix.label import Label

    def shown(widget) -> bool:
        node = widget
        while node is not None and node is not app.root:
            if node.opacity == 0 or node.height <= 1:
                return False
            node = node.parent
        return True

    current = app.screen_manager.current_screen
    return [w.text for w in current.walk(restrict=True) if isinstance(w, Label) and w.text.strip() and shown(w)]


def french_left(app) -> list[str]:
    """Visible texts of the current screen that read as French (the patient's own name excepted)."""
    return [t for t in visible_texts(app) if FRENCH.search(t) and "DÉMO" not in t]


async def check_layout(app, name: str) -> None:
    await screenshot(app, name)
    assert small_touch_targets(app) == []
    assert clipped_texts(app) == []


# both languages and both orientations, crosswise (each run takes ~20 s: the oximeter gives up after 9 s, room enough
# for a loaded machine to see it waiting first)
@pytest.mark.parametrize("lang, size", [("fr", LANDSCAPE), ("en", PORTRAIT)], ids=["fr-landscape", "en-portrait"])
async def test_waiting_giving_up_cancelling_and_typing_the_blood_pressure(tmp_path, lang, size):
    words = WORDS[lang]
    shot = f"{lang}-{'landscape' if size == LANDSCAPE else 'portrait'}"
    runtime = make_runtime(tmp_path, wait_limits=WaitLimits(measure={"oximeter": 9.0}))
    begin_session(runtime, DEMO)
    async with running_app(runtime, size=size, lang=lang) as app:
        sm, measure, model = app.screen_manager, screen(app, "measure"), app.models.measure
        oximeter = runtime.simulated[1]
        oximeter.scenario = PLX_SCENARIOS["no_finger"]  # the finger is never placed
        await frames(3)
        await tap(measure.ids.card_oximeter)

        # -- waiting: what for, for how long, how long at most; the way to stop ------------------------------------
        await tap(measure.ids.measure)
        await wait_for(lambda: model.device_state == "measuring", timeout=15, what="the measuring phase")
        await frames(3)
        assert measure.ids.status.text == words["finger"]
        assert words["waiting"].match(measure.ids.waiting.text), measure.ids.waiting.text
        assert measure.ids.cancel.text == words["cancel"] and not measure.ids.cancel.disabled
        await wait_for(lambda: model.elapsed >= 1, timeout=5, what="the elapsed time")
        await frames(2)
        assert measure.ids.waiting.text.startswith(f"{model.elapsed} s")
        await check_layout(app, f"40-measure-waiting-{shot}")
        if lang == "en":
            assert french_left(app) == []

        # -- it gives up with a plain reason and the card says what failed -------------------------------------------
        await wait_for(lambda: model.device_state == "error", timeout=20, what="the time limit")
        await frames(3)
        assert measure.ids.error_text.text == words["gave_up"]
        assert model.error.params["seconds"] == "9" and model.error.params["reason"] == "oximeter.no_finger"
        assert measure.ids.card_oximeter.state_text == words["failed"]
        assert measure.ids.cancel.disabled and measure.ids.waiting.text == ""
        assert app.models.review.values == ()
        await check_layout(app, f"41-measure-gave-up-{shot}")
        if lang == "en":
            assert french_left(app) == []

        # -- measure again, then cancel: the link is closed, nothing proposed, the card says so -----------------
        runtime.config.wait_limits = runtime.workflow.measuring.limits = WaitLimits()  # time to tap "Cancel"
        await tap(measure.ids.retry)
        await wait_for(lambda: model.device_state == "measuring", timeout=15, what="measuring again")
        await wait_for(lambda: oximeter.busy, timeout=5, what="the oximeter streaming")
        await tap(measure.ids.cancel)
        assert model.device_state == "cancelled" and not model.busy
        await wait_for(lambda: not oximeter.busy and not oximeter.device.connections, timeout=5,
                       what="the oximeter's link closed")
        assert runtime.workflow.state.proposal is None and sm.current == "measure"
        assert measure.ids.card_oximeter.state_text == words["cancelled"]
        assert measure.ids.status.text == words["state_cancelled"]
        assert not measure.ids.error_box.shown and not measure.ids.measure.disabled
        await check_layout(app, f"42-measure-cancelled-{shot}")

        # -- the blood pressure typed by hand; review offers the next device or the end --------------------------
        await tap(measure.ids.card_blood_pressure)
        await tap(measure.ids.manual)
        labels = (measure.ids.manual_label.text, measure.ids.manual_label2.text, measure.ids.manual_label3.text)
        assert labels == words["labels"]
        await type_into(measure.ids.manual_input, "128")
        await type_into(measure.ids.manual_input2, "82")
        await check_layout(app, f"43-measure-manual-blood-pressure-{shot}")
        if lang == "en":
            assert french_left(app) == []
        await tap(measure.ids.manual_ok)
        assert sm.current == "review"
        review = screen(app, "review")
        await frames(3)
        assert review.ids.value.text == f"128/82{NBSP}mmHg" and review.ids.value_extra.text == ""
        assert review.ids.source.text == words["source"]
        # the oximeter failed and was cancelled: it is still to measure, after the thermometer that comes next
        assert review.ids.remaining.text == words["remaining"]
        assert (review.ids.accept.text, review.ids.save.text) == (words["next"], words["finish"])
        await check_layout(app, f"44-review-next-or-finish-{shot}")
        if lang == "en":
            assert french_left(app) == []
        await tap(review.ids.accept)
        assert sm.current == "measure" and measure.ids.card_blood_pressure.done
        assert model.selected_kind == "thermometer"  # the next device after the cuff, in the cards' order
        assert measure.ids.card_oximeter.state_text == words["cancelled"]


async def test_english_review_words_the_device_warnings(tmp_path):
    """An oximeter reading with low perfusion and a low battery, reviewed in English: the warnings and everything
    else on the review screen are English."""
    runtime = make_runtime(tmp_path)
    begin_session(runtime, DEMO)
    async with running_app(runtime, size=LANDSCAPE, lang="en") as app:
        oximeter = runtime.simulated[1]
        oximeter.scenario = PLX_SCENARIOS["low_perfusion"]
        oximeter.battery_percent = 5
        measure = screen(app, "measure")
        await frames(3)
        await tap(measure.ids.card_oximeter)
        await tap(measure.ids.measure)
        await wait_for(lambda: app.screen_manager.current == "review", timeout=20, what="the oximeter review")
        review = screen(app, "review")
        await frames(3)
        warnings = review.ids.warnings.text.split("\n")
        assert "Low perfusion: warm the hand or change finger." in warnings
        assert "Low battery: change the device's batteries after this measurement." in warnings
        assert review.ids.value_extra.text == "pulse 88/min"
        assert french_left(app) == []
        await check_layout(app, "45-review-device-warnings-en")
