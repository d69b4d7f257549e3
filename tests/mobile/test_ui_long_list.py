"""A long patient list: the first residents in alphabetical order, said as such, and a search to find the others;
on the real app (offscreen), in both languages and both orientations."""
from __future__ import annotations

import itertools

import pytest

from mobile.workflow.patients import LIST_LENGTH
from tests.support.ui import LANDSCAPE, PORTRAIT, make_runtime, running_app, screen, screenshot, type_into, \
    clipped_texts

pytestmark = pytest.mark.timeout(60)

FAMILIES = ("Roux", "Bernard", "Durand", "Lefebvre", "Moreau", "Girard", "Abadie", "Fournier", "Mercier", "Blanc",
            "Guérin", "Faure")
GIVEN = ("Jeanne", "Louise", "Marcel", "Paul", "Rose")


def residents(store) -> list[tuple[str, str]]:
    """Sixty residents (more than the list shows), created in an order that is not the list's."""
    made = []
    for n, (family, given) in enumerate(itertools.product(FAMILIES, GIVEN)):
        store.add_patient(family_name=family, given_name=given, birth_date=f"19{30 + n % 20}-0{1 + n % 9}-1{n % 10}",
                          sex="F" if given in ("Jeanne", "Louise", "Rose") else "M", birth_place_insee="75056")
        made.append((family, given))
    return made


@pytest.mark.parametrize("lang,size", [("fr", LANDSCAPE), ("fr", PORTRAIT), ("en", LANDSCAPE), ("en", PORTRAIT)])
async def test_a_long_list_shows_its_first_residents_and_says_how_to_find_the_others(tmp_path, lang, size):
    runtime = make_runtime(tmp_path)
    made = residents(runtime.store)
    first = sorted(made, key=lambda name: (name[0].replace("é", "e").lower(), name[1].lower()))[:LIST_LENGTH]
    orientation = "landscape" if size == LANDSCAPE else "portrait"
    async with running_app(runtime, size=size, lang=lang) as app:
        patients = screen(app, "patient")
        model = app.models.patient
        assert len(made) > LIST_LENGTH and model.more
        assert [(p["family"], p["given"]) for p in model.patients] == first  # Abadie first, no Roux
        caption = patients.ids.list_caption.text
        assert caption == {"fr": f"Les {LIST_LENGTH} premiers patients par ordre alphabétique : tapez quelques "
                                 "lettres du nom ou la date de naissance pour trouver les autres.",
                           "en": f"The first {LIST_LENGTH} patients in alphabetical order: type a few letters of "
                                 "the name or the date of birth to find the others."}[lang]
        assert clipped_texts(app) == []
        await screenshot(app, f"patients-long-list-{lang}-{orientation}")

        await type_into(patients.ids.search, "19")  # every one of them born in the 1900s: still more than a page
        assert model.more and len(model.patients) == LIST_LENGTH
        assert patients.ids.list_caption.text == {
            "fr": f"Les {LIST_LENGTH} premiers patients trouvés, par ordre alphabétique : tapez la suite du nom, ou "
                  "la date de naissance, pour affiner la recherche.",
            "en": f"The first {LIST_LENGTH} patients found, in alphabetical order: type more of the name, or the date "
                  "of birth, to narrow the search."}[lang]
        assert clipped_texts(app) == []
        await screenshot(app, f"patients-long-search-{lang}-{orientation}")

        await type_into(patients.ids.search, "rou")  # past the first fifty: found by a search
        assert [(p["family"], p["given"]) for p in model.patients] == [("Roux", g) for g in sorted(GIVEN)]
        assert not model.more
        assert patients.ids.list_caption.text == {"fr": "5 patients", "en": "5 patients"}[lang]


async def test_the_caption_follows_what_is_typed_even_when_the_list_stays_empty(tmp_path):
    runtime = make_runtime(tmp_path)  # no resident yet
    async with running_app(runtime, size=LANDSCAPE) as app:
        patients = screen(app, "patient")
        assert patients.ids.list_caption.text.startswith("Aucun patient pour l")
        await type_into(patients.ids.search, "dupo")  # still no resident to show: the caption says why
        assert patients.ids.list_caption.text.startswith("Aucun patient trouvé. Vérifiez la date de naissance")
        await type_into(patients.ids.search, "")
        assert patients.ids.list_caption.text.startswith("Aucun patient pour")
