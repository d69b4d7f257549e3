"""Translations: gettext catalogs with English msgids, French by default, switchable at runtime (fr/en).

In kv files::

    #:import tr mobile.i18n.tr
    text: tr._("Measure temperature")

The kv compiler binds every such rule to ``tr`` (``fbind("_", ...)``); :meth:`Translator.switch_lang` re-runs
them, so the whole UI re-translates in place. Python code that builds text itself registers with
:meth:`Translator.on_change`.

Refusals are codes with parameters; :func:`mobile.messages.error_text` looks their English template up and passes
it through ``tr._`` like any UI text. A text that is not a code (an older version's stored sentence) is shown as it
is.

Catalogs live in ``assets/locales/<lang>/LC_MESSAGES/relais.{po,mo}``. The ``.mo`` files are committed;
rebuild them after editing a ``.po`` with ``python -m mobile.i18n`` (a small stdlib-only compiler, so neither
GNU gettext nor Babel is needed on a build machine).
"""
from __future__ import annotations

import ast
import gettext
import itertools
import logging
import struct
import sys
from pathlib import Path
from typing import Any, Callable

from kivy.event import Observable

log = logging.getLogger(__name__)

DOMAIN = "relais"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "assets" / "locales"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
_TRANSLATED_NAMES = ("_", "ngettext", "lang")


class Translator(Observable):
    """An observable gettext wrapper. ``tr._(msgid)`` translates; kv rules using it follow language switches."""

    def __init__(self, lang: str = DEFAULT_LANGUAGE, locale_dir: Path = LOCALE_DIR) -> None:
        super().__init__()
        self.locale_dir = Path(locale_dir)
        self.lang = lang
        self._catalog: gettext.NullTranslations = gettext.NullTranslations()
        self._observers: dict[int, tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = {}
        self._uids = itertools.count(1)
        self._load(lang)

    # -- translation ------------------------------------------------------------------------------------------
    def _(self, text: str) -> str:
        if not text:
            return ""
        return self._catalog.gettext(text)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog.ngettext(singular, plural, n)

    # -- language ---------------------------------------------------------------------------------------------
    def _load(self, lang: str) -> None:
        try:
            self._catalog = gettext.translation(DOMAIN, str(self.locale_dir), languages=[lang])
        except OSError:
            log.warning("no %s catalog for %r: showing the English source texts", DOMAIN, lang)
            self._catalog = gettext.NullTranslations()
        self.lang = lang

    def switch_lang(self, lang: str) -> None:
        """Load `lang` (missing catalog: the English msgids are shown) and re-translate every bound rule."""
        self._load(lang)
        for func, args, kwargs in list(self._observers.values()):
            func(*args, None, None, **kwargs)

    def on_change(self, callback: Callable[[], None]) -> int:
        """Call `callback()` after every language switch; returns a uid for :meth:`unbind_uid`."""
        return self.fbind("lang", lambda *_a: callback())

    # -- the binding protocol the kv compiler uses (kivy/lang/builder.py: f.fbind(key, fn, args)) ------------
    def fbind(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        if name not in _TRANSLATED_NAMES:
            return 0  # nothing else here changes
        uid = next(self._uids)
        self._observers[uid] = (func, args, kwargs)
        return uid

    def funbind(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        for uid, (f, a, k) in list(self._observers.items()):
            if f is func and a == args and k == kwargs:
                del self._observers[uid]
                return

    def unbind_uid(self, name: str, uid: int) -> None:
        self._observers.pop(uid, None)

    @property
    def proxy_ref(self) -> "Translator":
        return self

    @property
    def observer_count(self) -> int:
        return len(self._observers)

    def property(self, name: str, quiet: bool = False) -> None:  # kv asks this of intermediate attributes
        return None


tr = Translator()


# -- a minimal .po → .mo compiler (no plural forms beyond msgid_plural/msgstr[n], no msgctxt) ---------------
def parse_po(text: str) -> dict[str, str]:
    """Entries of a .po file as {msgid: msgstr}; plural entries as {"sing\\0plural": "s0\\0s1"}.
    The header (msgid "") is included. Fuzzy and untranslated entries are skipped (gettext would fall back)."""
    entries: dict[str, str] = {}
    current: dict[str, list[str]] = {}
    key: str | None = None
    fuzzy = False

    def flush() -> None:
        nonlocal current, fuzzy
        if "msgid" in current:
            msgid = "".join(current["msgid"])
            if "msgid_plural" in current:
                msgid += "\0" + "".join(current["msgid_plural"])
                forms = sorted(k for k in current if k.startswith("msgstr["))
                msgstr = "\0".join("".join(current[k]) for k in forms)
            else:
                msgstr = "".join(current.get("msgstr", []))
            if msgstr.replace("\0", "") and (not fuzzy or msgid == ""):
                entries[msgid] = msgstr
        current, fuzzy = {}, False

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
            key = None
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in line:
                if "msgid" in current:
                    flush()
                fuzzy = True
            continue
        if line.startswith('"'):
            if key is None:
                raise ValueError(f"string continuation outside an entry: {raw!r}")
            current[key].append(ast.literal_eval(line))
            continue
        word, _, rest = line.partition(" ")
        if word == "msgid" and "msgid" in current:
            flush()
        key = word
        current[key] = [ast.literal_eval(rest.strip())]
    flush()
    return entries


def compile_mo(entries: dict[str, str]) -> bytes:
    """GNU .mo bytes (little-endian, no hash table) for the given catalog."""
    ids = sorted(entries)
    keys = [k.encode("utf-8") for k in ids]
    values = [entries[k].encode("utf-8") for k in ids]
    header_size = 7 * 4
    ids_table = header_size
    strs_table = ids_table + 8 * len(ids)
    data_start = strs_table + 8 * len(ids)
    key_offsets, data = [], b""
    for k in keys:
        key_offsets.append((len(k), data_start + len(data)))
        data += k + b"\0"
    value_offsets = []
    for v in values:
        value_offsets.append((len(v), data_start + len(data)))
        data += v + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, len(ids), ids_table, strs_table, 0, 0)
    out += b"".join(struct.pack("<2I", *o) for o in key_offsets)
    out += b"".join(struct.pack("<2I", *o) for o in value_offsets)
    return out + data


def catalog_paths(lang: str, locale_dir: Path = LOCALE_DIR) -> tuple[Path, Path]:
    base = Path(locale_dir) / lang / "LC_MESSAGES"
    return base / f"{DOMAIN}.po", base / f"{DOMAIN}.mo"


def compile_catalogs(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    written = []
    for lang in LANGUAGES:
        po, mo = catalog_paths(lang, locale_dir)
        mo.write_bytes(compile_mo(parse_po(po.read_text(encoding="utf-8"))))
        written.append(mo)
    return written


if __name__ == "__main__":  # python -m mobile.i18n : rebuild the .mo files from the .po files
    for path in compile_catalogs():
        print(path, file=sys.stderr)
