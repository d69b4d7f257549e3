"""What staff see when things go wrong: a thermometer error (never a value), manual entry as the way out, and
identity validation errors in plain French in the patient form."""
from __future__ import annotations

import pytest

from sync import outbox
from tests.support.ui import clipped_texts, LANDSCAPE, PORTRAIT, begin_session, finish_session_by_taps, frames, make_runtime, running_app, \
    screen, screenshot, small_touch_targets, start_session_by_taps, tap, type_into, wait_for

pytestmark = pytest.mark.timeout(60)

NBSP = "\u00a0"
DEMO = dict(family_name="DÉMO", given_name="Paul", birth_date="1931-11-05", sex="M", birth_place_insee="69123",
            identity_status="VALI", identity_document="CN")


async def test_thermometer_error_shows_the_error_panel_and_no_value(tmp_path):
    runtime = make_runtime(tmp_path, scenario="error")  # the simulated thermometer sends NaN
    begin_session(runtime, DEMO)
    async with running_app(runtime, size=LANDSCAPE) as app:
        sm, measure = app.screen_manager, screen(app, "measure")
        assert sm.current == "measure"
        assert not measure.ids.error_box.shown
        await tap(measure.ids.measure)
        await wait_for(lambda: app.models.measure.device_state == "error", timeout=15, what="the device error")
        await frames(3)
        assert sm.current == "measure"
        assert measure.ids.error_box.shown and measure.ids.error_box.height > 0
        assert measure.ids.error_text.text == ("Erreur de l'appareil : le thermomètre signale une mesure invalide. "
                                               "Reprenez la mesure.")
        assert measure.ids.status.text == "La mesure a échoué."
        assert app.models.review.values == () and measure.ids.live_value.text == ""
        assert measure.ids.retry.text == "Reprendre" and measure.ids.manual_from_error.text == "Saisie manuelle"
        assert not measure.ids.retry.disabled and measure.ids.measure.disabled  # "Try again" replaces "Measure"
        await screenshot(app, "10-measure-device-error")

        # manual entry from the error panel: a bad value is refused, a good one goes to review marked manual
        await tap(measure.ids.manual_from_error)
        assert measure.ids.manual_box.shown and not measure.ids.error_box.shown
        await type_into(measure.ids.manual_input, "3,7,6")
        await tap(measure.ids.manual_ok)
        assert sm.current == "measure"
        assert measure.ids.manual_error.text.startswith("Saisissez une température comme 37,6")
        await screenshot(app, "11-measure-manual-entry-error")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
        await type_into(measure.ids.manual_input, "38,4")
        await tap(measure.ids.manual_ok)
        assert sm.current == "review"
        review = screen(app, "review")
        assert review.ids.value.text == f"38,4{NBSP}°C"
        assert review.ids.source.text == f"Source{NBSP}: Saisie manuelle"
        assert review.ids.warnings.text == "Fièvre (≥ 38 °C)."
        await screenshot(app, "12-review-manual-fever")
        await tap(review.ids.save)
        await finish_session_by_taps(app)
        [measurement] = [m for m in runtime.store.measurements(app.models.saved.saved_session_id) if m["code"] == "8310-5"]
        assert (measurement["value"], measurement["source"]) == ("38.4", "manual")

        # later, a remark on the closed session: an addendum, queued for the server after the session
        saved = screen(app, "saved")
        await tap(saved.ids.addendum_open)
        await tap(saved.ids.addendum_save)
        assert saved.ids.addendum_error.text.startswith("Le texte de l'addendum")
        await type_into(saved.ids.addendum_text, "Médecin traitant joint par téléphone à 11 h.")
        await screenshot(app, "13-saved-addendum")
        await tap(saved.ids.addendum_save)
        assert saved.ids.addendum_done.text == "1 addendum enregistré pour cette séance."
        (addendum,) = runtime.store.addenda(app.models.saved.saved_session_id)
        assert addendum["text"] == "Médecin traitant joint par téléphone à 11 h."
        assert [e.addendum_id for e in outbox.entries(runtime.store)] == [None, addendum["id"]]


async def test_retry_after_an_error_measures_again(tmp_path):
    from mobile.runtime import set_scenario

    runtime = make_runtime(tmp_path, scenario="error")
    begin_session(runtime, DEMO)
    async with running_app(runtime, size=LANDSCAPE) as app:
        measure = screen(app, "measure")
        await tap(measure.ids.measure)
        await wait_for(lambda: app.models.measure.device_state == "error", timeout=15, what="the device error")
        await frames(2)
        set_scenario(runtime, "normal")  # e.g. the probe was cleaned
        await tap(measure.ids.retry)
        await wait_for(lambda: app.screen_manager.current == "review", timeout=15, what="the review screen")
        assert screen(app, "review").ids.value.text == f"37,60{NBSP}°C"
        assert app.models.measure.error is None


