"""The whole session driven by taps on the real app (RelaisApp.async_run on the test's loop), with the real store
and the simulated Bluetooth oximeter, blood pressure monitor and thermometer (all three in one session); no server, so the saved session waits in the outbox."""
from __future__ import annotations

import dataclasses

import pytest

from mobile.i18n import tr
from tests.support.ui import clipped_texts, LANDSCAPE, begin_session, finish_session_by_taps, frames, make_runtime, prepare, running_app, \
    screen, screenshot, small_touch_targets, start_session_by_taps, tap, type_into, wait_for

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
        assert clipped_texts(app) == []
        await tap(form.ids.create)
        assert sm.current == "session_start", app.models.patient_form.error
        start = screen(app, "session_start")
        assert start.ids.banner.ids.banner_name.text == "DÉMO Jeanne"  # the patient, on every session screen
        assert start.ids.start.disabled  # nothing happens before the consent is recorded
        await start_session_by_taps(app, shot="02b-session-start")
        assert sm.current == "measure"
        session = runtime.store.get_session(app.models.workflow.state.session_id)
        assert session["reason"] == "Fièvre" and session["checklist_room_closed"] == 1
        assert [c["decision"] for c in runtime.store.consents(session["id"])] == ["given"]
        [stored] = runtime.store.find_patients("02/04/1938")
        assert (stored["family_name"], stored["given_name"], stored["birth_date"], stored["sex"],
                stored["birth_place_insee"], stored["identity_status"]) == \
            ("Démo", "Jeanne", "1938-04-02", "F", "75056", "PROV")

        # -- the banner names the patient the readings will be attached to; three device cards -------------------
        measure = screen(app, "measure")
        assert measure.ids.banner.ids.banner_name.text == "DÉMO Jeanne"
        assert "née le 02/04/1938" in measure.ids.banner.ids.banner_details.text
        assert "Identité provisoire" in measure.ids.banner.ids.banner_details.text
        cards = {kind: measure.ids[f"card_{kind}"] for kind in ("oximeter", "blood_pressure", "thermometer")}
        assert [c.title for c in cards.values()] == ["Saturation (oxymètre)", "Tension artérielle", "Température"]
        assert all(c.state_text == "Pas encore mesurée" for c in cards.values())
        assert measure.ids.measure.text == "Mesurer la température"  # the thermometer is selected first
        assert measure.ids.finish.disabled  # nothing to save yet
        await screenshot(app, "03-measure")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []

        # -- oximeter: its instructions, measure, review, confirm ------------------------------------------------
        review = screen(app, "review")
        await tap(cards["oximeter"])
        assert app.models.measure.selected_kind == "oximeter" and cards["oximeter"].selected
        assert measure.ids.measure.text == "Mesurer la saturation"
        assert "sans vernis" in measure.ids.step1.text and "immobile" in measure.ids.step3.text
        assert measure.ids.manual.opacity and not measure.ids.manual.disabled  # typed by hand, for every device
        await tap(measure.ids.measure)
        await wait_for(lambda: sm.current == "review", timeout=15, what="the oximeter review")
        assert review.ids.value.text == f"SpO2 97{NBSP}%"
        assert review.ids.value_extra.text == "pouls 72/min"
        assert review.ids.review_title.text.startswith("Saturation en oxygène")
        # two distinct actions: the next device, or the end of the measurements
        assert (review.ids.accept.text, review.ids.save.text) == ("Appareil suivant", "Terminer les mesures")
        assert review.ids.remaining.text == f"Reste à mesurer{NBSP}: Tension artérielle, Température"
        await screenshot(app, "04-review-oximeter-next-or-finish")
        await tap(review.ids.accept)
        assert sm.current == "measure"
        assert app.models.measure.selected_kind == "blood_pressure"  # the next device to measure, chosen
        assert cards["oximeter"].done and cards["oximeter"].state_text.startswith(f"Validée{NBSP}: SpO2 97{NBSP}%")
        assert not measure.ids.finish.disabled
        assert runtime.store.outbox_counts()["pending"] == 0  # nothing stored before the end of the session

        # -- blood pressure: rest 5 minutes, cuff 2 cm above the elbow; the cuff pressure shows live ------------
        await tap(cards["blood_pressure"])
        assert "5 minutes" in measure.ids.step1.text
        assert "hauteur du cœur" in measure.ids.step2.text and f"2{NBSP}cm au-dessus du pli du coude" in measure.ids.step2.text
        runtime.simulated[2].speed = 20.0  # a real cuff takes ~40 s
        await tap(measure.ids.measure)
        await wait_for(lambda: measure.ids.live_value.text.startswith("Brassard"), timeout=15, what="the cuff pressure")
        await frames(2)
        assert cards["blood_pressure"].active and cards["blood_pressure"].state_text.startswith("Mesure en cours…\nBrassard")
        assert cards["thermometer"].disabled  # no other device while the cuff inflates
        await wait_for(lambda: sm.current == "review", timeout=15, what="the blood pressure review")
        assert review.ids.value.text == f"128/82{NBSP}mmHg"
        assert review.ids.source.text.startswith(f"Source{NBSP}: Tensiomètre Bluetooth")
        await screenshot(app, "04a-review-blood-pressure")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
        await tap(review.ids.accept)
        assert cards["blood_pressure"].state_text == f"Validée{NBSP}: 128/82{NBSP}mmHg\npouls 72/min"

        # -- temperature, slowed down so the in-progress state can be seen ------------------------------------------
        await tap(cards["thermometer"])
        thermometer = runtime.simulated[0]
        thermometer.scenario = dataclasses.replace(thermometer.scenario, measure_seconds=0.6)
        await tap(measure.ids.measure)
        await wait_for(lambda: measure.ids.live_value.text == f"36,8{NBSP}°C", timeout=15, what="the first live value")
        await frames(2)
        assert measure.ids.measure.disabled and measure.ids.measure.text == "Mesure en cours…"
        assert measure.ids.status.text == "Mesure en cours… prenez la température maintenant."
        assert measure.ids.live_value.text.endswith("°C")
        assert cards["thermometer"].state_text == f"Mesure en cours…\n{measure.ids.live_value.text}"
        assert measure.ids.finish.disabled  # not while measuring
        assert sm.current == "measure"
        await screenshot(app, "03b-measuring")
        await wait_for(lambda: sm.current == "review", timeout=15, what="the review screen")
        assert review.ids.value.text == f"37,60{NBSP}°C"
        assert review.ids.source.text.startswith("Source\u00a0: Thermomètre Bluetooth — Relais Thermo")
        assert review.ids.banner.ids.banner_name.text == "DÉMO Jeanne"
        assert [str(v.value) for v in app.models.measure.live_values] == ["37.3"]  # the last intermediate value was shown
        # the last device: nothing left to measure, so only "Finish the measurements" (and retake) remain
        assert review.ids.remaining.text == "Les trois appareils sont mesurés."
        assert review.ids.accept.disabled and not review.ids.accept.opacity
        await screenshot(app, "04-review")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
        assert runtime.store.outbox_counts()["pending"] == 0

        # -- finish: one session with the three values, queued for upload -----------------------------------------
        await tap(review.ids.save)
        await finish_session_by_taps(app, shots="04c")
        saved = screen(app, "saved")
        assert saved.ids.title.text == "Mesures enregistrées"
        assert saved.ids.summary.text == f"Enregistrées pour DÉMO Jeanne{NBSP}:"
        assert saved.ids.saved_list.text.split("\n") == [
            f"Saturation (oxymètre){NBSP}: SpO2 97{NBSP}% · pouls 72/min",
            f"Tension artérielle{NBSP}: 128/82{NBSP}mmHg · pouls 72/min",
            f"Température{NBSP}: 37,60{NBSP}°C"]
        await wait_for(lambda: topbar.sync_label.text == "Synchronisation\u00a0: 1 en attente",
                       what="the sync indicator")
        assert app.sync.level == "pending"
        assert topbar.session_label.text == "Dernière séance\u00a0: en attente d'envoi"
        assert saved.ids.upload_text.text.startswith("En attente d'envoi")
        counts = runtime.store.outbox_counts()
        assert counts["pending"] == 1 and counts["sent"] == 0
        stored = {m["code"]: m for m in runtime.store.measurements(app.models.saved.saved_session_id)}
        assert {"59408-5", "8480-6", "8462-4", "8310-5"} <= set(stored)
        assert (stored["8310-5"]["value"], stored["8310-5"]["unit"], stored["8310-5"]["source"]) == \
            ("37.60", "Cel", "bluetooth")
        assert stored["59408-5"]["value"] == "97"
        assert (stored["8480-6"]["value"], stored["8462-4"]["value"]) == ("128", "82")
        assert stored["8480-6"]["panel_id"] and stored["8480-6"]["panel_id"] == stored["8462-4"]["panel_id"]
        await screenshot(app, "05-saved")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []

        # -- next patient: back to the list, where she now appears -------------------------------------------------
        await tap(saved.ids.next_patient)
        assert sm.current == "patient"
        await frames(3)
        assert patients.ids.list_caption.text == "1 patient"
        await type_into(patients.ids.search, "02/04")
        assert [p["name"] for p in app.models.patient.patients] == ["DÉMO Jeanne"]
        await screenshot(app, "06-patients-search")
        assert small_touch_targets(app) == []
        assert clipped_texts(app) == []
        rows = [w for w in patients.ids.rv.children[0].children if getattr(w, "patient_id", "")]
        await tap(rows[0])
        await start_session_by_taps(app)
        assert sm.current == "measure"
        assert screen(app, "measure").ids.banner.ids.banner_name.text == "DÉMO Jeanne"
        assert app.models.review.values == () and app.models.measure.live_values == ()  # a new session starts empty
        assert app.models.measure.accepted == {} and screen(app, "measure").ids.finish.disabled


