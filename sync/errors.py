"""Refusals as codes with parameters, never sentences.

The data layer says *what* went wrong (`code`, a stable dotted name such as ``identity.birth_date.format``), *which
input* (`field`) and the values a message needs (`params`); the edge that shows it (the app's catalog, a command's
output) turns that into words in the reader's language. So no code path ever parses a sentence to find out what
happened, and a French and an English screen say the same thing.
"""
from __future__ import annotations

from typing import Any


class RelaisError(Exception):
    """Base of every refusal that reaches a person. `str(exc)` is for logs and developers: the code and its
    parameters, never patient data (callers pass ids, counts and field names only)."""

    def __init__(self, code: str, field: str | None = None, **params: Any) -> None:
        self.code = code
        self.field = field
        self.params = params
        super().__init__(code)

    def __str__(self) -> str:
        if not self.params:
            return self.code
        details = ", ".join(f"{name}={value}" for name, value in sorted(self.params.items()))
        return f"{self.code} ({details})"