async def test_a_device_not_found_says_after_how_long_its_card_says_what_failed_and_spo2_is_typed_by_hand(tmp_path):
    """No oximeter answers: the error says after how many seconds the search stopped, the oximeter's card says what
    failed (not "not measured yet"), and SpO2 and pulse typed by hand go to review marked as typed by hand."""
    from devices.transport import DeviceNotFound

    runtime = make_runtime(tmp_path)
    begin_session(runtime, DEMO)

    async def no_oximeter(on_state, on_live):
        on_state("scanning")
        raise DeviceNotFound()

    runtime.workflow.measuring.readers["oximeter"] = no_oximeter
    async with running_app(runtime, size=LANDSCAPE) as app:
        measure = screen(app, "measure")
        await tap(measure.ids.card_oximeter)
        await tap(measure.ids.measure)
        await wait_for(lambda: app.models.measure.device_state == "error", timeout=15, what="the device error")
        await frames(3)
        assert measure.ids.error_text.text == ("Aucun appareil trouvé après 15 s : vérifiez que l'oxymètre est "
                                               "allumé et proche, puis reprenez, ou saisissez les valeurs à la main.")
        assert measure.ids.error_box.shown
        assert not measure.ids.retry.disabled and not measure.ids.manual_from_error.disabled
        assert measure.ids.card_oximeter.state_text == f"Échec{NBSP}: aucun appareil trouvé"
        assert measure.ids.card_thermometer.state_text == "Pas encore mesurée"
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
        await screenshot(app, "14-measure-oximeter-error")
        # typed by hand: SpO2 and pulse, a bad SpO2 refused with its own words
        await tap(measure.ids.manual_from_error)
        assert measure.ids.manual_box.shown and not measure.ids.error_box.shown
        assert (measure.ids.manual_label.text, measure.ids.manual_label2.text) == ("SpO2 (%)", "Pouls (/min)")
        assert measure.ids.manual_label3.text == ""
        await type_into(measure.ids.manual_input, "97,5")
        await tap(measure.ids.manual_ok)
        assert measure.ids.manual_error.text == "SpO2 : saisissez un nombre entier de %, par exemple 97."
        await type_into(measure.ids.manual_input, "97")
        await type_into(measure.ids.manual_input2, "72")
        await screenshot(app, "14b-measure-manual-spo2")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
        await tap(measure.ids.manual_ok)
        assert app.screen_manager.current == "review"
        review = screen(app, "review")
        assert (review.ids.value.text, review.ids.value_extra.text) == (f"SpO2 97{NBSP}%", "pouls 72/min")
        assert review.ids.source.text == f"Source{NBSP}: Saisie manuelle"
        # another device after a failure: the oximeter's error does not follow it
        await tap(review.ids.retake)
        await tap(measure.ids.card_thermometer)
        assert not measure.ids.error_box.shown and app.models.measure.error is None
        assert not measure.ids.manual.disabled and not measure.ids.measure.disabled


@pytest.mark.parametrize("lang, words", [
    ("fr", "Mesure impossible : le thermomètre s'est déconnecté avant la fin de la mesure. Vérifiez que le "
           "thermomètre est allumé et proche, puis reprenez, ou saisissez la valeur à la main."),
    ("en", "Measurement impossible: the thermometer disconnected before the end of the measurement. Check that the "
           "thermometer is on and close by, then measure again, or enter the value by hand."),
])
async def test_a_device_failure_is_worded_in_the_screen_language(tmp_path, lang, words):
    """The simulated thermometer drops the link mid-measurement: the device's code is worded by the app's catalog,
    in English with no French sentence in it, in French with today's French wording."""
    runtime = make_runtime(tmp_path, scenario="disconnect")
    begin_session(runtime, DEMO)
    async with running_app(runtime, size=LANDSCAPE, lang=lang) as app:
        measure = screen(app, "measure")
        await tap(measure.ids.measure)
        await wait_for(lambda: app.models.measure.device_state == "error", timeout=15, what="the device error")
        await frames(3)
        assert app.models.measure.error.params["reason"] == "device.link_lost"
        assert measure.ids.error_box.shown and measure.ids.error_text.text == words
        assert clipped_texts(app) == []
        await screenshot(app, f"15-measure-device-disconnected-{lang}")


