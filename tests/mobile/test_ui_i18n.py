"""Translations: catalogs match their sources, every UI text and every refusal code has a French translation, the
runtime FR/EN switch re-translates the live screens (including the workflow's messages), and nothing leaks between
apps."""
from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mobile import i18n
from mobile.i18n import Translator, catalog_paths, compile_mo, parse_po, tr
from tests.support.ui import LANDSCAPE, begin_session, frames, make_runtime, running_app, screen, screenshot, tap, wait_for

ROOT = Path(__file__).resolve().parents[2]
NBSP = "\u00a0"
LITERAL = r'"((?:[^"\\]|\\.)*)"'


def ui_msgids() -> tuple[set[str], set[tuple[str, str]]]:
    """Msgids used in the kv files, the screens' Python code and the message catalogs (literal arguments of tr._,
    N_, tr.ngettext)."""
    singles, plurals = set(), set()
    sources = [*(ROOT / "assets" / "kv").glob("*.kv"), *(ROOT / "mobile" / "screens").rglob("*.py"),
               *(ROOT / "mobile" / "messages").glob("*.py"), *(ROOT / "mobile" / "training").glob("*.py"),
               ROOT / "mobile" / "app.py"]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        singles.update(m.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
                       for m in re.findall(rf"(?:\btr\._|\bN_)\({LITERAL}\)", text))
        plurals.update(re.findall(rf"\bngettext\({LITERAL},\s*{LITERAL}", text))
    return singles, plurals


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_committed_mo_is_compiled_from_the_po(lang):
    po, mo = catalog_paths(lang)
    assert mo.read_bytes() == compile_mo(parse_po(po.read_text(encoding="utf-8"))), \
        f"{mo} is stale: run python -m mobile.i18n"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext not installed")
@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_our_mo_reads_like_gnu_msgfmt_output(lang, tmp_path):
    po, mo = catalog_paths(lang)
    subprocess.run(["msgfmt", "-c", "-o", str(tmp_path / "gnu.mo"), str(po)], check=True)
    with open(mo, "rb") as ours, open(tmp_path / "gnu.mo", "rb") as gnu:
        assert gettext.GNUTranslations(ours)._catalog == gettext.GNUTranslations(gnu)._catalog


def test_every_ui_text_has_a_french_translation():
    singles, plurals = ui_msgids()
    assert len(singles) > 50 and plurals
    french = parse_po(catalog_paths("fr")[0].read_text(encoding="utf-8"))
    missing = sorted(m for m in singles if m not in french) + \
        sorted(f"{s} | {p}" for s, p in plurals if f"{s}\0{p}" not in french)
    assert not missing, missing


def test_french_default_english_switch_and_fallback():
    assert Translator()._("Measure temperature") == "Mesurer la température"
    assert Translator("en")._("Measure temperature") == "Measure temperature"
    assert Translator("de")._("Measure temperature") == "Measure temperature"  # no catalog: the English msgid
    fr, en = Translator("fr"), Translator("en")
    assert fr.ngettext("{n} patient", "{n} patients", 1) == "{n} patient"
    assert en.ngettext("{n} patient", "{n} patients", 2) == "{n} patients"
    assert fr._("Everything is synced") == "Tout est synchronisé"
    assert en._("Une phrase que personne n'a traduite.") == "Une phrase que personne n'a traduite."


@pytest.mark.timeout(60)
async def test_language_toggle_retranslates_the_live_ui(tmp_path):
    runtime = make_runtime(tmp_path, scenario="error")
    begin_session(runtime, dict(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F",
                                birth_place_insee="75056"))
    baseline = tr.observer_count
    async with running_app(runtime, size=LANDSCAPE, lang="fr") as app:
        topbar = app.root.ids.topbar.ids
        measure = screen(app, "measure")
        await tap(measure.ids.measure)
        await wait_for(lambda: app.models.measure.device_state == "error", timeout=15, what="the device error")
        await frames(2)
        assert measure.ids.measure.text == "Mesurer la température"
        en_button = next(b for b in topbar.lang.children if b.value == "en")
        await tap(en_button)
        assert tr.lang == "en" and en_button.selected
        assert topbar.sync_label.text == "Everything is synced"
        assert measure.ids.measure.text == "Measure temperature"
        assert measure.ids.status.text == "The measurement failed."
        assert measure.ids.error_text.text == \
            "Device error: the thermometer reports an invalid measurement. Measure again."
        from mobile.screens.texts import age_years
        assert measure.ids.banner.ids.banner_details.text == \
            f"Female, born 02/04/1938 ({age_years('1938-04-02')} years)  ·  Provisional identity"
        assert screen(app, "patient").ids.new_patient.text == "New patient"  # screens not shown follow too
        await screenshot(app, "30-english-measure-error")
        await tap(next(b for b in topbar.lang.children if b.value == "fr"))
        assert tr.lang == "fr"
        assert measure.ids.status.text == "La mesure a échoué."
        assert topbar.sync_label.text == "Tout est synchronisé"
    assert tr.observer_count == baseline  # a stopped app leaves no bindings on the global translator


