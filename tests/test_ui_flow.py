"""The whole session driven by taps on the real app (RelaisApp.async_run on the test's loop), with the real store
and the simulated Bluetooth thermometer; no server, so the saved session waits in the outbox."""
from __future__ import annotations

import dataclasses

import pytest

from ui_helpers import LANDSCAPE, frames, make_runtime, running_app, screen, screenshot, small_touch_targets, tap, \
    type_into, wait_for

pytestmark = pytest.mark.timeout(60)

NBSP = "\u00a0"


async def test_full_session_by_taps(tmp_path):
    runtime = make_runtime(tmp_path)
    async with running_app(runtime, size=LANDSCAPE) as app:
        sm = app.screen_manager
        topbar = app.root.ids.topbar.ids
        assert sm.current == "patient"
        assert topbar.sync_label.text == "Tout est synchronisé"
        patients = screen(app, "patient")
        assert patients.ids.list_caption.text.startswith("Aucun patient")
        await screenshot(app, "01-patients-empty")

        # -- create the patient through the form ---------------------------------------------------------------
        await tap(patients.ids.new_patient)
        assert sm.current == "patient_form"
        form = screen(app, "patient_form")
        await type_into(form.ids.family, "Démo")
        await type_into(form.ids.given, "Jeanne")
        await type_into(form.ids.birth, "02/04/1938")
        await type_into(form.ids.insee, "75056")
        sex_f = next(b for b in form.ids.sex.children if b.value == "F")
        await tap(sex_f)
        assert form.ids.sex.selected == "F" and sex_f.selected
        assert form.ids.status.selected == "PROV"
        await screenshot(app, "02-new-patient-form")
        assert small_touch_targets(app) == []
        await tap(form.ids.create)

        assert sm.current == "measure", app.adapter.form_error
        [stored] = runtime.store.find_patients("02/04/1938")
        assert (stored["family_name"], stored["given_name"], stored["birth_date"], stored["sex"],
                stored["birth_place_insee"], stored["identity_status"]) == \
            ("Démo", "Jeanne", "1938-04-02", "F", "75056", "PROV")

        # -- the banner names the patient the reading will be attached to ----------------------------------------
        measure = screen(app, "measure")
        assert measure.ids.banner.ids.banner_name.text == "DÉMO Jeanne"
        assert "née le 02/04/1938" in measure.ids.banner.ids.banner_details.text
        assert "Identité provisoire" in measure.ids.banner.ids.banner_details.text
        assert measure.ids.measure.text == "Mesurer la température"
        await screenshot(app, "03-measure")
        assert small_touch_targets(app) == []

        # -- measure over (simulated) Bluetooth; slowed down so the in-progress state can be seen ---------------
        thermometer = runtime.simulated[0]
        thermometer.scenario = dataclasses.replace(thermometer.scenario, measure_seconds=0.6)
        await tap(measure.ids.measure)
        await wait_for(lambda: app.adapter.live_value == f"36,8{NBSP}°C", timeout=15, what="the first live value")
        await frames(2)
        assert measure.ids.measure.disabled and measure.ids.measure.text == "Mesure en cours…"
        assert measure.ids.status.text == "Mesure en cours… prenez la température maintenant."
        assert measure.ids.live_value.text == f"36,8{NBSP}°C"
        assert sm.current == "measure"
        await screenshot(app, "03b-measuring")
        await wait_for(lambda: sm.current == "review", timeout=15, what="the review screen")
        review = screen(app, "review")
        assert review.ids.value.text == f"37,60{NBSP}°C"
        assert review.ids.source.text.startswith("Source\u00a0: Thermomètre Bluetooth — Relais Thermo")
        assert review.ids.banner.ids.banner_name.text == "DÉMO Jeanne"
        assert app.adapter.live_value == f"37,3{NBSP}°C"  # the last intermediate value was shown while measuring
        assert runtime.store.outbox_counts()["pending"] == 0  # nothing saved before staff confirm
        await screenshot(app, "04-review")
        assert small_touch_targets(app) == []

        # -- confirm: saved, queued for upload --------------------------------------------------------------------
        await tap(review.ids.save)
        await wait_for(lambda: sm.current == "saved", what="the saved screen")
        saved = screen(app, "saved")
        assert saved.ids.summary.text == f"Température 37,60{NBSP}°C enregistrée pour DÉMO Jeanne."
        await wait_for(lambda: topbar.sync_label.text == "Synchronisation\u00a0: 1 en attente",
                       what="the sync indicator")
        assert app.sync.level == "pending"
        assert topbar.session_label.text == "Dernière séance\u00a0: en attente d'envoi"
        assert saved.ids.upload_text.text.startswith("En attente d'envoi")
        counts = runtime.store.outbox_counts()
        assert counts["pending"] == 1 and counts["sent"] == 0
        [measurement] = runtime.store.measurements(app.adapter.saved_session_id)
        assert (measurement["value"], measurement["unit"], measurement["source"]) == ("37.60", "Cel", "bluetooth")
        await screenshot(app, "05-saved")
        assert small_touch_targets(app) == []

        # -- next patient: back to the list, where she now appears -------------------------------------------------
        await tap(saved.ids.next_patient)
        assert sm.current == "patient"
        await frames(3)
        assert patients.ids.list_caption.text == "1 patient"
        await type_into(patients.ids.search, "02/04")
        assert [p["name"] for p in app.adapter.patients] == ["DÉMO Jeanne"]
        await screenshot(app, "06-patients-search")
        assert small_touch_targets(app) == []
        rows = [w for w in patients.ids.rv.children[0].children if getattr(w, "patient_id", "")]
        await tap(rows[0])
        assert sm.current == "measure"
        assert screen(app, "measure").ids.banner.ids.banner_name.text == "DÉMO Jeanne"
        assert app.adapter.value_text == "" and app.adapter.live_value == ""  # a new session starts empty


async def test_saved_session_turns_from_pending_to_synced_with_a_server(tmp_path):
    """With the development sync server running, the indicator follows the saved session until it is sent."""
    from mobile.runtime import AppRuntime, RuntimeConfig
    from sync.devserver import LocalServer

    with LocalServer(tmp_path / "server.db") as server:
        runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db", server_url=server.url,
                                           simulated_devices=True, sync_interval_seconds=30.0))
        runtime.workflow.create_patient(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02",
                                        sex="F", birth_place_insee="75056")
        async with running_app(runtime, size=LANDSCAPE) as app:
            topbar = app.root.ids.topbar.ids
            saved = screen(app, "saved")
            await tap(screen(app, "measure").ids.measure)
            await wait_for(lambda: app.screen_manager.current == "review", timeout=15, what="the review screen")
            await tap(screen(app, "review").ids.save)  # saving triggers an upload at once
            await wait_for(lambda: app.sync.session_state == "sent", timeout=15, what="the upload")
            await wait_for(lambda: topbar.sync_label.text == "Tout est synchronisé", what="the indicator")
            assert app.sync.level == "ok"
            assert topbar.session_label.text == "Dernière séance\u00a0: envoyée au serveur"
            assert saved.ids.upload_text.text == "Envoyée au serveur."
            assert runtime.store.outbox_counts() == {"pending": 0, "in_flight": 0, "sent": 1, "rejected": 0}
            await screenshot(app, "07-saved-sent")
