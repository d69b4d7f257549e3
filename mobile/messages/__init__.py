"""Refusal codes into words, at the edge: one function, :func:`error_text`, looks a code up in the catalogs — the
workflow's (mobile.messages.workflow), the data layer's (mobile.messages.data) and the devices'
(mobile.messages.devices) — translates its English template
into the current language and fills in the parameters.

Used by the view models and kv rules (``text: error_text(root.vm.error, tr.lang)``: passing ``tr.lang`` makes the
rule follow a language switch). An exception without a code (a data-layer message that is still a sentence) is
shown as its text, through the catalogs; an unknown code gives a generic message that names it.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from mobile.i18n import Translator, tr
from mobile.messages.data import DATA_MESSAGES
from mobile.messages.devices import DEVICE_MESSAGES
from mobile.messages.kit import KIT_MESSAGES
from mobile.messages.recipients import RECIPIENT_MESSAGES
from mobile.messages.workflow import DEVICE_NAMES, OF_DEVICE, WORKFLOW_MESSAGES, N_
from sync.outbox import read_error

log = logging.getLogger(__name__)

MESSAGES: dict[str, str] = {**DATA_MESSAGES, **DEVICE_MESSAGES, **WORKFLOW_MESSAGES, **KIT_MESSAGES,
                             **RECIPIENT_MESSAGES}
UNKNOWN = N_("This action was refused ({code}). Try again, or tell your coordinator.")
_translators: dict[str, Translator] = {}


def _gettext(lang: str | None) -> Callable[[str], str]:
    """The current language's catalog, or another language's (loaded once) when `lang` names it."""
    if not lang or lang == tr.lang:
        return tr._
    if lang not in _translators:
        _translators[lang] = Translator(lang)
    return _translators[lang]._


class _Params(dict):
    """Template parameters; a placeholder without a value stays as it is rather than failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _params(params: dict[str, Any], _: Callable[[str], str]) -> _Params:
    values = _Params({name: "" if value is None else str(value) for name, value in params.items()})
    kind = params.get("kind")
    if kind:
        values.setdefault("device", _(DEVICE_NAMES.get(kind, kind)))
        values.setdefault("of_device", _(OF_DEVICE.get(kind, kind)))
    reason = params.get("reason")
    if reason in MESSAGES:  # a code passed on from a lower layer (a device's failure): worded the same way
        values["reason"] = _(MESSAGES[reason]).format_map(values)
    return values


def error_text(exc_or_code: BaseException | str | None, lang: str | None = None) -> str:
    """What staff read for a refusal (a RelaisError, or a bare code such as a notice) in `lang` (default: the
    current language). Empty for None."""
    if not exc_or_code:
        return ""
    _ = _gettext(lang)
    if isinstance(exc_or_code, str):
        code, params, cause = exc_or_code, {}, None
    else:
        code = getattr(exc_or_code, "code", None)
        if code is None:  # a sentence from a layer that does not speak in codes yet
            return _(str(exc_or_code))
        params, cause = getattr(exc_or_code, "params", None) or {}, exc_or_code.__cause__
    template = MESSAGES.get(code)
    if template is not None:
        return _(template).format_map(_params(params, _))
    if cause is not None and getattr(cause, "code", None) is None and str(cause):
        return _(str(cause))  # a refusal of the data layer, still worded by it
    log.warning("no message for the code %s", code)
    return _(UNKNOWN).format(code=code)


def stored_error_text(stored: str | None, lang: str | None = None) -> str:
    """What staff read for a diagnostic stored in the outbox (sync.outbox.error_record), in `lang` (default: the
    current language). A diagnostic stored by an older version as a sentence is shown as it is."""
    record = read_error(stored)
    if record is None:
        return stored or ""
    return _recorded_text(*record, _gettext(lang))


def _recorded_text(code: str, params: dict[str, Any], _: Callable[[str], str]) -> str:
    template = MESSAGES.get(code)
    if template is None:
        log.warning("no message for the code %s", code)
        return _(UNKNOWN).format(code=code)
    cause = params.get("cause")
    if isinstance(cause, dict) and isinstance(cause.get("code"), str):  # a diagnostic about one part of a send
        params = {**params, "detail": _recorded_text(cause["code"], cause.get("params") or {}, _)}
    return _(template).format_map(_params(params, _)).strip()
