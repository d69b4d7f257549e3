"""Every characteristic vector in the public set, and fuzzing of every registered parser."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from devices.ieee11073 import Special
from devices.parsers import PARSERS, ParseError, parse

VECTORS = [v for v in json.loads((Path(__file__).parent / "vectors" / "ble-vectors.json").read_text())
           if v["kind"] in ("2A35", "2A5E", "2A5F", "2A60")]
BP_UNITS = {"mmHg": "mm[Hg]", "kPa": "kPa"}
FIELD = {"systolic": "systolic", "diastolic": "diastolic", "map": "mean_arterial_pressure", "pulse": "pulse_rate",
         "spo2": "spo2", "pr": "pulse_rate", "spo2_fast": "spo2_fast", "pr_fast": "pulse_rate_fast",
         "spo2_slow": "spo2_slow", "pr_slow": "pulse_rate_slow", "pai": "pai"}


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{v['kind']}-{v['hex']}" for v in VECTORS])
def test_characteristic_vectors(vector):
    result = parse(vector["kind"], bytes.fromhex(vector["hex"]))
    doc = result.to_json()
    values = {o["field"]: o["value"] for o in doc["observations"]}
    for key, expected in vector["expect"].items():
        if key in FIELD:
            assert values[FIELD[key]] == expected, key
        elif key == "unit":
            assert {o["unit"] for o in doc["observations"] if o["field"] != "pulse_rate"} == {BP_UNITS[expected]}
        elif key == "timestamp":
            assert doc["timestamp_text"] == expected
        elif key == "status":
            assert sorted(doc["status"]) == sorted(expected)
        else:  # user_id, pulse_range, meas_status, dev_status, supported, *_support
            assert doc[key] == expected, key
    assert doc["invalid"] == []


def test_all_nan_blood_pressure_is_a_device_error_not_2047():
    doc = parse("2A35", bytes.fromhex("00FF07FF07FF07")).to_json()
    assert doc["observations"] == [] and doc["device_error"] is True
    assert "2047" not in json.dumps(doc)


def test_intermediate_cuff_pressure_reports_cuff_pressure_only():
    doc = parse("2A36", bytes.fromhex("00" + "7800" + "FF07" + "FF07")).to_json()
    assert [(o["field"], o["value"]) for o in doc["observations"]] == [("cuff_pressure", "120")]
    assert doc["invalid"] == []


def test_spot_check_with_device_clock_not_set_has_no_timestamp():
    doc = parse("2A5E", bytes.fromhex("11" + "6100" + "4800" + "E8070B1D170839")).to_json()
    assert doc["timestamp"] is None and doc["device_clock_not_set"] is True


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_empty_input_is_a_parse_error(kind):
    with pytest.raises(ParseError):
        parse(kind, b"")


SPECIAL_STRINGS = {s.value for s in Special}


@settings(max_examples=300)
@given(kind=st.sampled_from(sorted(PARSERS)), data=st.binary(max_size=32))
def test_fuzz_every_parser(kind, data):
    try:
        result = parse(kind, data)
    except ParseError:
        return
    for obs in result.observations:
        assert obs.value.is_finite()
        assert abs(obs.value) < 10 ** 140
    for item in result.invalid:
        assert item.reason in SPECIAL_STRINGS
    json.dumps(result.to_json())
