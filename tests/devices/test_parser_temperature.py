"""Temperature Measurement 0x2A1C / Intermediate Temperature 0x2A1E parser: vectors, flags, errors, fuzzing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from devices.parsers import ParseError, parse
from devices.parsers.temperature import parse_intermediate_temperature, parse_temperature_measurement

VECTORS = [v for v in json.loads((Path(__file__).parent / "vectors" / "ble-vectors.json").read_text())
           if v["kind"] == "2A1C"]
UNITS = {"C": "Cel", "F": "[degF]"}


@pytest.mark.parametrize("vector", VECTORS, ids=[v["hex"] for v in VECTORS])
def test_public_vectors(vector):
    result = parse_temperature_measurement(bytes.fromhex(vector["hex"]))
    expect = vector["expect"]
    (obs,) = result.observations
    assert obs.code == "8310-5"
    assert str(obs.value) == expect["value"]
    assert obs.unit == UNITS[expect["unit"]]
    if "timestamp" in expect:
        assert result.timestamp.describe() == expect["timestamp"]
        assert result.to_json()["timestamp"] == expect["timestamp"].replace(" ", "T")
    else:
        assert result.timestamp is None
    assert result.details.get("temperature_type") == expect.get("type")
    assert result.invalid == ()


def test_fahrenheit_flag_gives_ucum_degf():
    result = parse_temperature_measurement(bytes.fromhex("01") + bytes.fromhex("AE0300FF"))  # 94.2 °F
    assert result.observations[0].unit == "[degF]" and str(result.observations[0].value) == "94.2"


@pytest.mark.parametrize("hexstr,reason", [("00FFFF7F00", "NaN"), ("0000008000", "NRes"), ("00FEFF7F00", "+INF"),
                                            ("0002008000", "-INF"), ("0001008000", "reserved")])
def test_special_values_are_reported_invalid_never_as_readings(hexstr, reason):
    result = parse_temperature_measurement(bytes.fromhex(hexstr))
    assert result.observations == ()
    assert [(i.field, i.reason) for i in result.invalid] == [("temperature", reason)]


@pytest.mark.parametrize("hexstr", ["", "00", "00B00E00", "02B00E00FEDC07", "04B00E00FE", "06B00E00FEDC070C050B321B"])
def test_too_short_for_flags_is_an_error(hexstr):
    with pytest.raises(ParseError):
        parse_temperature_measurement(bytes.fromhex(hexstr))


def test_rfu_flag_bits_are_ignored_and_trailing_bytes_tolerated():
    result = parse_temperature_measurement(bytes.fromhex("F8B00E00FE00"))
    assert str(result.observations[0].value) == "37.60"


def test_unknown_date_parts_give_no_iso_timestamp():
    result = parse_temperature_measurement(bytes.fromhex("02B00E00FE" + "0000" + "0C05" + "0B321B"))
    assert result.timestamp.year is None
    assert result.to_json()["timestamp"] is None
    assert result.timestamp.describe() == "year-unknown 12-05 11:50:27"


def test_impossible_date_is_reported_not_invented():
    result = parse_temperature_measurement(bytes.fromhex("02B00E00FE" + "DC07" + "0D05" + "0B321B"))  # month 13
    assert result.timestamp is None
    assert ("timestamp", "reserved") in [(i.field, i.reason) for i in result.invalid]
    assert str(result.observations[0].value) == "37.60"


def test_reserved_temperature_type():
    result = parse_temperature_measurement(bytes.fromhex("04B00E00FE0A"))
    assert ("temperature_type", "reserved") in [(i.field, i.reason) for i in result.invalid]


def test_intermediate_is_marked_for_display_only():
    assert parse_intermediate_temperature(bytes.fromhex("00B00E00FE")).details["intermediate"] is True
    assert parse("2a1e", bytes.fromhex("00B00E00FE")).characteristic == "2A1E"


SPECIAL_RAWS = {bytes.fromhex(h) for h in ("FFFF7F00", "00008000", "FEFF7F00", "02008000", "01008000")}


@given(st.binary(max_size=24))
def test_fuzz_only_parse_errors_and_never_a_special_as_number(data):
    for parser in (parse_temperature_measurement, parse_intermediate_temperature):
        try:
            result = parser(data)
        except ParseError:
            continue
        if data[1:5] in SPECIAL_RAWS:
            assert result.observations == ()
            assert result.invalid[0].field == "temperature"
        for obs in result.observations:
            assert obs.value.is_finite()
        json.dumps(result.to_json())
