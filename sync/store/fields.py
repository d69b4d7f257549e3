"""Checks for the other inputs of the store: free text from staff, one-of-a-list codes, yes/no answers, phone
numbers, time stamps with a zone, and measured values as decimal text.

Each check returns the cleaned value (None for an empty optional input) or raises InputError with a code and the
field at fault. Rules for one field are declared once (`TextRule`), next to the aggregate that uses them.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from sync.store.errors import InputError
from sync.vocabulary import decimal_from_text

_PHONE_CHARS = re.compile(r"\+?[\d .\-()]+")


@dataclass(frozen=True)
class TextRule:
    """Free text typed by staff: trimmed, NFC, inner whitespace kept as typed (notes are multi-line), None when
    empty. `required`: the code raised when it is empty (None: optional); `too_long`: when over `max_length`."""

    field: str
    max_length: int
    too_long: str
    required: str | None = None

    def clean(self, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if self.required:
                raise InputError(self.required, self.field)
            return None
        if not isinstance(value, str):
            raise InputError("input.not_text", self.field)
        text = unicodedata.normalize("NFC", value.strip())
        if len(text) > self.max_length:
            raise InputError(self.too_long, self.field, max_length=self.max_length)
        return text


def choice(value: Any, choices: Sequence[str], field: str, code: str) -> str:
    if not isinstance(value, str) or value.strip() not in choices:
        raise InputError(code, field)
    return value.strip()


def flag(value: Any, field: str) -> bool:
    """A yes/no switch given as a real bool (True/False), never "yes" or 1."""
    if not isinstance(value, bool):
        raise InputError("input.not_bool", field)
    return value


def bool_or_none(value: Any, field: str) -> int | None:
    """A yes/no answer (stored 1/0) or None when not answered."""
    return None if value is None else int(flag(value, field))


def phone(value: Any, field: str) -> str | None:
    """A phone number as digits (a leading + kept), 6 to 15 of them; spaces, dots, dashes and brackets dropped."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else ""
    digits = re.sub(r"\D", "", text)
    if not _PHONE_CHARS.fullmatch(text) or not 6 <= len(digits) <= 15:
        raise InputError("input.phone.format", field)
    return ("+" if text.startswith("+") else "") + digits


def aware_iso(value: Any, field: str) -> str:
    """An ISO 8601 date-time string or datetime with a zone, as ISO text: a naive device time is ambiguous, the
    caller decides how to read it."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InputError("input.datetime.timezone", field) from None
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InputError("input.datetime.timezone", field)
    return value.isoformat()


def decimal_text(value: Any, field: str = "value") -> str:
    """The value exactly as read, as a decimal string (JSON number syntax: no exponent, no leading zeros, no
    comma). Floats are refused: they already lost the precision."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InputError("measurement.value.decimal", field)
        value = format(value, "f")
    try:
        decimal_from_text(value)
    except ValueError:
        raise InputError("measurement.value.decimal", field) from None
    return value
