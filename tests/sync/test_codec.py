"""The wire JSON made by the C encoder is byte for byte the plain Python encoder's (the reference kept in
sync.fhir.codec): every golden bundle, decimals as written, non-ASCII and control characters, a string holding the
decimal marker; floats and non-string keys still refused; and a merged batch spliced from the frozen texts is the
very body the merge made by encoding every entry again."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from sync import batching, fhir, outbox
from sync.fhir import codec
from tests.support.samples import closed_session

GOLDEN = sorted(Path(__file__).with_name("golden").glob("*.json"))


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_every_golden_bundle_encodes_to_its_bytes(path):
    frozen = path.read_bytes()
    parsed = fhir.loads(frozen)
    assert fhir.dumps_bundle(parsed) == frozen == codec.plain_dumps(parsed).encode("utf-8")


DECIMALS = ["37.60", "0.1", "1E+2", "-0.500", "0", "-0", "1E-7", "123456789012345678901234567890.000001", "2.50E+3"]


@pytest.mark.parametrize("text", DECIMALS)
def test_decimals_are_written_as_today(text):
    value = {"a": Decimal(text), "b": [Decimal(text), {"c": Decimal(text)}]}
    assert fhir.dumps(value) == codec.plain_dumps(value)
    assert fhir.dumps({"v": Decimal(text)}) == '{"v":' + format(Decimal(text), "f") + "}"


def test_strings_of_every_kind_are_written_as_today():
    value = {"é": "Chèvrefeuille — Œillette", "ctl": "".join(chr(c) for c in range(32)) + '"\\/\x7f',
             "emoji": "🌡️ 37,6 °C", "nested": [["", "\u2028\u2029"], {"z": None, "A": True, "a": False}],
             "looks_like_numbers": "urn:oid:1.2.250, [1.5], :2e5}", "ints": [0, -1, 10 ** 30], "tuple": (1, "x")}
    assert fhir.dumps(value) == codec.plain_dumps(value)


def test_a_string_holding_the_marker_cannot_fool_the_encoder(monkeypatch):
    monkeypatch.setattr(codec, "_marker", lambda: "\x1dfixed\x1d")
    value = {"a": "\x1dfixed\x1d", "b": Decimal("37.60"), "c": ["\x1dfixed\x1d", Decimal("1E+2")]}
    assert fhir.dumps(value) == codec.plain_dumps(value) == '{"a":"\\u001dfixed\\u001d","b":37.60,"c":["\\u001dfixed\\u001d",100]}'
    assert fhir.dumps({"only": "\x1dfixed\x1d"}) == '{"only":"\\u001dfixed\\u001d"}'


@pytest.mark.parametrize("value", [{"v": 37.6}, {"v": [1e100]}, {"v": float("nan")}, {"v": float("-inf")},
                                   {"v": {"w": 0.0}}, [1.5]])
def test_floats_are_refused(value):
    with pytest.raises(TypeError):
        fhir.dumps(value)


@pytest.mark.parametrize("value", [{1: "x"}, {"a": {None: 1}}, {"a": [{2.5: 1}]}, {"a": {True: 1}}])
def test_keys_that_are_not_strings_are_refused(value):
    with pytest.raises(TypeError):
        fhir.dumps(value)


def test_decimals_json_cannot_hold_and_unknown_objects_are_refused():
    for bad in (Decimal("NaN"), Decimal("Infinity"), Decimal("-sNaN")):
        with pytest.raises(ValueError):
            fhir.dumps({"v": bad})
    with pytest.raises(TypeError):
        fhir.dumps({"v": object()})


# -- the merge spliced from the frozen texts ------------------------------------------------------------------------

def merge_by_encoding(entries):
    """The merge as it was made before: every frozen payload parsed and each entry encoded again."""
    merged, seen = [], {}
    for entry in entries:
        for item in fhir.loads(entry.payload).get("entry") or []:
            text = codec.plain_dumps(item)
            if item["fullUrl"] in seen:
                assert seen[item["fullUrl"]] == text
                continue
            seen[item["fullUrl"]] = text
            merged.append(item)
    return codec.plain_dumps({"resourceType": "Bundle", "type": "transaction", "entry": merged}).encode("utf-8")


def test_the_spliced_merge_is_the_body_the_encoding_merge_made(store):
    patient_id, _, first = closed_session(store, family_name="Élise", value="37.60")
    _, _, second = closed_session(store, patient_id=patient_id, value="38.10")
    _, _, third = closed_session(store, family_name="Œillette", value="36.9")
    entries = [outbox.get_entry(store, i) for i in (first, second, third)]
    batch = batching.merge(entries)
    assert batch.body == merge_by_encoding(entries)
    assert fhir.loads(batch.body) == json.loads(merge_by_encoding(entries), parse_float=Decimal)


def test_a_payload_in_another_form_is_merged_by_encoding_its_entries(store):
    _, _, first = closed_session(store, family_name="Alpha")
    _, _, second = closed_session(store, family_name="Bravo")
    a, b = (outbox.get_entry(store, i) for i in (first, second))
    loose = outbox.OutboxEntry(**{**b.__dict__, "payload": b.payload.replace('{"entry":[', '{"entry": [ ', 1)})
    assert batching.frozen_entries(loose.payload) == batching.frozen_entries(b.payload)
    assert batching.merge([a, loose]).body == batching.merge([a, b]).body == merge_by_encoding([a, b])


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_what_loads_returned_is_written_back_the_same_without_the_checks(path):
    """The server stores what it parsed with `dumps_loaded`: the same text as `dumps`, decimals as written."""
    parsed = codec.loads(path.read_bytes())
    parsed["id"], parsed["meta"] = "server-id", {"versionId": "2", "lastUpdated": "2026-12-01T08:00:00.000+00:00"}
    assert codec.dumps_loaded(parsed) == codec.dumps(parsed)
    assert codec.loads(codec.dumps_loaded(parsed)) == parsed
