"""Request and reply bodies of the development server: size limits, gzip both ways, JSON that is not too deep.

Request bodies may be gzipped (`Content-Encoding: gzip`, RFC 9110 §8.4) or plain, and are size-limited after
decompression, so a small gzip bomb cannot take the server's memory; JSON replies are gzipped when the client
accepts it (`Accept-Encoding`, RFC 9110 §12.5.3). The media type is `application/fhir+json` (HL7 FHIR R4
RESTful API, "Content Types and encodings"); plain `application/json` is accepted too.

Parsed JSON costs far more than its text: an empty object is 3 bytes of JSON and 64 of Python, a decimal 4 and 104.
Before parsing, `parse_cost` bounds what the objects will take from counts of the body's brackets and separators
(C-speed `bytes.count`, no second copy); a body whose bound passes PARSE_FACTOR times its size is refused (413), so
parsing never takes more than a small multiple of the body. Real tablet bundles cost about 8 times their size by
this bound (about 4.5 times measured), so they pass.
"""
from __future__ import annotations

import zlib
from typing import Any

from sync.fhir import loads
from sync.server.outcome import FhirError

MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_JSON_DEPTH = 64
PARSE_FACTOR = 12
PARSE_FLOOR_BYTES = 1024 * 1024  # under this a body is never refused for its cost
# upper bounds of the Python objects each JSON token leads to: an object or array (with its last member), a
# further member after a comma (a Decimal and its slot), a key's slot in its object
_TOKEN_BYTES = ((b"{", 176), (b"[", 168), (b",", 112), (b":", 40))
GZIP_REPLY_MIN_BYTES = 1024  # smaller replies are not worth compressing
FHIR_JSON = "application/fhir+json"
_NOT_BRACKETS_OR_QUOTES = bytes(b for b in range(256) if b not in b'{}[]"')
_PAIRS = bytes.maketrans(b"{[}]", b"(())")


def decode_body(data: bytes | bytearray, encoding: str | None, limit: int = MAX_BODY_BYTES) -> bytes | bytearray:
    """The request body as sent before any Content-Encoding: identity or gzip. Decompression stops at `limit`
    bytes, so a small gzip bomb cannot take the server's memory."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return data
    if coding not in ("gzip", "x-gzip"):
        raise FhirError(415, f"Content-Encoding {coding!r} is not supported (use gzip or none)", "not-supported")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit:
            raise FhirError(413, f"body larger than {limit} bytes once decompressed", "too-costly")
        if not inflater.eof or inflater.unconsumed_tail:
            raise FhirError(400, "gzip body is truncated or has trailing data", "structure")
    except zlib.error:
        raise FhirError(400, "body is not valid gzip", "structure") from None
    return out


def parse_cost(data: bytes | bytearray) -> int:
    """An upper bound of the bytes the parsed objects of this JSON take (its characters included)."""
    return len(data) + sum(weight * data.count(token) for token, weight in _TOKEN_BYTES)


def parse_fhir_json(data: bytes | bytearray, content_type: str) -> Any:
    """The decoded body as JSON (decimals kept as written); 415 for another media type, 413 for a body that would
    cost too much memory once parsed, 400 for bad or too deep JSON."""
    if content_type.split(";")[0].strip().lower() not in (FHIR_JSON, "application/json"):
        raise FhirError(415, "Content-Type must be application/fhir+json", "not-supported")
    if parse_cost(data) > PARSE_FACTOR * max(len(data), PARSE_FLOOR_BYTES):
        raise FhirError(413, "body too costly to parse (too many small JSON values for its size)", "too-costly")
    try:
        document = loads(data)
    except (ValueError, UnicodeDecodeError):
        raise FhirError(400, "body is not valid JSON", "structure") from None
    except RecursionError:
        document = None
    if document is None or text_deeper_than(data, MAX_JSON_DEPTH):
        # FHIR resources nest a dozen levels; hundreds would only exhaust the recursion of later steps
        raise FhirError(400, f"body is nested more than {MAX_JSON_DEPTH} levels deep", "structure")
    return document


def text_deeper_than(data: bytes | bytearray, limit: int) -> bool:
    """`deeper_than` for the text of valid JSON, at C speed. Its strings are taken out: a backslash appears only in
    a string's escapes (RFC 8259 section 7), so once the escaped backslashes are gone every backslash left before a
    quote escapes it, and once those are gone too the quotes left pair up around the strings. Then each pass takes
    out every innermost pair of brackets (a pair with nothing inside): the text is empty after as many passes as it
    nests deep."""
    unescaped = bytes(data).replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in data else data
    pieces = unescaped.translate(None, _NOT_BRACKETS_OR_QUOTES).split(b'"')
    brackets = b"".join(pieces[::2]).translate(_PAIRS)  # the even pieces lie outside strings
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace(b"()", b"")
    return bool(brackets)


def deeper_than(value: Any, limit: int) -> bool:
    """True when the JSON value nests containers more than `limit` deep (checked without recursion; only the
    containers are visited)."""
    if not isinstance(value, (dict, list)):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def accepts_gzip(accept_encoding: str) -> bool:
    """Does this Accept-Encoding header take gzip (listed, and not with q=0)?"""
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False
