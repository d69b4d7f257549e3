"""The development server stores what it receives without copying it: a parsed request body has its references
rewritten in place and is stored as sent (plus its server id and meta); a bundle handed in by a caller that keeps
it (owned=False) is left untouched; both store the same resources; a body's depth is checked on its text."""
from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from sync import fhir
from sync.server import bundles, wire
from sync.server.resources import ResourceDB
from tests.sync.test_fhir import PATIENT, SESSION, measurement


@pytest.fixture
def db(tmp_path):
    return ResourceDB(tmp_path / "server.db")


def stored_without_server_fields(db: ResourceDB, rtype: str) -> list[dict]:
    found = db.search(rtype, [])
    out = []
    for resource in found:
        meta = {k: v for k, v in resource["meta"].items() if k not in ("versionId", "lastUpdated")}
        kept = {k: v for k, v in resource.items() if k not in ("id", "meta")}
        out.append({**kept, **({"meta": meta} if meta else {})})
    return out


def test_an_owned_body_is_rewritten_in_place_and_stored_as_sent(db, tmp_path, monkeypatch):
    bundle = fhir.session_bundle(PATIENT, SESSION, [measurement()])
    sent = copy.deepcopy(bundle)
    copies = []
    monkeypatch.setattr(bundles, "rewrite_references", lambda *a, **k: copies.append(a) or a[0])
    observation = bundle["entry"][1]["resource"]
    db.transaction(bundle, owned=True)
    assert copies == []  # no copy made of an owned body
    assert observation is bundle["entry"][1]["resource"]
    assert observation["subject"]["reference"].startswith("Patient/")  # rewritten in place
    stored = db.search("Observation", [])[0]
    assert stored["valueQuantity"]["value"] == Decimal("37.60")
    expected = {**sent["entry"][1]["resource"], "subject": observation["subject"],
                "encounter": observation["encounter"]}
    assert stored_without_server_fields(db, "Observation") == [expected]


def test_a_bundle_the_caller_keeps_is_not_changed_and_gives_the_same_resources(db, tmp_path):
    bundle = fhir.session_bundle(PATIENT, SESSION, [measurement()])
    sent = copy.deepcopy(bundle)
    db.transaction(bundle)
    assert bundle == sent
    other = ResourceDB(tmp_path / "other.db")
    other.transaction(copy.deepcopy(sent), owned=True)
    for rtype in ("Patient", "Observation", "Encounter"):
        mine, theirs = stored_without_server_fields(db, rtype), stored_without_server_fields(other, rtype)
        assert len(mine) == len(theirs) == 1
        for a, b in zip(mine, theirs):  # only the server ids in references differ
            assert fhir.dumps(a).count("/") == fhir.dumps(b).count("/") and a.keys() == b.keys()


@pytest.mark.parametrize("doc", [{"a": "[[[[{"}, [[[]]], {"a": [{"b": {"c": [1]}}]}, 5, "x", [], {},
                                 {"s": '\\"[[', "t": "]]]]"}, {"deep": [[[[[[{}]]]]]]},
                                 {"a\\": ["]\\", {"b": '\\\\"{'}]}, ["\\", ['[\\"', [{}]]], {"x": "\\\\"}])
def test_the_depth_of_a_body_is_read_from_its_text_as_from_its_objects(doc):
    text = json.dumps(doc).encode("utf-8")
    for limit in range(0, 9):
        assert wire.text_deeper_than(text, limit) == wire.deeper_than(doc, limit), limit