BAD_BIRTH_DATES = [
    ("31/02/1940", "Date de naissance impossible : vérifiez le jour et le mois."),
    ("1940", "Date de naissance : saisissez-la sous la forme jj/mm/aaaa, par exemple 07/03/1941."),
    ("02/04/2099", "La date de naissance ne peut pas être dans le futur."),  # refused by the store
]


async def test_bad_birth_dates_are_refused_in_plain_french(tmp_path):
    """Each bad date typed in turn on the same form (one app start for the three), then the right one."""
    runtime = make_runtime(tmp_path)
    async with running_app(runtime, size=LANDSCAPE) as app:
        sm = app.screen_manager
        await tap(screen(app, "patient").ids.new_patient)
        form = screen(app, "patient_form")
        await type_into(form.ids.family, "Démo")
        await type_into(form.ids.given, "Jeanne")
        await type_into(form.ids.insee, "75056")
        await tap(next(b for b in form.ids.sex.children if b.value == "F"))
        for birth, message in BAD_BIRTH_DATES:
            await type_into(form.ids.birth, birth)
            await tap(form.ids.create)
            await frames(2)
            assert sm.current == "patient_form"
            assert form.ids.form_error.text == message, birth
            assert runtime.store.find_patients("") == []
            assert app.models.shell.step == "patient"
            if birth == "31/02/1940":
                await screenshot(app, "13-form-bad-date")
        # correcting the date clears the message and creates the patient
        await type_into(form.ids.birth, "02/04/1938")
        await tap(form.ids.create)
        await start_session_by_taps(app)
        assert sm.current == "measure"
        assert len(runtime.store.find_patients("")) == 1


async def test_missing_sex_is_refused(tmp_path):
    runtime = make_runtime(tmp_path)
    async with running_app(runtime, size=LANDSCAPE) as app:
        await tap(screen(app, "patient").ids.new_patient)
        form = screen(app, "patient_form")
        for key, value in (("family", "Démo"), ("given", "Jeanne"), ("birth", "02/04/1938"), ("insee", "75056")):
            await type_into(form.ids[key], value)
        await tap(form.ids.create)
        assert app.screen_manager.current == "patient_form"
        assert form.ids.form_error.text.startswith("Le sexe doit être F")
        await tap(form.ids.cancel)
        assert app.screen_manager.current == "patient"
        assert runtime.store.find_patients("") == []


async def test_portrait_layout(tmp_path):
    """800x1280: the form goes to one column and the measure screen stacks its instructions above the actions;
    the blood pressure review and the accepted value fit too."""
    runtime = make_runtime(tmp_path)
    async with running_app(runtime, size=PORTRAIT) as app:
        await tap(screen(app, "patient").ids.new_patient)
        form = screen(app, "patient_form")
        grid = form.ids.family.parent.parent
        assert grid.cols == 1
        await screenshot(app, "20-portrait-form")
        await type_into(form.ids.family, "Démo")
        await type_into(form.ids.given, "Jeanne")
        await type_into(form.ids.birth, "02041938")  # 8 digits from a numeric keypad are accepted too
        await type_into(form.ids.insee, "75056")
        await tap(next(b for b in form.ids.sex.children if b.value == "F"))
        await tap(form.ids.create)
        await start_session_by_taps(app)
        assert app.screen_manager.current == "measure"
        measure = screen(app, "measure")
        assert measure.ids.body.orientation == "vertical"
        await frames(3)  # the cards settle into their portrait height before being touched
        await tap(measure.ids.card_blood_pressure)
        assert app.models.measure.selected_kind == "blood_pressure"
        await screenshot(app, "21-portrait-measure")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
        runtime.simulated[2].speed = 20.0
        await tap(measure.ids.measure)
        await wait_for(lambda: app.screen_manager.current == "review", timeout=15, what="the review screen")
        review = screen(app, "review")
        assert review.ids.value.text == f"128/82{NBSP}mmHg"
        await screenshot(app, "22-portrait-review-blood-pressure")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
        await tap(review.ids.accept)
        assert app.screen_manager.current == "measure" and measure.ids.card_blood_pressure.done
        await tap(measure.ids.card_oximeter)
        await tap(measure.ids.measure)
        await wait_for(lambda: app.screen_manager.current == "review", timeout=15, what="the oximeter review")
        await tap(review.ids.accept)
        assert measure.ids.card_oximeter.done and not measure.ids.finish.disabled
        await screenshot(app, "23-portrait-measure-accepted")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
