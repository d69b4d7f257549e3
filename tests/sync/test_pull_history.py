"""The site's history read back from the resources tablets upload (sync.pull.history): one row per value, a blood
pressure panel's components under the measurements' own codes, the NEWS2 of the session computed by the clinical
rules whichever of the session and its values comes first, and a resource that fails half-way leaves nothing."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest

from sync import fhir
from sync.clinical.news2 import news2
from sync.fhir.narrative import narrative
from sync.pull import history
from sync.pull.run import _each
from sync.store import Store

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
KEY = "6f1c3c0e-2f57-4b0e-8e4c-2b0c8c6f9d21"
AT = "2026-11-30T10:15:00+01:00"


def reading(code: str, value: str, unit: str, **extra) -> dict:
    return {"code": code, "value": value, "unit": unit, "source": "bluetooth", "status": [], "panel_id": None,
            "measured_at": AT, "received_at": AT, "interpretation": None, **extra}


def served(resource: dict, n: int) -> dict:
    return {**resource, "id": f"srv-{n}", "meta": {**resource.get("meta", {}), "versionId": "1",
                                                   "lastUpdated": "2026-11-30T10:00:00Z"}}


def observations() -> list[dict]:
    links = {"patient_ref": "Patient/srv-p", "encounter_ref": "Encounter/srv-e"}
    return [served(fhir.observation_resource(reading("8310-5", "38.60", "Cel", interpretation="H"),
                                             identifier_value=f"{KEY}/obs/1-8310-5", **links), 1),
            served(fhir.observation_resource(reading("59408-5", "93", "%", source="manual"),
                                             identifier_value=f"{KEY}/obs/2-59408-5", **links), 2),
            served(fhir.bp_panel_resource([reading("8480-6", "16.0", "kPa", panel_id="c"),
                                           reading("8462-4", "10.7", "kPa", panel_id="c")],
                                          identifier_value=f"{KEY}/obs/3-85354-9", **links), 3),
            served(fhir.observation_resource(reading("67775-7", "A", ""), identifier_value=f"{KEY}/obs/4-67775-7",
                                             **links), 4),
            served(fhir.observation_resource(reading("supplemental-oxygen", "no", ""),
                                             identifier_value=f"{KEY}/obs/5-supplemental-oxygen", **links), 5)]


def encounter() -> dict:
    session = {"idempotency_key": KEY, "opened_at": AT, "started_at": AT, "reason": "Fièvre", "state": "closed"}
    return served(fhir.encounter_resource(session, patient_ref="Patient/srv-p", staff_role_ref=None,
                                          doctor_ref=None, organization_ref=None), 9)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "tablet.db") as s, s.transaction():
        s.conn.execute("INSERT INTO patients (id, family_name, given_name, birth_date, sex, birth_place_insee, "
                       "created_at, origin) VALUES ('p1', 'Sorbier', 'Gaston', '1930-01-01', 'M', '75056', ?, "
                       "'pulled')", [NOW.isoformat()])
    with Store(tmp_path / "tablet.db") as s:
        yield s


def test_values_come_back_under_the_measurements_codes():
    rows = [r for o in observations() for r in history.observation_rows(o, patient_id="p1", now_stamp="t")]
    assert [(r["code"], r["value"], r["unit"], r["interpretation"], r["source"]) for r in rows] == [
        ("8310-5", "38.60", "Cel", "H", "bluetooth"), ("59408-5", "93", "%", None, "manual"),
        ("8480-6", "120", "mm[Hg]", None, "bluetooth"), ("8462-4", "80", "mm[Hg]", None, "bluetooth"),
        ("67775-7", "A", "", None, "bluetooth"), ("supplemental-oxygen", "no", "", None, "bluetooth")]
    assert {r["session_id"] for r in rows} == {KEY}
    assert rows[2]["id"] == f"{KEY}/obs/3-85354-9/8480-6"


@pytest.mark.parametrize("session_first", [True, False])
def test_news2_is_computed_whichever_comes_first(store, session_first):
    with store.transaction():
        if session_first:
            history.apply_encounter(store, encounter(), patient_id="p1", site_id=None, now=NOW)
        for observation in observations():
            history.apply_observation(store, observation, patient_id="p1", now=NOW)
        if not session_first:
            history.apply_encounter(store, encounter(), patient_id="p1", site_id=None, now=NOW)
    expected = news2(temperature_c=Decimal("38.60"), spo2=Decimal(93), systolic=Decimal(120), consciousness="A",
                     on_oxygen=False)
    (row,) = store.query("SELECT news2_score, news2_band, news2_complete FROM history_sessions")
    assert row == {"news2_score": expected.score, "news2_band": expected.risk, "news2_complete": 0}
    assert expected.score == 3  # temperature 1 + SpO2 2; pulse and respiration rate missing: a partial score


def test_the_report_gives_the_session_its_summary(store):
    composition = {"resourceType": "Composition", "identifier": {"system": fhir.COMPOSITION_ID_SYSTEM, "value": KEY},
                   "section": [{"title": "Synthèse pour le médecin traitant",
                                "text": narrative(["Destinataire : Dr Démo", "Fièvre à 38,6 °C & toux."])}]}
    with store.transaction():
        assert history.apply_composition(store, composition, now=NOW) == "skipped"  # its session is not here yet
        history.apply_encounter(store, encounter(), patient_id="p1", site_id=None, now=NOW)
        assert history.apply_composition(store, composition, now=NOW) == "updated"
        assert history.apply_composition(store, composition, now=NOW) == "unchanged"
    assert store.query("SELECT summary FROM history_sessions") == [
        {"summary": "Destinataire : Dr Démo\nFièvre à 38,6 °C & toux."}]


def test_a_resource_failing_half_way_leaves_nothing_behind(store):
    counts = Counter()

    def writes_then_fails(resource):
        history.apply_encounter(store, resource, patient_id="p1", site_id=None, now=NOW)
        raise ValueError("found unreadable after the first write")

    with store.transaction():
        _each(store, counts, [encounter()], writes_then_fails)
        _each(store, counts, observations()[:1], lambda o: history.apply_observation(store, o, patient_id="p1",
                                                                                    now=NOW))
    assert counts == {"skipped": 1, "created": 1}
    assert store.query("SELECT count(*) AS n FROM history_sessions") == [{"n": 0}]
    assert store.query("SELECT count(*) AS n FROM history_observations") == [{"n": 1}]
