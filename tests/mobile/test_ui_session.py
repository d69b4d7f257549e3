"""The guided session's own screens, by taps on the real app: first-run set-up, PIN sign-in, idle lock and unlock
keeping the session, consent refused, a probable duplicate, and a high NEWS2 with its instruction."""
from __future__ import annotations

import pytest

from tests.support.ui import clipped_texts, LANDSCAPE, PORTRAIT, begin_session, frames, make_runtime, running_app, screen, screenshot, \
    small_touch_targets, start_session_by_taps, tap, type_into, wait_for
from tests.support.workflow import PIN, set_up_tablet

pytestmark = pytest.mark.timeout(60)

DEMO = dict(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F", birth_place_insee="75056")


async def type_pin(app, pin: str) -> None:
    signin = screen(app, "signin")
    for digit in pin:
        await tap(signin.ids[f"key_{digit}"], settle=1)


async def test_first_run_sets_up_the_site_and_the_first_account(tmp_path):
    runtime = make_runtime(tmp_path, signed_in=False)
    async with running_app(runtime, size=LANDSCAPE) as app:
        assert app.screen_manager.current == "site_setup"
        setup = screen(app, "site_setup")
        await tap(next(b for b in setup.ids.kind.children if b.value == "pharmacie"))
        await type_into(setup.ids.site_name, "Pharmacie du Port")
        await type_into(setup.ids.staff_name, "Hugo Pharmacien")
        await tap(next(b for b in setup.ids.role.children if b.value == "pharmacien"))
        await type_into(setup.ids.pin, "12")
        await tap(setup.ids.save)
        assert setup.ids.error.text == "Le code PIN doit faire de 4 à 8 chiffres."
        await type_into(setup.ids.pin, "2580")  # the first account administers the tablet: six digits at least
        await tap(setup.ids.save)
        assert setup.ids.error.text == "Le code PIN d'un administrateur a de 6 à 8 chiffres."
        assert runtime.store.list_sites() == [] and runtime.store.list_staff() == []  # nothing half-made
        await type_into(setup.ids.pin, "258013")
        await screenshot(app, "40-site-setup")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
        await tap(setup.ids.save)
        await wait_for(lambda: app.screen_manager.current == "patient", what="the patient list")
        (site,) = runtime.store.list_sites()
        assert (site["kind"], site["name"]) == ("pharmacie", "Pharmacie du Port")
        (member,) = runtime.store.list_staff()
        assert member["role"] == "pharmacien" and member["pin_hash"].startswith("scrypt$")


async def test_pin_sign_in_then_idle_lock_keeps_the_session(tmp_path):
    runtime = make_runtime(tmp_path, signed_in=False)
    set_up_tablet(runtime.store)
    runtime.workflow.state.step = "signin"
    async with running_app(runtime, size=LANDSCAPE) as app:
        sm, signin = app.screen_manager, screen(app, "signin")
        assert sm.current == "signin" and signin.ids.title.text == "Qui êtes-vous\u00a0?"
        (button,) = signin.staff_buttons.values()
        assert button.text == "Camille Soignante\nAide-soignant·e"
        await tap(button)
        await type_pin(app, "1111")
        assert signin.ids.dots.text == "• • • •"
        await tap(signin.ids.ok)
        assert signin.ids.error.text == "Code PIN incorrect." and sm.current == "signin"
        await type_pin(app, PIN)
        await screenshot(app, "41-sign-in")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
        await tap(signin.ids.ok)
        assert sm.current == "patient"
        assert runtime.store.get_staff(button.staff_id)["pin_failures"] == 0

        begin_session(runtime, DEMO)
        await wait_for(lambda: sm.current == "measure", what="the measure screen")
        session = runtime.workflow.state.session_id
        runtime.workflow.context.last_activity -= runtime.workflow.idle_lock_seconds + 1  # nobody touched it for 2 min
        app.models.tick()
        await frames(2)
        assert sm.current == "signin" and app.models.shell.locked
        signin = screen(app, "signin")   # built afresh: the patient list dropped the session's screens
        assert signin.ids.title.text == "Tablette verrouillée\u00a0: identifiez-vous pour continuer"
        assert "DÉMO" not in signin.ids.title.text  # no patient name on a screen left alone in a corridor
        await screenshot(app, "42-locked")
        await tap(signin.staff_buttons[button.staff_id])
        await type_pin(app, PIN)
        await tap(signin.ids.ok)
        assert sm.current == "measure" and runtime.workflow.state.session_id == session
        assert screen(app, "measure").ids.banner.ids.banner_name.text == "DÉMO Jeanne"


async def test_consent_refused_by_taps_ends_the_session_with_a_notice(tmp_path):
    runtime = make_runtime(tmp_path)
    runtime.workflow.create_patient(**DEMO)
    async with running_app(runtime, size=LANDSCAPE) as app:
        start = screen(app, "session_start")
        assert app.screen_manager.current == "session_start"
        await tap(start.ids.consent_refused)
        assert start.ids.start.text == "Enregistrer le refus"
        await tap(start.ids.start)
        assert app.screen_manager.current == "patient"
        notice = screen(app, "patient").ids.notice
        assert notice.text.startswith("Consentement refusé")
        await screenshot(app, "43-consent-refused")
        (session,) = runtime.store.db.query("SELECT state FROM sessions")
        assert session["state"] == "abandoned" and runtime.store.outbox_counts()["pending"] == 0


async def test_a_probable_duplicate_is_shown_and_the_existing_patient_used(tmp_path):
    runtime = make_runtime(tmp_path)
    runtime.store.add_patient(**DEMO)
    async with running_app(runtime, size=PORTRAIT) as app:
        await tap(screen(app, "patient").ids.new_patient)
        form = screen(app, "patient_form")
        for key, value in (("family", "Demo"), ("given", "jeanne"), ("birth", "02/04/1938"), ("insee", "75056")):
            await type_into(form.ids[key], value)
        await tap(next(b for b in form.ids.sex.children if b.value == "F"))
        await tap(form.ids.create)
        assert app.screen_manager.current == "patient_form" and form.ids.duplicates_box.shown
        assert form.ids.duplicates_list.text.startswith("DÉMO Jeanne — Femme, née le 02/04/1938")
        await screenshot(app, "44-portrait-duplicate")
        await tap(form.ids.use_existing)
        await wait_for(lambda: app.screen_manager.current == "session_start", what="the session start")
        assert len(runtime.store.find_patients("")) == 1


async def test_a_high_news2_says_call_15(tmp_path):
    runtime = make_runtime(tmp_path)
    runtime.workflow.create_patient(**DEMO)
    async with running_app(runtime, size=LANDSCAPE) as app:
        await start_session_by_taps(app)
        runtime.workflow.enter_manual_temperature("39,6")
        runtime.workflow.finish_measurements()
        await wait_for(lambda: app.screen_manager.current == "vitals", what="the vitals screen")
        vitals = screen(app, "vitals")
        await type_into(vitals.ids.rr, "27")
        await tap(next(b for b in vitals.ids.acvpu.children if b.value == "V"))
        await tap(next(b for b in vitals.ids.oxygen.children if b.value == "yes"))
        await frames(2)
        # RR 3 + O2 2 + V 3 + 39.6 °C 2, SpO2 and blood pressure not measured: at least 10, high whatever comes
        assert vitals.ids.news2_total.text == "Score NEWS2\u00a0: au moins 10"
        assert vitals.ids.news2_band.text.startswith("Risque élevé")
        assert "appelez le 15" in vitals.ids.news2_advice.text
        assert "Fréquence respiratoire\u00a0: 3" in vitals.ids.news2_lines.text
        await screenshot(app, "45-news2-high")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
