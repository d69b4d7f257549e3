"""The wire form of a bundle: deterministic JSON (RFC 8259) with sorted keys and no whitespace, so that the same
bundle always gives the same bytes (a frozen bundle is resent byte for byte), and decimals written as their exact
text (a device's "37.60" stays 37.60: FHIR R4 decimals keep their precision, a binary float would not).

Encoding runs in the standard library's C encoder (json.JSONEncoder with sort_keys and compact separators: one call
per bundle, not one per string). That encoder cannot print a Decimal, and prints any float: each Decimal is handed
to it as a marker string unique to the call (a random token plus nothing else), and the marker's quoted form is
then replaced by the Decimal's exact text, in encoding order, after checking that the output holds exactly one
marker per Decimal; floats are found in the output (a number with a fraction, an exponent, NaN or Infinity outside
any string: integers and markers never have one) and refused as before. Should a string of the data ever contain
the marker, the output is made by the plain Python encoder below instead, which gives the same bytes more slowly.
The output is byte for byte the one of the plain encoder (tests/sync/test_codec.py compares them).
"""
from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any, Mapping

# Outside strings, the C encoder writes a float as repr(float) ("37.6", "1e+100"), NaN or Infinity; an int never has
# a fraction or an exponent ("true"/"false" have an "e", after a letter, never after a digit).
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_FLOAT = re.compile(r"[.NI]|\d[eE]")
# Quick filters on the whole output: a float is always written right after ":", "[" or "," and right before ",",
# "]" or "}" (a string holding such text makes the exact search run); a key that was not a
# string (int, float, bool or None: the only ones the C encoder accepts) is written as a quoted number, NaN,
# Infinity, true, false or null right after "{" or ",". No match: nothing to look for (FHIR keys are words).
_MAYBE_FLOAT = re.compile(r"[:\[,]-?(?:\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|Infinity|NaN)[,\]}]")
_MAYBE_NON_STRING_KEY = re.compile(r'[{,]"(?:-?[\dI]|NaN"|true"|false"|null")')


def _plain_encode(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _plain_encode(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _plain_encode(item, out)
        out.append("]")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is True or value is False or value is None:
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        out.append(_decimal_text(value))
    elif isinstance(value, int):
        out.append(str(value))
    else:
        # floats included: a binary float has already lost the decimal precision we promise to keep
        raise TypeError(f"cannot serialise {type(value).__name__} in a FHIR bundle")


def plain_dumps(value: Any) -> str:
    """The reference encoder in plain Python (slow): what `dumps` must give, byte for byte."""
    out: list[str] = []
    _plain_encode(value, out)
    return "".join(out)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError("JSON cannot hold NaN or infinite decimals")
    return format(value, "f")  # plain notation, every stored digit kept: Decimal("37.60") → 37.60


def _marker() -> str:
    """A string no data holds: a fresh random token per call (a test may fix it)."""
    return f"\x1ddecimal-{secrets.token_hex(16)}\x1d"


def _c_encode(value: Any, marker: str) -> tuple[str, list[str]]:
    """The C encoder's output with each Decimal as `marker`, and the Decimals' texts in output order."""
    decimals: list[str] = []

    def default(obj: Any) -> str:
        if isinstance(obj, Decimal):
            decimals.append(_decimal_text(obj))
            return marker
        raise TypeError(f"cannot serialise {type(obj).__name__} in a FHIR bundle")

    encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=default)
    return encoder.encode(value), decimals


def _check_keys(value: Any) -> None:
    """TypeError for a non-string key anywhere (the C encoder would print an int key as a string)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if not all(isinstance(key, str) for key in node):
                raise TypeError("JSON object keys must be strings")
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys; Decimals written as their exact text; floats refused."""
    return _dumps(value, checked=True)


def dumps_loaded(value: Any) -> str:
    """`dumps` for what `loads` returned (numbers with a fraction as Decimals, string keys), with strings,
    integers, lists and dicts of strings added: no float nor other key can be in it, so `dumps`'s search for
    them is skipped (a server storing what it parsed)."""
    return _dumps(value, checked=False)


def _dumps(value: Any, *, checked: bool) -> str:
    marker = _marker()
    text, decimals = _c_encode(value, marker)
    if checked and _MAYBE_FLOAT.search(text) and _FLOAT.search(_STRINGS.sub("", text)):
        raise TypeError("cannot serialise float in a FHIR bundle")
    if checked and _MAYBE_NON_STRING_KEY.search(text):
        _check_keys(value)
    quoted = json.dumps(marker, ensure_ascii=False)
    pieces = text.split(quoted)
    if len(pieces) != len(decimals) + 1:  # a string held the marker: the slow encoder cannot be fooled
        return plain_dumps(value)
    if len(pieces) == 1:
        return text
    out = [pieces[0]]
    for decimal_text, piece in zip(decimals, pieces[1:]):
        out.append(decimal_text)
        out.append(piece)
    return "".join(out)


def dumps_bundle(bundle: Mapping[str, Any]) -> bytes:
    """The frozen wire form of a bundle: deterministic UTF-8 JSON bytes."""
    return dumps(bundle).encode("utf-8")


def loads(data: str | bytes) -> Any:
    """Parse JSON keeping decimals exact (the inverse of `dumps`)."""
    return json.loads(data, parse_float=Decimal)
