"""The wire form of a bundle: deterministic JSON (RFC 8259) with sorted keys and no whitespace, so that the same
bundle always gives the same bytes (a frozen bundle is resent byte for byte), and decimals written as their exact
text (a device's "37.60" stays 37.60: FHIR R4 decimals keep their precision, a binary float would not).
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Mapping


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is True or value is False or value is None:
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("JSON cannot hold NaN or infinite decimals")
        out.append(format(value, "f"))  # plain notation, every stored digit kept: Decimal("37.60") → 37.60
    elif isinstance(value, int):
        out.append(str(value))
    else:
        # floats included: a binary float has already lost the decimal precision we promise to keep
        raise TypeError(f"cannot serialise {type(value).__name__} in a FHIR bundle")


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys; Decimals written as their exact text; floats refused."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def dumps_bundle(bundle: Mapping[str, Any]) -> bytes:
    """The frozen wire form of a bundle: deterministic UTF-8 JSON bytes."""
    return dumps(bundle).encode("utf-8")


def loads(data: str | bytes) -> Any:
    """Parse JSON keeping decimals exact (the inverse of `dumps`)."""
    return json.loads(data, parse_float=Decimal)
