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
    assert "erreur de mesure" in doc["message"]
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


# ---- non-standard oximeters ------------------------------------------------------------------------------------
from devices.parsers.berrymed import BerryMedStream, parse_berrymed_packet  # noqa: E402
from devices.parsers.pc60fw import Pc60fwStream, build_frame, crc8_maxim, parse_pc60fw_frame  # noqa: E402

BCI = [v for v in json.loads((Path(__file__).parent / "vectors" / "ble-vectors.json").read_text())
       if v["kind"] == "berrymed_bci"]


@pytest.mark.parametrize("vector", BCI, ids=[v["hex"] for v in BCI])
def test_berrymed_vectors(vector):
    doc = parse_berrymed_packet(bytes.fromhex(vector["hex"])).to_json()
    values = {o["field"]: o["value"] for o in doc["observations"]}
    assert values == {"spo2": str(vector["expect"]["spo2"]), "pulse_rate": str(vector["expect"]["pr"])}
    for key in ("pleth", "bargraph", "pulse_beep"):
        assert doc[key] == vector["expect"][key]


def test_berrymed_no_reading_markers_and_no_finger():
    doc = parse_berrymed_packet(bytes([0x80, 0x00, 0x00, 0x7F, 127])).to_json()  # PR 127 w/o bit7 is valid...
    assert [i["field"] for i in doc["invalid"]] == ["spo2"]
    doc = parse_berrymed_packet(bytes([0x80, 0x00, 0x40, 0x7F, 127])).to_json()  # PR 255, SpO2 127
    assert doc["observations"] == [] and {i["field"] for i in doc["invalid"]} == {"spo2", "pulse_rate"}
    doc = parse_berrymed_packet(bytes([0xC5, 0x32, 0x53, 0x02, 0x61])).to_json()  # no-finger flag set
    assert doc["observations"] == [] and "no_finger" in doc["status"]


def test_berrymed_stream_resyncs_over_split_and_junk():
    stream = BerryMedStream()
    packet = bytes.fromhex("C532430261")
    assert stream.feed(b"\x12\x34" + packet[:2]) == []
    (first,) = stream.feed(packet[2:] + packet[:1])
    assert first.observation("spo2").value == 97
    assert stream.feed(b"\xC5\x32") == []          # packet cut short by a new sync byte ...
    got = stream.feed(packet)                        # ... is dropped, the next whole one parsed
    assert len(got) == 1 and stream.dropped_bytes >= 3


def test_crc8_maxim_check_value():
    assert crc8_maxim(b"123456789") == 0xA1


def test_pc60fw_frame_and_bad_crc():
    frame = build_frame(0x0F, bytes([0x01, 97, 72, 0, 25, 0, 0]))
    doc = parse_pc60fw_frame(frame).to_json()
    assert {o["field"]: o["value"] for o in doc["observations"]} == {"spo2": "97", "pulse_rate": "72", "pai": "2.5"}
    with pytest.raises(ParseError, match="CRC"):
        parse_pc60fw_frame(frame[:-1] + bytes([frame[-1] ^ 0xFF]))


def test_pc60fw_stream_reassembles_split_frames_and_drops_bad_ones():
    good = build_frame(0x0F, bytes([0x01, 96, 80, 0, 12, 0, 0]))
    bad = good[:-1] + bytes([good[-1] ^ 0x01])
    wave = build_frame(0x0F, bytes([0x02, 10, 20, 30, 40, 50]))
    stream = Pc60fwStream()
    data = b"\x00\xAA" + bad + wave + good
    got = []
    for i in range(0, len(data), 3):                 # 3-byte notifications: frames span several
        got += stream.feed(data[i:i + 3])
    values = [p for p in got if p.details.get("values")]
    assert len(values) == 1 and values[0].observation("pulse_rate").value == 80
    assert stream.bad_frames >= 1


@given(st.lists(st.binary(max_size=12), max_size=8))
def test_fuzz_streams_never_raise(chunks):
    for stream in (BerryMedStream(), Pc60fwStream()):
        for chunk in chunks:
            for packet in stream.feed(chunk):
                for obs in packet.observations:
                    assert obs.value.is_finite()


def test_battery_level_and_device_strings():
    from devices.parsers.device_info import parse_battery_level, parse_utf8_string

    assert parse_battery_level(b"\x05").details == {"battery_percent": 5, "battery_low": True}
    assert parse_battery_level(b"\x65").invalid[0].reason == "reserved"  # 101 % is reserved
    assert parse_utf8_string(b"Relais\x00\x00junk") == "Relais"
    assert parse_utf8_string(b"\xff\xfeA ") == "\ufffd\ufffdA"