async def test_saved_session_turns_from_pending_to_synced_with_a_server(tmp_path):
    """With the development sync server running, the indicator follows the saved session until it is sent."""
    from mobile.runtime import AppRuntime, RuntimeConfig
    from sync.server.process import LocalServer

    with LocalServer(tmp_path / "server.db") as server:
        runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db", server_url=server.url,
                                           simulated_devices=True, sync_interval_seconds=30.0))
        prepare(runtime)
        begin_session(runtime, dict(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F",
                                    birth_place_insee="75056"))
        async with running_app(runtime, size=LANDSCAPE) as app:
            topbar = app.root.ids.topbar.ids
            saved = screen(app, "saved")
            await tap(screen(app, "measure").ids.measure)
            await wait_for(lambda: app.screen_manager.current == "review", timeout=15, what="the review screen")
            await tap(screen(app, "review").ids.save)
            await finish_session_by_taps(app)  # closing triggers an upload at once
            await wait_for(lambda: app.sync.session_state == "sent", timeout=15, what="the upload")
            await wait_for(lambda: topbar.sync_label.text == "Tout est synchronisé", what="the indicator")
            assert app.sync.level == "ok"
            assert topbar.session_label.text == "Dernière séance\u00a0: envoyée au serveur"
            assert saved.ids.upload_text.text == "Envoyée au serveur."
            await wait_for(lambda: topbar.last_sync_label.text.startswith("Dernière synchro"), what="the last sync")
            assert topbar.last_sync_label.text == "Dernière synchro\u00a0: " + \
                runtime.last_sync().astimezone().strftime("%H:%M")
            assert runtime.store.outbox_counts() == {"pending": 0, "in_flight": 0, "sent": 1, "rejected": 0}
            await screenshot(app, "07-saved-sent")


