"""The report's recipients through the real app (offscreen Kivy, real store, an imported directory): the Mon espace
santé question at consent for a qualified identity, the summary's directory search and chosen doctor, the close
recording the doctor and the patient's MES box, the saved screen's delivery states (waiting, then sent and refused
as the mail sender writes them) and the PDF copy; the next session prefilled, with the patient opposed to MES.
Each screen is shot in French and English, landscape and portrait, and checked for clipped text."""
from __future__ import annotations

import datetime as dt

import pytest
from kivy.core.window import Window

from mobile.i18n import tr
from mobile.screens import theme
from sync.delivery import freeze
from sync.delivery.annuaire import import_directory
from tests.support.directory import write_extraction
from tests.support.ui import (LANDSCAPE, PORTRAIT, clipped_texts, frames, make_runtime, running_app, screen,
                              screenshot, tap, type_into, wait_for)

pytestmark = pytest.mark.timeout(90)

INS = "238047505612394"  # fictitious (born 1938-04 in Paris), valid key
QUALIFIED = dict(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F", birth_place_insee="75056",
                 identity_status="QUAL", ins=INS, identity_document="CN")
GP_ADDRESS = "claire.martin@medecin.mssante.fr"
MES_ADDRESS = f"{INS}@patient.mssante.fr"


async def shoot_everywhere(app, name: str) -> None:
    """The current screen in both languages and both orientations, each checked for clipped text."""
    for lang, size in (("fr", LANDSCAPE), ("fr", PORTRAIT), ("en", PORTRAIT), ("en", LANDSCAPE)):
        tr.switch_lang(lang)
        Window.size = size
        await frames(4)
        try:  # a turned window may take a few more frames to lay the top bar out again on a loaded machine
            await wait_for(lambda: clipped_texts(app) == [], timeout=3, what="the layout to settle")
        except AssertionError:
            pass
        await screenshot(app, f"recipients-{name}-{lang}-{'landscape' if size == LANDSCAPE else 'portrait'}")
        assert clipped_texts(app) == [], (name, lang, size)
    tr.switch_lang("fr")
    Window.size = LANDSCAPE
    await frames(4)


async def to_summary(wf) -> None:
    """Measurements, vitals and the call in plain Python: this file is about what comes after."""
    wf.enter_manual_temperature("37.2")
    wf.accept()
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="16", consciousness="A", on_oxygen=False)
    wf.start_call(doctor_name="Dr Marc Téléconsultant")
    wf.end_call(conclusion="Pas de signe de gravité.", orientation="stay")


def queue_delivery(store, session_id: str) -> None:
    """What the mail sender writes for the report frozen at close: the doctor's message accepted, the patient's
    refused."""
    document_id = freeze.latest_document(store, session_id)["id"]
    with store.transaction():
        rows = [("o-gp", "gp", GP_ADDRESS, "sent", None, "2026-11-22T09:42:00+00:00"),
                ("o-mes", "patient", MES_ADDRESS, "refused", "550 5.1.1 Boîte inconnue", None)]
        for outbox_id, kind, address, state, refusal, sent_at in rows:
            store.conn.execute(
                "INSERT INTO report_outbox (id, document_id, session_id, recipient_kind, recipient, message_id, "
                "message, state, refusal, sent_at, created_at) VALUES (?, ?, ?, ?, ?, ?, X'46', ?, ?, ?, 'now')",
                [outbox_id, document_id, session_id, kind, address, f"<{outbox_id}@relais.test>", state, refusal, sent_at])


