"""Refusals are codes: every code the data layer (the store, its key file, the outbox, the close) can raise has
words in the app's catalog (mobile.messages.data) and a French translation, with the same placeholders; the
catalog holds no code nobody raises; and the data layer itself holds no sentence for staff."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from mobile.i18n import catalog_paths, parse_po
from mobile.messages.data import DATA_MESSAGES
from sync.cli_messages import CLI_MESSAGES

ROOT = Path(__file__).resolve().parents[2]
DATA_LAYER = [*sorted((ROOT / "sync" / "store").glob("*.py")),
              *(ROOT / "sync" / name for name in ("outbox.py", "keys.py", "closing.py", "audit.py", "retention.py",
                                          "uploader.py", "upload_pass.py", "batching.py", "upload_lock.py",
                                          "transaction_limits.py")),
              ROOT / "sync" / "pull" / "client.py",
              *(ROOT / "sync" / "delivery" / name for name in ("mssante_settings.py", "mail_outbox.py",
                                                              "smtp_client.py", "send_pass.py", "mssante_cli.py",
                                                              "annuaire.py")),
              *sorted((ROOT / "sync" / "residents_csv").glob("*.py"))]
CODE = re.compile(r"[a-z][a-z_]*(?:\.[a-z][a-z_]*)+")


def _default_values(tree: ast.AST) -> set[int]:
    """ids of the nodes that are default parameter values (file names such as "store.key", never codes)."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ids.update(id(d) for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None)
    return ids


def raised_codes(paths=DATA_LAYER) -> set[str]:
    """Every string literal shaped like a code (dotted lower-case names) in the data layer's source."""
    codes: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defaults = _default_values(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value) \
                    and id(node) not in defaults:
                codes.add(node.value)
    return codes


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_source_walk_finds_the_codes():
    codes = raised_codes()
    assert {"identity.family_name.required", "identity.ins.taken", "pin.locked", "session.closed",
            "store.key.wrong", "key.missing", "outbox.state", "patient.not_found"} <= codes
    assert len(codes) > 100


def test_every_code_the_data_layer_raises_has_words_in_the_catalog():
    missing = sorted(raised_codes() - set(DATA_MESSAGES))
    assert not missing, missing


def test_the_catalog_holds_no_code_nobody_raises():
    assert not sorted(set(DATA_MESSAGES) - raised_codes())


def test_every_data_message_has_a_french_translation_with_the_same_placeholders():
    french = parse_po(catalog_paths("fr")[0].read_text(encoding="utf-8"))
    untranslated = sorted(code for code, template in DATA_MESSAGES.items() if not french.get(template))
    assert not untranslated, untranslated
    for code, template in DATA_MESSAGES.items():
        assert placeholders(french[template]) == placeholders(template), code


def test_the_french_words_are_those_staff_read_before():
    french = parse_po(catalog_paths("fr")[0].read_text(encoding="utf-8"))
    words = {code: french[DATA_MESSAGES[code]] for code in ("pin.format", "identity.birth_date.future", "pin.locked")}
    assert words["pin.format"] == "Le code PIN doit faire de 4 à 8 chiffres."
    assert words["identity.birth_date.future"] == "La date de naissance ne peut pas être dans le futur."
    assert words["pin.locked"].format(seconds=30) == "Trop de codes erronés : compte bloqué, réessayez dans 30 s."


@pytest.mark.parametrize("code", sorted(CLI_MESSAGES))
def test_the_command_line_lines_are_for_codes_that_exist(code):
    assert code in DATA_MESSAGES


def test_no_sentence_for_staff_is_left_in_the_data_layer():
    """Outside docstrings, no string of the data layer is French text (accented letters, or " : " as French
    punctuation): the words live in the catalogs."""
    french = []
    # the French header names of a care software's export are the file's format, not words for staff
    file_formats = {ROOT / "sync" / "residents_csv" / "reading.py"}
    for path in (p for p in DATA_LAYER if p not in file_formats):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and (re.search(r"[éèêàùçôî]", node.value) or " : " in node.value):
                french.append(f"{path.name}: {node.value[:60]}")
    assert not french, french