def refuse_report(store, session_id: str, reply: str) -> None:
    """The session's report frozen for its doctor and refused by the mail server, as the sender records it."""
    with store.transaction():
        store.conn.execute("INSERT INTO report_documents (id, session_id, set_id, version, pdf, cda, xdm, created_at)"
                           " VALUES ('d-1', ?, 's-1', 1, X'25', X'3C', X'50', ?)", [session_id, store.stamp()])
        store.conn.execute("INSERT INTO report_outbox (id, document_id, session_id, recipient_kind, recipient, "
                           "message_id, message, state, refusal, created_at) VALUES ('o-1', 'd-1', ?, 'gp', "
                           "'dr.odile@medecin.mssante.test', '<o-1@relais.test>', X'46', 'refused', ?, ?)",
                           [session_id, reply, store.stamp()])


async def test_a_refused_session_is_listed_with_the_servers_reason(tmp_path):
    """A server refusal (400 with an OperationOutcome), or a mail server's refusal of a report, turns the header
    red; a tap lists who and why."""
    from mobile.runtime import AppRuntime, RuntimeConfig
    from tests.support.http_stub import StubResponse, StubServer
    from tests.support.samples import closed_session

    outcome = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": "invalid", "diagnostics": "Patient.birthDate invalide"}]}
    with StubServer(StubResponse(400, outcome)) as stub:
        runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db", server_url=stub.url,
                                           simulated_devices=False, sync_interval_seconds=30.0))
        prepare(runtime)
        _, session_id, _ = closed_session(runtime.store, family_name="Refus", given_name="Odile")
        refuse_report(runtime.store, session_id, "550 5.1.1 Boîte inconnue")
        async with running_app(runtime, size=LANDSCAPE) as app:
            topbar = app.root.ids.topbar.ids
            runtime.trigger_sync()
            await wait_for(lambda: app.sync.rejected == 2, timeout=15, what="the refusals")
            await frames(2)
            assert topbar.sync_label.text == "2 envois refusés : à vérifier".replace(" :", "\u00a0:")
            await tap(topbar.sync_pill)
            panel = topbar.sync_pill.panel
            assert panel is not None
            await frames(3)
            text = panel.ids.rejected_text.text
            session_text, report_text = text.split("\n\n")
            assert session_text.startswith("REFUS Odile, séance du ") and \
                session_text.endswith("HTTP 400 : Patient.birthDate invalide")
            assert report_text.startswith("REFUS Odile, compte rendu de la séance du ") and report_text.endswith(
                "pour le médecin traitant (dr.odile@medecin.mssante.test) :\n"
                "refusé par la messagerie : 550 5.1.1 Boîte inconnue".replace(" :", "\u00a0:"))
            await screenshot(app, "08-sync-refused-panel")
            tr.switch_lang("en")  # the same list in English: the stored reason is a code, worded on display
            await frames(2)
            text = panel.ids.rejected_text.text
            assert text.startswith("REFUS Odile, session of ") and "HTTP 400: Patient.birthDate invalide\n\n" in text
            assert text.endswith("to the patient's own doctor (dr.odile@medecin.mssante.test):\n"
                                 "refused by the mail server: 550 5.1.1 Boîte inconnue")
            tr.switch_lang("fr")
            await frames(2)
            await tap(panel.ids.close)
            # on the PIN pad (locked, or nobody signed in) the list of refused sessions names nobody
            topbar_pill = topbar.sync_pill
            topbar_pill.panel = None
            runtime.workflow.lock()
            await wait_for(lambda: app.screen_manager.current == "signin", what="the PIN pad")
            await tap(topbar_pill)
            assert topbar_pill.panel is None
            assert app.sync.rejected == 2  # the header still says something needs checking


