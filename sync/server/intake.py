"""How a request body comes into the development server with its memory bounded.

- A body announced larger than MAX_BODY_BYTES (Content-Length) is refused from the headers (413), before a byte of
  it is read; a chunked body (RFC 9112 §7.1) is read chunk by chunk and refused as soon as it passes the same cap.
- A large body (LARGE_BODY_BYTES or more) takes one of MAX_LARGE_AT_ONCE slots for as long as its request is
  handled; when none is free the request is answered 503 with Retry-After (RFC 9110 §15.6.4, §10.2.3) at once, so
  a burst of large uploads costs at most that many bodies' worth of memory (a gzipped body that is small on the
  wire takes its slot once inflated large). Small requests never wait for a slot.
- What a body costs once parsed is bounded in sync.server.wire (parse_cost).
A refused body is drained in small pieces (never held whole) or the connection closed, so it is never parsed as
the next request.
"""
from __future__ import annotations

import threading
from email.message import Message
from typing import BinaryIO, Callable

from sync.server.outcome import FhirError
from sync.server.wire import MAX_BODY_BYTES

LARGE_BODY_BYTES = 1024 * 1024
MAX_LARGE_AT_ONCE = 2
BUSY_RETRY_AFTER_SECONDS = 5
DRAIN_PIECE_BYTES = 64 * 1024
_MAX_CHUNK_LINE = 1024


class LargeBodies:
    """The slots for large bodies handled at once (thread-safe: the server is threaded)."""

    def __init__(self, slots: int = MAX_LARGE_AT_ONCE) -> None:
        self._slots = threading.BoundedSemaphore(slots)

    def take(self) -> Callable[[], None]:
        """Take a slot, or refuse with 503 and Retry-After; returns what gives it back."""
        if not self._slots.acquire(blocking=False):
            raise FhirError(503, "the server is handling other large requests: try again shortly", "transient",
                            retry_after=BUSY_RETRY_AFTER_SECONDS)
        return self._slots.release


def announced_length(headers: Message) -> int:
    """The Content-Length of a body that is not chunked: 411 without one, 413 over the limit."""
    try:
        length = int(headers.get("Content-Length", ""))
    except ValueError:
        raise FhirError(411, "Content-Length required (or a chunked body)", "required") from None
    if length < 0 or length > MAX_BODY_BYTES:
        raise FhirError(413, f"body larger than {MAX_BODY_BYTES} bytes", "too-costly")
    return length


def read_body(headers: Message, rfile: BinaryIO, on_large: Callable[[], None]) -> bytes | bytearray:
    """The raw request body (before any Content-Encoding), at most MAX_BODY_BYTES; `on_large()` is called before a
    large body is read (it may refuse)."""
    coding = (headers.get("Transfer-Encoding") or "").strip().lower()
    if coding:
        if coding != "chunked":
            raise FhirError(501, f"Transfer-Encoding {coding!r} is not supported", "not-supported")
        return _read_chunked(rfile, on_large)
    length = announced_length(headers)
    if length >= LARGE_BODY_BYTES:
        on_large()
    data = rfile.read(length)
    if len(data) != length:
        raise FhirError(400, "body shorter than its Content-Length", "incomplete")
    return data


def _read_chunked(rfile: BinaryIO, on_large: Callable[[], None]) -> bytearray:
    body = bytearray()
    large = False
    while True:
        line = rfile.readline(_MAX_CHUNK_LINE + 1)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise FhirError(400, "malformed chunked body", "structure") from None
        if size < 0 or len(line) > _MAX_CHUNK_LINE:
            raise FhirError(400, "malformed chunked body", "structure")
        if size == 0:
            _skip_trailers(rfile)
            return body
        if len(body) + size > MAX_BODY_BYTES:
            raise FhirError(413, f"body larger than {MAX_BODY_BYTES} bytes", "too-costly")
        if not large and len(body) + size >= LARGE_BODY_BYTES:
            on_large()
            large = True
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.read(2) != b"\r\n":
            raise FhirError(400, "malformed chunked body", "structure")
        body += chunk


def _skip_trailers(rfile: BinaryIO) -> None:
    for _ in range(100):
        line = rfile.readline(_MAX_CHUNK_LINE + 1)
        if line in (b"\r\n", b"\n", b""):
            return
    raise FhirError(400, "too many trailer fields", "structure")


def drain(rfile: BinaryIO, length: int) -> None:
    """Read and drop `length` bytes in small pieces."""
    while length > 0:
        piece = rfile.read(min(length, DRAIN_PIECE_BYTES))
        if not piece:
            return
        length -= len(piece)
