"""IEEE 11073-20601 medical number formats: SFLOAT (16 bit) and FLOAT (32 bit).

Layout (IEEE 11073-20601 §F.8; HL7 PHD IG "MDER FLOATs and SFLOATs"; Bluetooth GATT Specification Supplement):
  SFLOAT = exponent:4 | mantissa:12, FLOAT = exponent:8 | mantissa:24, both fields signed two's complement,
  value = mantissa * 10**exponent, little-endian on the wire.
Special values (exponent 0) are NaN, NRes, +INF, -INF and a reserved code. They are never numbers: decoding
returns a :class:`Special` member, and callers must report the field as invalid.
The exponent carries precision (2, 2.0, 2.00 differ), so values decode to :class:`~decimal.Decimal` with the
exponent kept: 0xFE000EB0 -> Decimal("37.60"), never 37.6.
"""
from __future__ import annotations

import enum
from decimal import Decimal


class Special(str, enum.Enum):
    """Reserved 11073 values; the string is the name used in reports and the decode contract."""

    NAN = "NaN"            # not a number: no valid measurement
    NRES = "NRes"          # not at this resolution: out of the measurable range
    POS_INF = "+INF"       # above the range
    NEG_INF = "-INF"       # below the range
    RESERVED = "reserved"  # reserved for future use: treat as invalid


_SFLOAT_SPECIALS = {0x07FF: Special.NAN, 0x0800: Special.NRES, 0x07FE: Special.POS_INF,
                    0x0802: Special.NEG_INF, 0x0801: Special.RESERVED}
_FLOAT_SPECIALS = {0x007FFFFF: Special.NAN, 0x00800000: Special.NRES, 0x007FFFFE: Special.POS_INF,
                   0x00800002: Special.NEG_INF, 0x00800001: Special.RESERVED}


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def _compose(mantissa: int, exponent: int) -> Decimal:
    # scaleb keeps the exponent, so 3760e-2 stays "37.60" and 2e1 prints "2E+1".
    return Decimal(mantissa).scaleb(exponent)


def decode_sfloat(raw: int) -> Decimal | Special:
    """Decode a 16-bit SFLOAT given as an unsigned integer (already assembled little-endian)."""
    if not 0 <= raw <= 0xFFFF:
        raise ValueError(f"SFLOAT out of 16-bit range: {raw!r}")
    if raw in _SFLOAT_SPECIALS:
        return _SFLOAT_SPECIALS[raw]
    return _compose(_signed(raw & 0x0FFF, 12), _signed(raw >> 12, 4))


def decode_float(raw: int) -> Decimal | Special:
    """Decode a 32-bit FLOAT given as an unsigned integer (already assembled little-endian)."""
    if not 0 <= raw <= 0xFFFFFFFF:
        raise ValueError(f"FLOAT out of 32-bit range: {raw!r}")
    if raw in _FLOAT_SPECIALS:
        return _FLOAT_SPECIALS[raw]
    return _compose(_signed(raw & 0x00FFFFFF, 24), _signed(raw >> 24, 8))


def sfloat_from_bytes(data: bytes, offset: int = 0) -> Decimal | Special:
    return decode_sfloat(int.from_bytes(data[offset:offset + 2], "little"))


def float_from_bytes(data: bytes, offset: int = 0) -> Decimal | Special:
    return decode_float(int.from_bytes(data[offset:offset + 4], "little"))


def _split(value: Decimal | str | int) -> tuple[int, int]:
    """Mantissa and exponent of a finite decimal, keeping its written precision."""
    d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if not d.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    sign, digits, exponent = d.as_tuple()
    mantissa = int("".join(map(str, digits)) or "0")
    return (-mantissa if sign else mantissa), int(exponent)


def _encode(value: Decimal | str | int | Special, mbits: int, ebits: int, specials: dict[int, Special]) -> int:
    if isinstance(value, Special):
        return {v: k for k, v in specials.items()}[value]
    mantissa, exponent = _split(value)
    mmax, emin, emax = (1 << (mbits - 1)) - 1, -(1 << (ebits - 1)), (1 << (ebits - 1)) - 1
    # Bring the exponent into range without losing digits (trailing zeros only).
    while exponent > emax and abs(mantissa * 10) <= mmax:
        mantissa, exponent = mantissa * 10, exponent - 1
    while exponent < emin and mantissa % 10 == 0:
        mantissa, exponent = mantissa // 10, exponent + 1
    if not (-mmax - 1 <= mantissa <= mmax and emin <= exponent <= emax):
        raise ValueError(f"{value!r} does not fit a {mbits + ebits}-bit 11073 number")
    raw = ((exponent & ((1 << ebits) - 1)) << mbits) | (mantissa & ((1 << mbits) - 1))
    if raw in specials:  # e.g. mantissa 2047 at exponent 0 would read back as NaN
        raise ValueError(f"{value!r} collides with the reserved value {specials[raw].value}")
    return raw


def encode_sfloat(value: Decimal | str | int | Special) -> bytes:
    """Encode for simulated devices and tests: Decimal("37.6") -> exponent -1, mantissa 376."""
    return _encode(value, 12, 4, _SFLOAT_SPECIALS).to_bytes(2, "little")


def encode_float(value: Decimal | str | int | Special) -> bytes:
    return _encode(value, 24, 8, _FLOAT_SPECIALS).to_bytes(4, "little")
