"""How a frozen bundle is kept in the store: its UTF-8 bytes compressed with zlib (RFC 1950/1951), as a BLOB.

Why: the bundle's JSON is most of what a closed session stores (about 20 KB of repetitive text: system URLs, codes,
displays) and is read back only to be sent, so it is kept compressed, about a sixth of its size, once. Nothing is
lost: decompression gives the very bytes frozen at close (zlib is lossless), and those are what is resent.
A row stored as TEXT (written before compression, or by hand in a test) is read as it is.
"""
from __future__ import annotations

import zlib

LEVEL = 6  # zlib's default: at 9 a bundle is barely smaller (under 1 %) and takes half again as long


def pack(text: str) -> tuple[bytes, int]:
    """The stored form of a frozen payload and its size in bytes once unpacked (what the wire carries)."""
    data = text.encode("utf-8")
    return zlib.compress(data, LEVEL), len(data)


def unpack(stored: str | bytes) -> str:
    """The frozen payload's text, exactly as it was frozen."""
    if isinstance(stored, str):
        return stored
    return zlib.decompress(stored).decode("utf-8")
