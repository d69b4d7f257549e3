"""Identity on the real app, driven by taps offscreen: the probable-duplicate warning follows what is typed and
each "use this patient" opens the match it names; the form's status rules (Provisoire / Validée with the document
checked, a word on INSi), the usual name and room, labels that stay above filled fields; and the banner, which
shows a very long name whole (wrapped or smaller, never cut), age, room and the status in words, in portrait and
landscape, on the measure, vitals and call screens."""
from __future__ import annotations

import pytest

from tests.support.ui import LANDSCAPE, PORTRAIT, begin_session, clipped_texts, frames, make_runtime, running_app, \
    screen, screenshot, small_touch_targets, tap, type_into, wait_for

pytestmark = pytest.mark.timeout(90)

MARTIN = dict(family_name="MARTIN", given_name="Germaine", birth_date="1934-05-06", sex="F",
              birth_place_insee="69123")
LONG = dict(family_name="LEFEBVRE-DUCHEMIN DE LA TOUR-D'AUVERGNE", given_name="Marie-Bernadette-Joséphine",
            birth_date="1934-05-06", sex="F", birth_place_insee="63113", room="Aile B, chambre 214, lit 2")


def _shown(form) -> bool:
    return form.ids.duplicates_box.shown and form.ids.duplicates_box.height > 0


async def _fill(form, **fields) -> None:
    for key, value in fields.items():
        await type_into(form.ids[key], value)


async def test_the_duplicate_warning_follows_the_form_and_names_the_match_it_opens(tmp_path):
    runtime = make_runtime(tmp_path)
    germaine = runtime.store.add_patient(**MARTIN, room="12")
    ginette = runtime.store.add_patient(**{**MARTIN, "given_name": "Ginette"})
    async with running_app(runtime, size=PORTRAIT) as app:
        await screenshot(app, "identity-patient-list-portrait-fr")
        await tap(screen(app, "patient").ids.new_patient)
        form, vm = screen(app, "patient_form"), app.models.patient_form
        assert not _shown(form)
        await _fill(form, family="Martin", given="Germaine", birth="06/05/1934")
        await wait_for(lambda: _shown(form), what="the duplicate warning")
        assert form.ids.duplicates_list.text.splitlines()[0].startswith(
            "MARTIN Germaine — Femme, née le 06/05/1934 — Chambre 12")
        assert form.ids.use_existing.text == "Utiliser ce patient : MARTIN Germaine"
        actions = [b.text for b in reversed(form.ids.duplicate_actions.children)]
        assert actions == ["Utiliser ce patient : MARTIN Germaine", "Utiliser ce patient : MARTIN Ginette",
                           "Créer quand même"]
        await screenshot(app, "identity-duplicate-two-matches-portrait-fr")

        await _fill(form, family="DURAND")        # the given name still matches Germaine, born the same day
        await frames(2)
        assert [d["patient_id"] for d in vm.duplicates] == [germaine]
        assert form.ids.use_existing.text == "Utiliser ce patient : MARTIN Germaine"
        assert [b.text for b in reversed(form.ids.duplicate_actions.children)] == [
            "Utiliser ce patient : MARTIN Germaine", "Créer quand même"]
        await _fill(form, given="Paul")           # DURAND Paul: nobody like him here
        await frames(2)
        assert not _shown(form) and vm.duplicates == [] and form.ids.use_existing.text == ""
        await screenshot(app, "identity-duplicate-gone-portrait-fr")
        assert not vm.use_patient(germaine)       # a stale choice opens nobody

        await _fill(form, given="Ginette")        # DURAND Ginette, born the same day as MARTIN Ginette
        await wait_for(lambda: _shown(form), what="the warning again")
        assert form.ids.use_existing.text == "Utiliser ce patient : MARTIN Ginette"  # the match shown, not the old one
        await tap(form.ids.use_existing)
        await wait_for(lambda: app.screen_manager.current == "session_start", what="the session start")
        assert runtime.workflow.state.patient["id"] == ginette
        assert len(runtime.store.find_patients("")) == 2


