"""Correcting a resident's record by taps on the real app (offscreen Kivy, real store, one app for the whole file):
"Modifier" on a resident of the list opens the resident form filled with the record, no session opened; the room
and usual name saved come back as "Fiche mise à jour : chambre, nom utilisé" on the list; traits that match another
resident show the probable-duplicate warning, and cancelling changes nothing; a provisional identity is validated
with the document checked; a qualified identity's traits are read-only, with the reason. The form is shot in French
and English, landscape and portrait, for a provisional and a qualified resident, and checked for clipped text and
small touch targets."""
from __future__ import annotations

import pytest
from kivy.core.window import Window

from mobile.i18n import tr
from tests.support.ui import (LANDSCAPE, PORTRAIT, clipped_texts, frames, make_runtime, running_app, screen,
                              screenshot, small_touch_targets, tap, type_into, wait_for)
from tests.support.workflow import DEMO

pytestmark = pytest.mark.timeout(150)

INS = "235047505612347"  # fictitious (born 1935-04 in Paris), valid key
QUALIFIED = dict(family_name="Démo-Tilleul", given_name="Lucette", birth_date="1935-04-02", sex="F",
                 birth_place_insee="75056")
MARTIN = dict(family_name="MARTIN", given_name="Germaine", birth_date="1934-05-06", sex="F",
              birth_place_insee="69123")
ALL = (("fr", LANDSCAPE), ("fr", PORTRAIT), ("en", PORTRAIT), ("en", LANDSCAPE))


async def shoot_everywhere(app, name: str) -> None:
    """The current screen in both languages and both orientations, each checked for clipped text."""
    for lang, size in ALL:
        tr.switch_lang(lang)
        Window.size = size
        await frames(4)
        try:
            await wait_for(lambda: clipped_texts(app) == [], timeout=3, what="the layout to settle")
        except AssertionError:
            pass
        await screenshot(app, f"patient-edit-{name}-{lang}-{'landscape' if size == LANDSCAPE else 'portrait'}")
        assert clipped_texts(app) == [], (name, lang, size)
        assert small_touch_targets(app) == [], (name, lang, size)
    tr.switch_lang("fr")
    Window.size = LANDSCAPE
    await frames(4)


async def open_edit(app, patient_id: str):
    """Tap "Modifier" on the resident's row; the form opens filled with the record."""
    sm = app.screen_manager
    await wait_for(lambda: sm.current == "patient", what="the patient list")
    await frames(3)
    rows = [w for w in screen(app, "patient").walk() if type(w).__name__ == "PatientRow" and w.patient_id == patient_id]
    assert rows, "the resident is not in the list"
    await tap(next(w for w in rows[0].walk(restrict=True) if getattr(w, "text", None) == tr._("Edit")))
    await wait_for(lambda: sm.current == "patient_form", what="the resident form")
    await frames(3)
    return screen(app, "patient_form")


async def save(app, form) -> None:
    await tap(form.ids.create)
    await wait_for(lambda: app.screen_manager.current == "patient", what="back to the patient list")
    await frames(2)


async def test_staff_correct_a_resident_by_taps(tmp_path):
    runtime = make_runtime(tmp_path)
    store, wf = runtime.store, runtime.workflow
    provisional = store.add_patient(**DEMO, room="12")
    qualified = store.add_patient(**QUALIFIED, identity_status="QUAL", ins=INS, room="3")
    martin = store.add_patient(**MARTIN)
    async with running_app(runtime, size=LANDSCAPE) as app:
        form = await open_edit(app, provisional)
        ids = form.ids
        assert (ids.family.text, ids.birth.text, ids.room.text, ids.sex.selected, ids.status.selected) == \
            ("DÉMO", "02/04/1938", "12", "F", "PROV")
        assert ids.title.text == "Corriger la fiche du résident" and ids.create.text == "Enregistrer les modifications"
        assert not ids.family.disabled and not ids.locked_box.shown and ids.reliability_box.shown
        assert wf.state.session_id is None and wf.open_sessions() == []
        await shoot_everywhere(app, "provisional")

        # the room and the usual name
        await type_into(ids.room, "14 B")
        await type_into(ids.usual, "Martin")
        await save(app, form)
        assert screen(app, "patient").ids.edit_saved.text == "Fiche mise à jour : chambre, nom utilisé"
        record = store.get_patient(provisional)
        assert (record["room"], record["usual_name"]) == ("14 B", "Martin")
        assert store.query("SELECT count(*) AS n FROM sessions")[0]["n"] == 0

        # traits that match another resident: the warning, then cancel changes nothing
        form = await open_edit(app, provisional)
        ids = form.ids   # the form is built afresh: the patient list dropped the screens it left
        await type_into(ids.family, "MARTIN")
        await type_into(ids.given, "Germaine")
        await type_into(ids.birth, "06/05/1934")
        await wait_for(lambda: ids.duplicates_box.shown, what="the probable-duplicate warning")
        assert [d["patient_id"] for d in form.vm.duplicates] == [martin]
        assert ids.use_existing.opacity == 0 and ids.create_anyway.text == "Enregistrer quand même"
        await screenshot(app, "patient-edit-duplicate-fr-landscape")
        assert clipped_texts(app) == [] and small_touch_targets(app) == []
        await tap(ids.cancel)
        await wait_for(lambda: app.screen_manager.current == "patient", what="back to the patient list")
        assert store.get_patient(provisional) == record

        # validated against a document checked
        form = await open_edit(app, provisional)
        ids = form.ids
        await tap(next(b for b in ids.status.children if b.value == "VALI"))
        await tap(next(b for b in form.walk() if type(b).__name__ == "DocumentButton" and b.value == "LECV"))
        await save(app, form)
        record = store.get_patient(provisional)
        assert (record["identity_status"], record["identity_document"]) == ("VALI", "LECV")
        assert screen(app, "patient").ids.edit_saved.text == "Fiche mise à jour : statut de l'identité"

        # a qualified identity: the traits read-only, with the reason; its room still changes
        form = await open_edit(app, qualified)
        ids = form.ids
        assert ids.family.disabled and ids.birth.disabled and ids.sex.disabled and not ids.room.disabled
        assert ids.locked_box.shown and not ids.reliability_box.shown
        assert "téléservice national INSi" in ids.locked_reason.text
        await shoot_everywhere(app, "qualified")
        await type_into(ids.room, "5")
        await save(app, form)
        assert store.get_patient(qualified)["room"] == "5"
        assert store.get_patient(qualified)["family_name"] == "Démo-Tilleul"
        assert screen(app, "patient").ids.edit_saved.text == "Fiche mise à jour : chambre"
        await screenshot(app, "patient-edit-saved-fr-landscape")
        assert clipped_texts(app) == [] and small_touch_targets(app) == []
        Window.size = PORTRAIT
        await frames(4)
        await screenshot(app, "patient-edit-saved-fr-portrait")
        assert clipped_texts(app) == [] and small_touch_targets(app) == []
        Window.size = LANDSCAPE
