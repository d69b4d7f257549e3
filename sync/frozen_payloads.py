"""How a frozen bundle is kept in the store: its UTF-8 bytes compressed with zlib (RFC 1950/1951) against a preset
dictionary (sync.frozen_payloads_dictionary), as a BLOB.

Why: the bundle's JSON is most of what a closed session stores (about 20 KB of repetitive text: system URLs, codes,
displays) and is read back only to be sent, so it is kept compressed, once: about a sixth of its size with zlib
alone, about a sixteenth with the dictionary, which already holds what every bundle repeats. Nothing is lost:
decompression gives the very bytes frozen at close (zlib is lossless), and those are what is resent.

A stream names the dictionary it needs by its Adler-32 checksum (RFC 1950 section 2.2, FDICT and DICTID), so a
dictionary added later never makes an older payload unreadable. A row stored as TEXT (written before compression,
or by hand in a test) is read as it is.
"""
from __future__ import annotations

import zlib

from sync.frozen_payloads_dictionary import DICTIONARY_V1

LEVEL = 6  # zlib's default: at 9 a bundle is barely smaller (under 1 %) and takes half again as long
_FDICT = 0x20  # bit 5 of the second header byte (FLG): a preset dictionary was used
DICTIONARIES = {zlib.adler32(DICTIONARY_V1): DICTIONARY_V1}  # DICTID → dictionary; append only
CURRENT = DICTIONARY_V1


def pack(text: str) -> tuple[bytes, int]:
    """The stored form of a frozen payload and its size in bytes once unpacked (what the wire carries)."""
    data = text.encode("utf-8")
    compressor = zlib.compressobj(LEVEL, zdict=CURRENT)
    return compressor.compress(data) + compressor.flush(), len(data)


def unpack(stored: str | bytes) -> str:
    """The frozen payload's text, exactly as it was frozen."""
    if isinstance(stored, str):
        return stored
    if len(stored) < 6 or not stored[1] & _FDICT:
        return zlib.decompress(stored).decode("utf-8")
    dictionary = DICTIONARIES.get(int.from_bytes(stored[2:6], "big"))
    if dictionary is None:
        raise ValueError("a frozen payload compressed with an unknown dictionary")
    inflater = zlib.decompressobj(zdict=dictionary)
    data = inflater.decompress(stored) + inflater.flush()
    if not inflater.eof:
        raise ValueError("a frozen payload is truncated")
    return data.decode("utf-8")
