"""The development server's search, as a pulling tablet uses it: `_lastUpdated` and `date` with prefixes, `_tag`,
the site references, `_include`, `_count` pages with `next` links whose cursor stays right when resources arrive
between two pages, and a 400 for anything it does not do."""
from __future__ import annotations

import itertools
import sqlite3

import pytest
import requests

from sync.server import resources as server_resources
from sync.server.handler import capability_statement
from sync.server.outcome import FhirError
from sync.server.resources import ResourceDB

TAG = "https://relais.example.org/fhir/CodeSystem/site"


@pytest.fixture
def clock(monkeypatch):
    """The server's clock, one millisecond per stored transaction unless a test sets it."""
    ticks = itertools.count()
    now = {"value": None}

    def fake_now():
        return now["value"] or f"2026-11-30T10:00:00.{next(ticks):03d}+00:00"

    monkeypatch.setattr(server_resources, "_now", fake_now)
    return now


def store(db: ResourceDB, *resources: dict) -> list[str]:
    """One transaction per resource; the ids the server gave."""
    ids = []
    for resource in resources:
        reply = db.transaction({"resourceType": "Bundle", "type": "transaction",
                                "entry": [{"resource": resource, "request": {"method": "POST",
                                                                             "url": resource["resourceType"]}}]})
        ids.append(reply["entry"][0]["response"]["location"].split("/")[1])
    return ids


def patient(n: int, **extra) -> dict:
    return {"resourceType": "Patient", "identifier": [{"system": "urn:test", "value": f"p{n}"}], **extra}


def values(found: list[dict]) -> list[str]:
    return [r["identifier"][0]["value"] for r in found]


def test_last_updated_prefixes_are_instants_and_repeatable(tmp_path, clock):
    db = ResourceDB(tmp_path / "s.db")
    store(db, *(patient(n) for n in range(5)))  # stamped .000 to .004
    at = "2026-11-30T10:00:00.002Z"
    assert values(db.search("Patient", [("_lastUpdated", f"ge{at}")])) == ["p2", "p3", "p4"]
    assert values(db.search("Patient", [("_lastUpdated", f"gt{at}")])) == ["p3", "p4"]
    assert values(db.search("Patient", [("_lastUpdated", f"le{at}")])) == ["p0", "p1", "p2"]
    assert values(db.search("Patient", [("_lastUpdated", f"lt{at}")])) == ["p0", "p1"]
    assert values(db.search("Patient", [("_lastUpdated", at)])) == ["p2"]
    assert values(db.search("Patient", [("_lastUpdated", "ge2026-11-30T10:00:00.001+00:00"),
                                        ("_lastUpdated", "lt2026-11-30T10:00:00.003+00:00")])) == ["p1", "p2"]
    # a value covers its precision: the whole day, the whole second
    assert len(db.search("Patient", [("_lastUpdated", "ge2026-11-30")])) == 5
    assert db.search("Patient", [("_lastUpdated", "gt2026-11-30")]) == []
    assert len(db.search("Patient", [("_lastUpdated", "2026-11-30T11:00:00+01:00")])) == 5


def test_count_pages_follow_a_cursor_that_new_resources_do_not_shift(tmp_path, clock):
    db = ResourceDB(tmp_path / "s.db")
    store(db, *(patient(n) for n in range(5)))
    base = "http://127.0.0.1:1/fhir"
    first = db.search_bundle("Patient", [("_count", "2"), ("_sort", "_lastUpdated")], base)
    assert first["total"] == 5 and values([e["resource"] for e in first["entry"]]) == ["p0", "p1"]
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert links["self"].startswith(f"{base}/Patient?") and links["next"].startswith(f"{base}/Patient?")
    seen = values([e["resource"] for e in first["entry"]])
    store(db, patient(5))  # arrives between two pages: it comes at the end, nothing shifts, nothing repeats
    clock["value"] = "2026-11-30T10:00:00.001+00:00"  # one stamped at the very instant the last page ended on
    store(db, patient(6))
    clock["value"] = None
    url = links["next"]
    while url:
        query = [tuple(p.split("=", 1)) for p in url.split("?", 1)[1].split("&")]
        page = db.search_bundle("Patient", [(k, requests.utils.unquote(v)) for k, v in query], base)
        seen += values([e["resource"] for e in page["entry"]])
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert sorted(seen) == ["p0", "p1", "p2", "p3", "p4", "p5", "p6"] and len(seen) == 7


def test_count_is_bounded_and_zero_gives_the_total(tmp_path, clock):
    db = ResourceDB(tmp_path / "s.db")
    store(db, *(patient(n) for n in range(3)))
    assert len(db.search("Patient", [("_count", "100000")])) == 3
    counted = db.search_bundle("Patient", [("_count", "0")], "http://h/fhir")
    assert counted["total"] == 3 and counted["entry"] == []


def site_records(db: ResourceDB) -> dict[str, str]:
    org, other = store(db, {"resourceType": "Organization", "identifier": [{"system": "urn:o", "value": "A"}]},
                       {"resourceType": "Organization", "identifier": [{"system": "urn:o", "value": "B"}]})
    resident, elsewhere = store(db, patient(1, managingOrganization={"reference": f"Organization/{org}"}),
                                patient(2, managingOrganization={"reference": f"Organization/{other}"}))
    tag = {"system": TAG, "code": "000000018"}
    encounter, = store(db, {"resourceType": "Encounter", "status": "finished", "meta": {"tag": [tag]},
                            "subject": {"reference": f"Patient/{resident}"},
                            "serviceProvider": {"reference": f"Organization/{org}"},
                            "period": {"start": "2026-09-01T23:30:00-02:00"}})
    old, recent = store(db, *({"resourceType": "Observation", "status": "final", "meta": {"tag": [tag]},
                               "identifier": [{"system": "urn:obs", "value": v}],
                               "subject": {"reference": f"Patient/{resident}"},
                               "encounter": {"reference": f"Encounter/{encounter}"}, "effectiveDateTime": when}
                              for v, when in (("old", "2026-08-01T10:00:00+02:00"),
                                              ("recent", "2026-11-29T10:00:00+01:00"))))
    return {"org": org, "other": other, "resident": resident, "elsewhere": elsewhere, "encounter": encounter,
            "old": old, "recent": recent}


