"""IEEE-11073 SFLOAT/FLOAT codecs against the public vectors and by property."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from devices.ieee11073 import (Special, decode_float, decode_sfloat, encode_float, encode_sfloat,
                               float_from_bytes, sfloat_from_bytes)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "ble-vectors.json").read_text())
SPECIAL_NAMES = {"NaN": Special.NAN, "NRes": Special.NRES, "+INF": Special.POS_INF, "-INF": Special.NEG_INF,
                 "RFU": Special.RESERVED}


def number_vectors(kind):
    return [pytest.param(v, id=f"{kind}-{v['hex']}") for v in VECTORS if v["kind"] == kind]


@pytest.mark.parametrize("vector", number_vectors("sfloat"))
def test_sfloat_vectors(vector):
    decoded = sfloat_from_bytes(bytes.fromhex(vector["hex"]))
    if "special" in vector["expect"]:
        assert decoded is SPECIAL_NAMES[vector["expect"]["special"]]
    else:
        assert isinstance(decoded, Decimal)
        assert str(decoded) == vector["expect"]["value"]


@pytest.mark.parametrize("vector", number_vectors("float"))
def test_float_vectors(vector):
    decoded = float_from_bytes(bytes.fromhex(vector["hex"]))
    if "special" in vector["expect"]:
        assert decoded is SPECIAL_NAMES[vector["expect"]["special"]]
    else:
        assert str(decoded) == vector["expect"]["value"]


def test_precision_is_kept():
    assert str(decode_float(0xFE000EB0)) == "37.60"
    assert str(decode_sfloat(0xF065)) == "10.1"
    assert str(decode_sfloat(0xE0C8)) == "2.00"  # exponent -2, mantissa 200: 2.00, not 2


def test_specials_are_not_numbers():
    assert decode_sfloat(0x07FF) is Special.NAN and decode_sfloat(0x07FF) != 2047
    assert decode_sfloat(0x0800) is Special.NRES and decode_sfloat(0x0800) != -2048
    assert decode_float(0x007FFFFF) is Special.NAN


def test_negative_mantissa_and_exponent():
    # 0xED97: exponent -2, mantissa 0xD97 = -617 -> -6.17 (Nordic Kotlin lib decodes 34.79: wrong).
    assert decode_sfloat(0xED97) == Decimal("-6.17")


@given(st.integers(0, 0xFFFF))
def test_sfloat_any_raw_value_round_trips_or_is_special(raw):
    value = decode_sfloat(raw)
    if isinstance(value, Special):
        assert raw in (0x07FF, 0x0800, 0x07FE, 0x0802, 0x0801)
    else:
        assert value.is_finite()
        assert decode_sfloat(int.from_bytes(encode_sfloat(value), "little")) == value


@given(st.integers(0, 0xFFFFFFFF))
def test_float_any_raw_value_decodes_to_finite_or_special(raw):
    value = decode_float(raw)
    assert isinstance(value, Special) or value.is_finite()


@pytest.mark.parametrize("text", ["37.60", "36.97", "-40.0", "0", "2.00", "2E+1"])
def test_float_encode_keeps_written_precision(text):
    assert str(float_from_bytes(encode_float(Decimal(text)))) == text


@pytest.mark.parametrize("text", ["37.6", "98.0", "-40.0", "0", "2.00", "120"])
def test_sfloat_encode_keeps_written_precision(text):
    assert str(sfloat_from_bytes(encode_sfloat(Decimal(text)))) == text


def test_encode_refuses_values_that_would_read_back_as_specials():
    with pytest.raises(ValueError):
        encode_sfloat(Decimal(2047))       # 0x07FF is NaN
    with pytest.raises(ValueError):
        encode_sfloat(Decimal("123456"))   # does not fit 12 bits without losing digits
    assert encode_sfloat(Special.NAN) == b"\xff\x07"