def test_sync_indicator_texts():
    from mobile.screens import texts

    assert texts.sync_level(0, 0) == "ok" and texts.sync_level(2, 0) == "pending" and texts.sync_level(2, 1) == "rejected"
    assert texts.sync_summary("fr", 0, 0) == "Tout est synchronisé"
    assert texts.sync_summary("fr", 2, 0) == f"Synchronisation{NBSP}: 2 en attente"
    assert texts.sync_summary("fr", 0, 1) == f"1 envoi refusé{NBSP}: à vérifier"
    assert texts.sync_summary("fr", 3, 2) == f"2 envois refusés{NBSP}: à vérifier · Synchronisation{NBSP}: 3 en attente"
    assert texts.sync_summary("fr", 3, 2, short=True) == f"2 envois refusés{NBSP}: à vérifier"  # a portrait top bar
    tr.switch_lang("en")
    try:
        assert texts.sync_summary("en", 1, 1) == "1 upload refused: to be checked · Sync: 1 waiting"
        assert texts.last_session_line("en", "sent") == "Last session: sent to the server"
    finally:
        tr.switch_lang("fr")
    assert texts.last_session_line("fr", "rejected") == f"Dernière séance{NBSP}: refusée par le serveur, à vérifier"
    assert texts.last_session_line("fr", "") == ""


def test_every_message_code_has_a_french_translation_and_its_parameters():
    from mobile.messages import MESSAGES, UNKNOWN
    from mobile.messages.workflow import DEVICE_NAMES, OF_DEVICE

    french = parse_po(catalog_paths("fr")[0].read_text(encoding="utf-8"))
    templates = [*MESSAGES.values(), *DEVICE_NAMES.values(), *OF_DEVICE.values(), UNKNOWN]
    assert len(MESSAGES) > 80
    assert not [t for t in templates if t not in french]
    placeholders = re.compile(r"{(\w+)}")
    assert not [t for t in templates if set(placeholders.findall(t)) != set(placeholders.findall(french[t]))]


