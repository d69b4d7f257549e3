"""The vitals screen's NEWS2 by taps on the real app, with the three simulated Bluetooth devices: a partial score is
neutral and names what is missing (never "low"), each RCP 2017 band has its colour and its response, a high score's
first action is recording the call to the 15 (time and staff kept in the session), and the wording fits the site
(EHPAD residents, pharmacy patients). Screenshots in French and English, landscape and portrait."""
from __future__ import annotations

import pytest

from mobile.screens import theme
from tests.support.ui import LANDSCAPE, PORTRAIT, clipped_texts, frames, make_runtime, running_app, screen, \
    screenshot, small_touch_targets, start_session_by_taps, tap, type_into, wait_for
from tests.support.workflow import PIN

pytestmark = pytest.mark.timeout(90)

DEMO = dict(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F", birth_place_insee="75056")
WORDS = {
    "fr": {"missing": "Score incomplet — manquent\u00a0: fréquence respiratoire, air ou oxygène, "
                      "conscience (ACVPU)",
           "low": "Risque faible", "medium": "Risque moyen", "high": "Risque élevé",
           "call": "J'ai appelé le 15", "called": "Appel au 15 à {time}, noté par Camille Soignante.",
           "urgent": "demandez un appel urgent au médecin", "fifteen": "appelez le 15 maintenant",
           "resident": "résident"},
    "en": {"missing": "Incomplete score — missing: respiration rate, air or oxygen, consciousness (ACVPU)",
           "low": "Low risk", "medium": "Medium risk", "high": "High risk",
           "call": "I have called the 15", "called": "15 called at {time}, recorded by Camille Soignante.",
           "urgent": "ask for an urgent call with the doctor", "fifteen": "call the 15 now",
           "resident": "resident"},
}


async def measure_all(runtime) -> None:
    """The three simulated devices (SpO2 97 %, pulse 72, 128/82 mmHg, 37.60 °C), each value accepted."""
    wf = runtime.workflow
    for kind in ("oximeter", "blood_pressure"):
        assert await wf.measure(kind) is not None, wf.state.error
        wf.accept()
    assert await wf.measure_temperature() is not None, wf.state.error
    wf.accept()
    wf.finish_measurements()


def panel(vitals) -> tuple:
    return tuple(vitals.ids.news2_panel.bg), tuple(vitals.ids.news2_panel.accent)


def band_colours(band: str) -> tuple:
    bg, accent, _ = theme.NEWS2_PANEL[band]
    return tuple(bg), tuple(accent)


async def checked_shot(app, name: str) -> None:
    await screenshot(app, name)
    assert small_touch_targets(app) == []
    assert clipped_texts(app) == []


@pytest.mark.parametrize("lang,size", [("fr", LANDSCAPE), ("en", PORTRAIT)])   # both of each, crosswise
async def test_news2_bands_on_the_vitals_screen_and_the_15_call(tmp_path, lang, size):
    words = WORDS[lang]
    shape = "landscape" if size == LANDSCAPE else "portrait"
    runtime = make_runtime(tmp_path)
    runtime.workflow.create_patient(**DEMO)
    async with running_app(runtime, size=size, lang=lang) as app:
        await start_session_by_taps(app)
        await measure_all(runtime)
        await wait_for(lambda: app.screen_manager.current == "vitals", what="the vitals screen")
        vitals = screen(app, "vitals")
        ids = vitals.ids
        await frames(2)

        # the devices alone: 0 points, three parameters missing — neutral, never the green of a low score
        assert ids.news2_total.text == words["missing"]
        assert panel(vitals) == band_colours("incomplete") != band_colours("low")
        assert words["low"] not in ids.news2_band.text + ids.news2_advice.text
        assert not ids.call_15_box.shown
        await checked_shot(app, f"news2-{lang}-{shape}-1-partial")

        await type_into(ids.rr, "16")
        await tap(next(b for b in ids.acvpu.children if b.value == "A"))
        await tap(next(b for b in ids.oxygen.children if b.value == "no"))
        assert ids.news2_band.text == words["low"] and panel(vitals) == band_colours("low")
        await checked_shot(app, f"news2-{lang}-{shape}-2-low")

        await type_into(ids.rr, "25")                                     # 3 points
        await tap(next(b for b in ids.oxygen.children if b.value == "yes"))  # 2 points
        assert ids.news2_band.text == words["medium"] and panel(vitals) == band_colours("medium")
        assert words["urgent"] in ids.news2_advice.text.lower()
        assert not ids.call_15_box.shown
        await checked_shot(app, f"news2-{lang}-{shape}-3-medium")

        await tap(next(b for b in ids.acvpu.children if b.value == "V"))  # 3 more: 8
        assert ids.news2_band.text == words["high"] and panel(vitals) == band_colours("high")
        assert words["fifteen"] in ids.news2_advice.text and words["resident"] in ids.news2_advice.text
        # the first action is the call to the 15, above the way on; the way on is not the green "all is well"
        assert ids.call_15_box.shown and ids.call_15.text == words["call"]
        assert ids.call_15.to_window(*ids.call_15.pos)[1] > ids.confirm.to_window(*ids.confirm.pos)[1]
        assert tuple(ids.confirm.bg) != tuple(theme.SUCCESS)
        await checked_shot(app, f"news2-{lang}-{shape}-4-high")

        await tap(ids.call_15)
        call = runtime.workflow.state.emergency_call
        hhmm = f"{call['at'].astimezone():%H:%M}"
        assert call["by"] == "Camille Soignante"
        assert ids.call_15_done.text == words["called"].format(time=hhmm)
        assert not ids.call_15_box.shown and tuple(ids.confirm.bg) == tuple(theme.SUCCESS)
        assert ids.news2_band.text == words["high"]  # the typed values still count after the call was recorded
        (note,) = runtime.store.notes(runtime.workflow.state.session_id)
        assert (note["kind"], note["author"], note["text"]) == \
            ("emergency_call", "Camille Soignante", f"Appel au 15 à {hhmm} par Camille Soignante.")
        assert note["staff_id"] == runtime.workflow.state.staff["id"]
        await checked_shot(app, f"news2-{lang}-{shape}-5-called")

        await tap(ids.confirm)
        await wait_for(lambda: app.screen_manager.current == "teleconsult", what="the teleconsultation screen")
        assert runtime.workflow.state.news2.score == 8

        # the summary for the patient's doctor: French, whatever the screens' language
        call_screen = screen(app, "teleconsult")
        await frames(2)
        await type_into(call_screen.ids.doctor, "Dr Marc Téléconsultant")
        await tap(call_screen.ids.start_call)
        await type_into(call_screen.ids.conclusion, "Adressée aux urgences.")
        await tap(call_screen.ids.end_call)
        await wait_for(lambda: app.screen_manager.current == "summary", what="the summary screen")
        draft = screen(app, "summary").ids.summary.text
        assert screen(app, "summary").ids.summary.cursor == (0, 0)   # the draft opens on its first line
        assert "Mesures :\n- Tension artérielle : 128/82\u00a0mmHg (tensiomètre " in draft
        assert "NEWS2 : 8 — risque élevé (score complet).\n" \
               f"Appel au 15 à {hhmm} par Camille Soignante.\n" in draft
        assert "risk" not in draft and "Fever" not in draft and "Motif : Fièvre." in draft
        await checked_shot(app, f"news2-{lang}-{shape}-6-summary")


async def test_a_pharmacy_cabin_speaks_of_patients_not_residents(tmp_path):
    runtime = make_runtime(tmp_path, signed_in=False)
    store = runtime.store
    site_id = store.add_site(kind="pharmacie", name="Pharmacie du Port")
    store.set_setting("site_id", site_id)
    staff_id = store.add_staff(display_name="Hugo Pharmacien", role="pharmacien", pin=PIN)
    runtime.workflow.sign_in(staff_id, PIN)
    runtime.workflow.create_patient(**DEMO)
    async with running_app(runtime, size=LANDSCAPE) as app:
        await start_session_by_taps(app)
        assert await runtime.workflow.measure("oximeter") is not None   # SpO2 97 %
        runtime.workflow.accept()
        runtime.workflow.enter_manual_temperature("39,6")
        runtime.workflow.accept()
        runtime.workflow.finish_measurements()
        await wait_for(lambda: app.screen_manager.current == "vitals", what="the vitals screen")
        ids = screen(app, "vitals").ids
        assert "EHPAD" not in ids.disclaimer.text and "résident" not in ids.disclaimer.text
        assert "patients vus en pharmacie" in ids.disclaimer.text
        await type_into(ids.rr, "27")
        await tap(next(b for b in ids.acvpu.children if b.value == "V"))
        await frames(2)
        assert "appelez le 15" in ids.news2_advice.text and "dans la cabine" in ids.news2_advice.text
        assert "résident" not in ids.news2_advice.text
        await checked_shot(app, "news2-fr-landscape-pharmacy-high")

        await tap(next(b for b in ids.oxygen.children if b.value == "yes"))
        assert "Saturation en oxygène (SpO2)\u00a0: 0" in ids.news2_lines.text
        await tap(ids.spo2_target)             # a prescribed 88–92 % target: 97 % on oxygen scores 3 on scale 2
        assert "Saturation en oxygène (SpO2, échelle 2)\u00a0: 3" in ids.news2_lines.text
        await checked_shot(app, "news2-fr-landscape-pharmacy-scale-2")
        await tap(ids.confirm)
        await wait_for(lambda: app.screen_manager.current == "teleconsult", what="the teleconsultation screen")
        rows = runtime.store.measurements(runtime.workflow.state.session_id)
        assert [(r["code"], r["value"], r["source"]) for r in rows if r["code"] == "spo2-target-88-92"] == [
            ("spo2-target-88-92", "yes", "manual")]
        assert runtime.workflow.state.news2.spo2_scale == 2


async def test_a_reason_chip_writes_french_into_the_record_in_english_mode(tmp_path):
    runtime = make_runtime(tmp_path)
    runtime.workflow.create_patient(**DEMO)
    async with running_app(runtime, size=LANDSCAPE, lang="en") as app:
        chips = [w for w in screen(app, "session_start").walk() if type(w).__name__ == "ReasonChip"]
        assert [c.text for c in chips][:2] == ["Fever", "Cough or breathlessness"]
        await start_session_by_taps(app)                 # taps the first chip
        session = runtime.store.get_session(runtime.workflow.state.session_id)
        assert session["reason"] == "Fièvre"


def test_the_reason_chips_write_what_they_say_in_french():
    from mobile.i18n import tr
    from mobile.screens import texts

    tr.switch_lang("fr")
    assert tuple(tr._(r) for r in texts.REASONS) == texts.REASONS_RECORD