async def test_recipients_from_consent_to_delivery(tmp_path):
    runtime = make_runtime(tmp_path)
    store, wf = runtime.store, runtime.workflow
    import_directory(store, write_extraction(tmp_path))
    opened = []
    wf.recipients.opener = opened.append
    patient_id = store.add_patient(**QUALIFIED)
    wf.select_patient(patient_id)
    async with running_app(runtime, size=LANDSCAPE) as app:
        sm = app.screen_manager
        # -- consent: the MES question appears once consent is given, none chosen, required ------------------------
        start = screen(app, "session_start")
        await wait_for(lambda: sm.current == "session_start", what="the session start screen")
        assert start.ids.mes_block.height == 0
        await tap(start.ids.consent_given)
        await frames(2)
        assert start.ids.mes_block.height > 0 and start.ids.mes.selected == ""
        assert start.ids.mes_question.text == ("Le patient s'oppose-t-il à recevoir ce compte rendu dans sa "
                                               "messagerie Mon espace santé ?")
        chips = [w for w in start.walk() if type(w).__name__ == "ReasonChip"]
        await tap(chips[0])
        for key in ("room_closed", "device_hygiene", "accessibility"):
            await tap(start.ids[key])
        await tap(start.ids.start)
        assert sm.current == "session_start"
        assert "Mon espace santé" in start.ids.error.text
        await tap(start.ids.mes_accepted)
        await shoot_everywhere(app, "session-start")
        await tap(start.ids.start)
        await wait_for(lambda: sm.current == "measure", what="the measure screen")
        assert store.consents(wf.state.session_id)[-1]["mes_opposed"] == 0

        # -- summary: search the directory, tap a result; the MES line; not configured said plainly ----------------
        await to_summary(wf)
        await wait_for(lambda: sm.current == "summary", what="the summary screen")
        summary = screen(app, "summary")
        assert summary.ids.gp_line.text == "Aucun médecin choisi pour l'instant."
        assert summary.ids.mes_line.text == "Copie dans Mon espace santé du patient : oui"
        assert "n'est pas configurée sur cette tablette" in summary.ids.not_configured.text
        await type_into(summary.ids.search, "martin")
        await frames(2)
        rows = list(reversed(summary.ids.results.children))
        assert [r.title for r in rows] == ["Claire MARTIN — Médecin, Médecine générale",
                                           "Paul MARTINEZ — Médecin, Médecine générale"]
        assert rows[0].detail == f"69003 LYON · {GP_ADDRESS}"
        await shoot_everywhere(app, "summary-search")
        await tap(list(reversed(summary.ids.results.children))[0])
        assert summary.ids.gp_line.text == f"Compte rendu envoyé à : Claire MARTIN — LYON — {GP_ADDRESS}"
        await type_into(summary.ids.typed_address, "claire martin@medecin")   # checked as it is typed
        assert "un seul @" in summary.ids.address_error.text
        await type_into(summary.ids.typed_address, "")
        assert summary.ids.address_error.text == ""
        await tap(summary.ids.close)
        await wait_for(lambda: sm.current == "saved", what="the saved screen")
        session_id = app.models.saved.saved_session_id
        assert [(r["kind"], r["address"]) for r in store.report_recipients(session_id)] == [
            ("gp", GP_ADDRESS), ("patient", MES_ADDRESS)]
        assert store.patient_gp(patient_id)["address"] == GP_ADDRESS

        # -- saved: waiting, then sent and refused as the sender records them; a late recipient waits --------------
        saved = screen(app, "saved")
        await frames(2)
        lines = [w.text for w in reversed(saved.ids.delivery_list.children)]
        assert lines == ["Médecin traitant (Claire MARTIN)\nEn attente d'envoi — messagerie sécurisée non "
                         "configurée sur cette tablette",
                         f"Patient (Mon espace santé) ({MES_ADDRESS})\nEn attente d'envoi — messagerie sécurisée "
                         f"non configurée sur cette tablette"]
        store.set_setting("mssante_from", "relais@ehpad-tilleuls.mssante.fr")
        queue_delivery(store, session_id)
        store.add_report_recipient(session_id, kind="gp", address="remplacant@medecin.mssante.fr",
                                   name="Dr Remplaçant")
        await wait_for(lambda: len(saved.ids.delivery_list.children) == 3, timeout=5, what="the refreshed states")
        labels = list(reversed(saved.ids.delivery_list.children))   # the doctors first, then the patient
        sent_at = dt.datetime(2026, 11, 22, 9, 42, tzinfo=dt.timezone.utc).astimezone().strftime("%H:%M")
        assert labels[0].text == f"Médecin traitant (Claire MARTIN)\nEnvoyé à {sent_at} (accepté par la messagerie)"
        assert labels[1].text == "Médecin traitant (Dr Remplaçant)\nEn attente d'envoi"
        assert labels[2].text == f"Patient (Mon espace santé) ({MES_ADDRESS})\nRefusé : 550 5.1.1 Boîte inconnue"
        assert list(labels[2].color) == list(theme.DANGER_TEXT) and list(labels[1].color) == list(theme.TEXT)
        await shoot_everywhere(app, "saved-delivery")

        # -- the PDF copy: written to the private print folder, opened, said where --------------------------------
        await tap(saved.ids.pdf_copy)
        assert len(opened) == 1 and opened[0].read_bytes() == freeze.latest_document(store, session_id)["pdf"]
        assert str(opened[0]) in saved.ids.pdf_note.text and "supprimée" in saved.ids.pdf_note.text

        # -- the next session for this patient: the doctor prefilled; opposed, so no MES copy ----------------------
        await tap(saved.ids.next_patient)
        wf.select_patient(patient_id)
        wf.start_session(reason="Contrôle", consent="given", room_closed=True, device_hygiene=True,
                         accessibility=True, mes_opposed=True)
        await to_summary(wf)
        await wait_for(lambda: sm.current == "summary", what="the second summary")
        await frames(2)
        summary = screen(app, "summary")   # built afresh: the patient list dropped the last session's screens
        assert summary.ids.gp_line.text == f"Compte rendu envoyé à : Claire MARTIN — LYON — {GP_ADDRESS}"
        assert summary.ids.mes_line.text == "Copie dans Mon espace santé du patient : non (le patient s'y oppose)"
        assert summary.ids.not_configured.text == ""
        await tap(summary.ids.close)
        await wait_for(lambda: sm.current == "saved", what="the second saved screen")
        second = app.models.saved.saved_session_id
        assert [r["kind"] for r in store.report_recipients(second)] == ["gp"]