def test_every_code_the_workflow_and_the_vital_checks_use_has_a_message():
    """Every string constant that looks like a code in mobile/workflow and the clinical rules (sync.clinical) is in
    the catalog, and so is every refusal the rules build from a sign's label."""
    import ast

    from mobile.messages import MESSAGES
    from mobile.workflow.readings import STATUS_WARNINGS
    from sync.clinical.rules import RULES

    code = re.compile(r"^(auth|signin|site|patient|session|measure|device|vitals|vital|alert|call|summary|admin)"
                      r"(\.[a-z0-9_]+)+$")
    found = set()
    for path in [*(ROOT / "mobile" / "workflow").glob("*.py"), *(ROOT / "sync" / "clinical").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and code.match(node.value):
                found.add(node.value)
    found.update(f"device.status.{status}" for status in STATUS_WARNINGS)
    found.update(f"vital.implausible.{rule.label}" for rule in RULES.values())
    assert len(found) > 80
    assert not sorted(c for c in found if c not in MESSAGES)


def test_a_code_is_worded_in_either_language_with_its_parameters():
    import datetime as dt

    from mobile.messages import error_text
    from mobile.workflow import WorkflowError
    from mobile.workflow.signin import locked_out
    from sync.store import SessionStateError

    minutes, seconds = locked_out(dt.timedelta(minutes=4)), locked_out(dt.timedelta(seconds=30))
    assert error_text(minutes, "fr") == "Trop de codes erronés : compte bloqué, réessayez dans 4 min."
    assert error_text(seconds, "en") == "Too many wrong PINs: account locked, try again in 30 s."
    nres = WorkflowError("measure.invalid.nres", kind="oximeter")
    assert error_text(nres, "fr") == "Erreur de l'appareil : valeur hors de la plage mesurable de l'oxymètre. " \
                                     "Reprenez la mesure."
    assert error_text(nres, "en") == "Device error: value outside the measuring range of the oximeter. Measure again."
    assert error_text("session.abandoned", "fr") == "Séance abandonnée : rien ne sera transmis."
    assert error_text(None, "fr") == "" and error_text("", "en") == ""
    # an unknown code: a clear generic message that names it, never the raw code alone
    assert error_text(WorkflowError("nobody.knows"), "en") == \
        "This action was refused (nobody.knows). Try again, or tell your coordinator."
    # a data-layer refusal passed on by the workflow keeps its code and is worded by the data layer's catalog
    try:
        raise WorkflowError.refused_by_store(SessionStateError("session.already_closed")) from \
            SessionStateError("session.already_closed")
    except WorkflowError as exc:
        wrapped = exc
    assert error_text(wrapped, "fr") == "La séance est déjà close."
    assert error_text(wrapped, "en") == "The session is already closed."


def test_a_store_refusal_reaches_staff_in_their_language(tmp_path):
    """The store says what went wrong as a code; the screen words it: French as staff read it, English too."""
    from mobile.messages import error_text
    from sync.store import IdentityError, Store

    with Store(tmp_path / "relais.db") as store, pytest.raises(IdentityError) as refused:
        store.add_patient(family_name="DÉMO", given_name="Jeanne", birth_date="2999-01-01", sex="F",
                          birth_place_insee="75056")
    assert refused.value.code == "identity.birth_date.future" and refused.value.field == "birth_date"
    assert error_text(refused.value, "fr") == "La date de naissance ne peut pas être dans le futur."
    assert error_text(refused.value, "en") == "The birth date cannot be in the future."


def test_no_bare_text_in_kv_files():
    """Every visible text in a kv file goes through the catalogs; only symbols and the app's name are literal."""
    allowed = {"Relais", "FR", "EN", "A", "C", "V", "P", "U", "37,6", *"0123456789"}
    bare = []
    for path in (ROOT / "assets" / "kv").glob("*.kv"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = re.match(r'\s*(?:text|hint_text):\s*"([^"]*)"\s*$', line)
            if match and match.group(1) not in allowed:
                bare.append(f"{path.name}:{number}: {match.group(1)}")
    assert not bare, bare


def test_the_list_of_refused_sessions_words_the_stored_diagnostics_in_either_language():
    """The outbox stores codes (sync.outbox.error_record); the list of refused sessions words them in the language
    shown, the server's own text kept as it is; a sentence stored by an older version is shown unchanged."""
    from mobile.messages import stored_error_text
    from mobile.screens import texts
    from sync.outbox import error_record

    refused = error_record("upload.rejected", status=422, reason="Observation.code unknown")
    in_a_part = error_record("upload.part", part=2, parts=3,
                             cause={"code": "upload.http", "params": {"status": 503}})
    assert stored_error_text(refused, "fr") == "HTTP 422 : Observation.code unknown"
    assert stored_error_text(refused, "en") == "HTTP 422: Observation.code unknown"
    assert stored_error_text(error_record("upload.deadline"), "fr") == "Envoi interrompu (délai de la passe dépassé)."
    assert stored_error_text(error_record("upload.deadline"), "en") == "Sending interrupted (the pass ran out of time)."
    assert stored_error_text(in_a_part, "fr") == "Partie 2 sur 3 : HTTP 503"
    assert stored_error_text(in_a_part, "en") == "Part 2 of 3: HTTP 503"
    assert stored_error_text("références circulaires entre les entrées du Bundle", "en") == \
        "références circulaires entre les entrées du Bundle"
    assert stored_error_text(None, "fr") == ""
    rows = [{"name": "REFUS Odile", "date": "01/05/2024", "reason": refused}]
    previous = tr.lang
    try:
        tr.switch_lang("en")
        assert texts.rejected_lines("en", rows) == "REFUS Odile, session of 01/05/2024:\nHTTP 422: Observation.code unknown"
    finally:
        tr.switch_lang(previous)