async def test_damage_found_by_the_scheduled_check_turns_the_header_red_and_says_to_call_support(tmp_path,
                                                                                                 monkeypatch):
    """The sync loop's weekly full check of the store found damage: it stopped syncing, and staff must know before
    they start another session (the data stay on the tablet as they are)."""
    from kivy.core.window import Window

    from mobile.runtime import AppRuntime, RuntimeConfig
    from mobile.screens import theme
    from sync.store import Store
    from sync.store.errors import StoreCorruptError
    from tests.support.http_stub import StubResponse, StubServer
    from tests.support.ui import PORTRAIT

    def damaged(self, now=None):
        raise StoreCorruptError("store.corrupt", detail="page 7: btree damaged")

    monkeypatch.setattr(Store, "check_integrity_if_due", damaged)
    with StubServer(StubResponse(500, {})) as stub:
        runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db", server_url=stub.url,
                                           simulated_devices=False, sync_interval_seconds=30.0))
        prepare(runtime)
        async with running_app(runtime, size=LANDSCAPE) as app:
            topbar = app.root.ids.topbar.ids
            runtime.trigger_sync()
            await wait_for(lambda: app.sync.damaged, timeout=15, what="the damage")
            await frames(2)
            assert app.sync.level == "damaged" and stub.requests == []   # nothing sent from a damaged store
            assert theme.SYNC_COLOURS[app.sync.level] == theme.DANGER
            assert topbar.sync_label.text == f"Stockage de la tablette endommagé{NBSP}: synchro arrêtée"
            assert topbar.last_sync_label.text == "Appelez l'assistance avant la prochaine séance"
            for lang, size in (("fr", LANDSCAPE), ("fr", PORTRAIT), ("en", LANDSCAPE), ("en", PORTRAIT)):
                tr.switch_lang(lang)
                Window.size = size
                await frames(4)
                await screenshot(app, f"09-store-damaged-{lang}-{'landscape' if size == LANDSCAPE else 'portrait'}")
                assert clipped_texts(app) == [], (lang, size)
            assert (topbar.sync_label.text, topbar.last_sync_label.text) == ("Storage damaged", "Call support")
            Window.size = LANDSCAPE
            await frames(4)
            assert topbar.sync_label.text == "Tablet storage damaged: sync stopped"
            assert topbar.last_sync_label.text == "Call support before the next session"
