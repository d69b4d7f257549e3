"""Colours: every text/background pair used on screen reaches WCAG AA (4.5:1); no subscript characters that the
bundled Roboto font cannot draw; kv files are loaded once and never use the cached `app` proxy."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from mobile.screens import theme

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(theme.PAIRS))
def test_text_contrast_at_least_aa(name):
    fg, bg = theme.PAIRS[name]
    assert theme.contrast_ratio(fg, bg) >= 4.5, name


def test_status_and_sync_colours_are_readable():
    for bg, fg in theme.STATUS_COLOURS.values():
        assert theme.contrast_ratio(fg, bg) >= 4.5
    for bg in theme.SYNC_COLOURS.values():
        assert theme.contrast_ratio(theme.ON_DARK, bg) >= 4.5
    for bg, fg, _accent in theme.SESSION_PANEL.values():
        assert theme.contrast_ratio(fg, bg) >= 4.5


def test_contrast_formula():
    assert round(theme.contrast_ratio(theme.hex_rgba("#000000"), theme.hex_rgba("#FFFFFF")), 1) == 21.0
    assert theme.contrast_ratio(theme.BG, theme.BG) == 1.0


def ui_sources():
    return [*(ROOT / "assets" / "kv").glob("*.kv"), *(ROOT / "assets" / "locales").rglob("*.po"),
            *(ROOT / "mobile" / "screens").glob("*.py")]


def test_no_glyphs_roboto_lacks():
    for path in ui_sources():
        assert not re.search("[\u2080-\u209f]", path.read_text(encoding="utf-8")), f"subscript in {path}"


def test_kv_rules_do_not_use_the_app_proxy_and_load_once():
    from kivy.lang import Builder

    from mobile.screens.lazy import SCREENS, screen_class

    for name in SCREENS:
        screen_class(name)  # imports the screen's module, which loads its kv file (the app does it on first show)
    kv_files = sorted((ROOT / "assets" / "kv").glob("*.kv"))
    # one kv file per screen (the patient form included), plus common.kv for the shared widgets
    assert set(SCREENS) | {"common"} == {p.stem for p in kv_files}
    for path in kv_files:
        assert not re.search(r"\bapp\.", path.read_text(encoding="utf-8")), path  # ProxyApp caches the 1st app
        assert Builder.files.count(str(path)) == 1
    from mobile.screens.widgets import load_kv
    load_kv("common.kv")  # a second load request is ignored
    assert Builder.files.count(str(ROOT / "assets" / "kv" / "common.kv")) == 1