def test_site_searches_organization_tag_date_encounter_and_include(tmp_path, clock):
    db = ResourceDB(tmp_path / "s.db")
    ids = site_records(db)
    assert [r["id"] for r in db.search("Patient", [("organization", f"Organization/{ids['org']}")])] == \
        [ids["resident"]]
    assert [r["id"] for r in db.search("Patient", [("organization", ids["other"])])] == [ids["elsewhere"]]
    tagged = [r["id"] for r in db.search("Observation", [("_tag", f"{TAG}|000000018")])]
    assert tagged == [ids["old"], ids["recent"]]
    assert db.search("Observation", [("_tag", f"{TAG}|999999999")]) == []
    assert [r["id"] for r in db.search("Observation", [("date", "ge2026-09-01")])] == [ids["recent"]]
    assert [r["id"] for r in db.search("Observation", [("date", "le2026-09-01")])] == [ids["old"]]
    # the Encounter began 2026-09-02T01:30Z: a date is compared as an instant, whatever offset it was written with
    assert db.search("Encounter", [("date", "lt2026-09-02T01:00:00Z")]) == []
    assert len(db.search("Encounter", [("date", "ge2026-09-02T01:30:00Z")])) == 1
    assert len(db.search("Observation", [("encounter", f"Encounter/{ids['encounter']}")])) == 2
    assert len(db.search("Encounter", [("service-provider", f"Organization/{ids['org']}")])) == 1
    page = db.search_bundle("Observation", [("_tag", f"{TAG}|000000018"), ("_include", "Observation:subject"),
                                            ("_include", "Observation:encounter")], "http://h/fhir")
    modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in page["entry"]]
    assert modes == [("Observation", "match"), ("Observation", "match"), ("Patient", "include"),
                     ("Encounter", "include")]
    assert page["total"] == 2  # included resources are not matches


@pytest.mark.parametrize("params", [
    [("_sort", "-_lastUpdated")], [("name", "x")], [("_include", "Observation:performer")],
    [("_include", "Encounter:subject")], [("_lastUpdated", "sa2026-01-01")], [("_lastUpdated", "ge-yesterday")],
    [("_count", "ten")], [("_cursor", "not-ours")], [("date", "ge2026-01-01")]])
def test_what_the_server_does_not_do_is_refused_not_ignored(tmp_path, params):
    db = ResourceDB(tmp_path / "s.db")
    with pytest.raises(FhirError) as refused:
        db.search("Patient", params)
    assert refused.value.status == 400


def test_a_server_file_from_before_the_index_is_indexed_on_start(tmp_path, clock):
    db = ResourceDB(tmp_path / "s.db")
    ids = site_records(db)
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("DROP TABLE search_index")
    again = ResourceDB(tmp_path / "s.db")
    assert [r["id"] for r in again.search("Patient", [("organization", ids["org"])])] == [ids["resident"]]


def test_capability_statement_lists_the_searches():
    rest = capability_statement()["rest"][0]["resource"]
    by_type = {r["type"]: r for r in rest}
    assert {"organization", "_lastUpdated", "_tag"} <= {p["name"] for p in by_type["Patient"]["searchParam"]}
    assert {"date", "encounter", "_tag"} <= {p["name"] for p in by_type["Observation"]["searchParam"]}
    assert {"service-provider", "date"} <= {p["name"] for p in by_type["Encounter"]["searchParam"]}
    assert "PractitionerRole:practitioner" in by_type["PractitionerRole"]["searchInclude"]
    # the doctors' conclusions, pulled by the site's tag (sync.pull.conclusions)
    assert {"_tag", "identifier", "_lastUpdated"} <= {p["name"] for p in by_type["ClinicalImpression"]["searchParam"]}


def test_next_links_are_absolute_and_followed_over_http(server):
    for n in range(3):
        requests.post(f"{server.url}/Patient", json=patient(100 + n), timeout=10,
                      headers={"Content-Type": "application/fhir+json"}).raise_for_status()
    url, params, found = f"{server.url}/Patient", {"identifier": "urn:test|p101", "_count": "1"}, []
    reply = requests.get(url, params={"_count": "1", "_sort": "_lastUpdated"}, timeout=10).json()
    assert reply["total"] >= 3 and len(reply["entry"]) == 1
    while True:
        found += [e["resource"]["identifier"][0]["value"] for e in reply["entry"]]
        nxt = [link["url"] for link in reply["link"] if link["relation"] == "next"]
        if not nxt:
            break
        assert nxt[0].startswith(server.url)
        reply = requests.get(nxt[0], timeout=10).json()
    assert found[-3:] == ["p100", "p101", "p102"]
    assert requests.get(url, params=params, timeout=10).json()["total"] == 1
    refused = requests.get(url, params={"_sort": "birthdate"}, timeout=10)
    assert refused.status_code == 400 and refused.json()["resourceType"] == "OperationOutcome"