@pytest.mark.parametrize("size,lang", [(LANDSCAPE, "fr"), (PORTRAIT, "en")], ids=["landscape-fr", "portrait-en"])
async def test_the_form_offers_only_what_staff_may_set_by_hand(tmp_path, size, lang):
    runtime = make_runtime(tmp_path)
    runtime.store.add_patient(**MARTIN)
    tag = f"{'landscape' if size == LANDSCAPE else 'portrait'}-{lang}"
    async with running_app(runtime, size=size, lang=lang) as app:
        await tap(screen(app, "patient").ids.new_patient)
        form = screen(app, "patient_form")
        assert [b.value for b in reversed(form.ids.status.children)] == ["PROV", "VALI"]
        assert "ins" not in form.ids  # no INS typed by hand
        assert not form.ids.document_box.shown
        note = form.ids.status_note.text
        assert ("téléservice national INSi, que la tablette ne peut pas joindre" in note if lang == "fr"
                else "INSi teleservice, which this tablet cannot reach" in note)
        await screenshot(app, f"identity-form-empty-{tag}")

        await _fill(form, family="Martin", usual="Lefort", given="Germaine", birth="06/05/1934", insee="69123",
                    room="12")
        await tap(next(b for b in form.ids.sex.children if b.value == "F"))
        await wait_for(lambda: _shown(form), what="the duplicate warning")
        await screenshot(app, f"identity-form-duplicate-{tag}")
        await _fill(form, family="Durand", given="Paul")
        await tap(next(b for b in form.ids.sex.children if b.value == "M"))
        await wait_for(lambda: not _shown(form), what="the warning gone")
        for key in ("family", "usual", "given", "birth", "insee", "room"):  # labels stay above filled fields
            label, field = form.ids[f"{key}_label"], form.ids[key]
            assert field.text and label.text and label.opacity == 1 and label.height > 0
            assert label.y >= field.top - 1 and abs(label.x - field.x) < 2
        await screenshot(app, f"identity-form-filled-{tag}")

        await tap(next(b for b in form.ids.status.children if b.value == "VALI"))
        await frames(3)
        assert form.ids.document_box.shown and form.ids.nursing_home_documents.shown  # an EHPAD tablet
        await screenshot(app, f"identity-form-validated-documents-{tag}")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
        await tap(form.ids.create)
        await frames(2)
        assert app.screen_manager.current == "patient_form"
        assert app.models.patient_form.error.code == "patient.identity_document.missing"
        documents = {b.value: b for b in form.ids.documents.children}
        await tap(documents["CN"])
        assert documents["CN"].selected and form.document == "CN"
        await tap(form.ids.create)
        await wait_for(lambda: app.screen_manager.current == "session_start", what="the session start")
        [stored] = runtime.store.find_patients("durand paul")
        assert (stored["identity_status"], stored["identity_document"], stored["usual_name"], stored["room"],
                stored["ins"]) == ("VALI", "CN", "Lefort", "12", None)
        banner = screen(app, "session_start").ids.banner.ids
        await screenshot(app, f"identity-banner-usual-name-session-start-{tag}")
        if lang == "fr":
            assert banner.banner_name.text == "LEFORT Paul, né DURAND"
            assert "Chambre 12" in banner.banner_details.text and "Identité validée" in banner.banner_details.text
        else:
            assert banner.banner_name.text == "LEFORT Paul, né DURAND"
            assert "Room 12" in banner.banner_details.text and "Validated identity" in banner.banner_details.text


def _assert_banner_whole(banner, name: str) -> None:
    from kivy.core.text import Label as CoreLabel

    label = banner.ids.banner_name
    assert label.text == name and not label.shorten
    assert label.texture_size[0] <= label.width + 1 and label.texture_size[1] <= label.height + 1
    one_line = CoreLabel(text="Ag", font_size=label.font_size, bold=True)
    one_line.refresh()
    assert label.texture_size[1] <= 2 * one_line.texture.size[1] + 1  # two lines at most
    details = banner.ids.banner_details
    assert details.texture_size[1] <= details.height + 1
    for part in (label, details):
        assert banner.y - 1 <= part.y and part.top <= banner.top + 1


@pytest.mark.parametrize("size,lang", [(PORTRAIT, "fr"), (LANDSCAPE, "en")], ids=["portrait-fr", "landscape-en"])
async def test_a_very_long_name_is_whole_in_the_banner_of_every_clinical_screen(tmp_path, size, lang):
    from mobile.screens.texts import age_years

    runtime = make_runtime(tmp_path)
    begin_session(runtime, LONG)
    wf = runtime.workflow
    tag = f"{'landscape' if size == LANDSCAPE else 'portrait'}-{lang}"
    full = "LEFEBVRE-DUCHEMIN DE LA TOUR-D'AUVERGNE Marie-Bernadette-Joséphine"
    age = age_years(LONG["birth_date"])
    async with running_app(runtime, size=size, lang=lang) as app:
        sm = app.screen_manager
        for step in ("measure", "vitals", "teleconsult"):
            await wait_for(lambda: sm.current == step, what=step)
            await frames(4)
            banner = screen(app, step).ids.banner
            _assert_banner_whole(banner, full)
            details = banner.ids.banner_details.text
            if lang == "fr":
                assert f"({age} ans)" in details and "Chambre Aile B, chambre 214, lit 2" in details
                assert "Identité provisoire" in details
            else:
                assert f"({age} years)" in details and "Room Aile B, chambre 214, lit 2" in details
                assert "Provisional identity" in details
            assert clipped_texts(app) == []
            await screenshot(app, f"identity-banner-{step}-{tag}")
            if step == "measure":
                wf.enter_manual_temperature("37.2")
                wf.accept()
                wf.finish_measurements()
            elif step == "vitals":
                wf.confirm_vitals(respiration_rate="16", consciousness="A", on_oxygen=False)
