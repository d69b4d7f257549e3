"""Reading back what a PDF of ours says and how it is built, with the standard library only (a fresh machine has no
poppler): the objects by number, the FlateDecode streams, and the text drawn with each embedded font, its glyph ids
mapped back to characters through the font's ToUnicode CMap (ISO 32000-1 §9.10.3)."""
from __future__ import annotations

import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}


def objects(pdf: bytes) -> dict[int, bytes]:
    return {int(number): body for number, body in _OBJECT.findall(pdf)}


def stream(body: bytes) -> bytes:
    """The decoded stream of an object (FlateDecode when the dictionary says so)."""
    data = _STREAM.search(body).group(1)
    return zlib.decompress(data) if b"/FlateDecode" in body.split(b"stream")[0] else data


def _unescape(literal: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(literal):
        char = literal[i:i + 1]
        if char != b"\\":
            out += char
            i += 1
            continue
        following = literal[i + 1:i + 2]
        octal = re.match(rb"[0-7]{1,3}", literal[i + 1:i + 4])
        if octal:
            out.append(int(octal.group(0), 8) & 0xFF)
            i += 1 + len(octal.group(0))
        else:
            out += _ESCAPES.get(following, following)
            i += 2
    return bytes(out)


def _cmap(data: bytes) -> dict[int, str]:
    mapping = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for code, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(code, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for low, high, start in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            for offset in range(int(high, 16) - int(low, 16) + 1):
                mapping[int(low, 16) + offset] = chr(int(start, 16) + offset)
    return mapping


def text(pdf: bytes) -> str:
    """Every string drawn on every page, in drawing order, joined by spaces (non-breaking spaces as spaces)."""
    objs = objects(pdf)
    fonts = {}
    for name, number in re.findall(rb"/(F\d+) (\d+) 0 R", b"".join(re.findall(rb"/Font <<(.*?)>>", pdf, re.S))):
        to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", objs[int(number)]).group(1)
        fonts[name] = _cmap(stream(objs[int(to_unicode)]))
    pieces = []
    for body in objs.values():
        head = body.split(b"stream")[0]
        if b"stream" not in body or b"/Subtype" in head or b"/Length1" in head or b"/N 3" in head:
            continue
        content = stream(body)
        if b" Tj" not in content:
            continue
        font: dict[int, str] = {}
        for switch, literal in re.findall(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\)", content, re.S):
            if switch:
                font = fonts[switch]
                continue
            raw = _unescape(literal)
            pieces.append("".join(font.get(int.from_bytes(raw[i:i + 2], "big"), "?") for i in range(0, len(raw), 2)))
    return " ".join(pieces).replace("\u00a0", " ")
