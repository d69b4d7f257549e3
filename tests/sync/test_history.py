"""A resident's history and usual values (sync.store.history): this tablet's sessions and the pulled ones merged by
code and time, the 90-day window, only valid readings, NEWS2 per session, the median of the last readings without
the session in progress, and queries that use the indexes."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sync import closing
from sync.store.history import USUAL_MINIMUM, USUAL_READINGS
from tests.support.history import add_pulled_session
from tests.support.samples import SAMPLE_TRAITS

NOW = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)
TEMPERATURE, SPO2, PULSE, SYSTOLIC, DIASTOLIC = "8310-5", "59408-5", "8867-4", "8480-6", "8462-4"


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def patient(store):
    return store.add_patient(**SAMPLE_TRAITS)


def local_session(store, patient_id: str, at: dt.datetime, readings, *, close: bool = True) -> str:
    """A session of this tablet with its readings (code, value, unit, flag) at `at`; closed unless told."""
    session_id = store.open_session(patient_id)
    store.update_session(session_id, started_at=at.isoformat())
    for code, value, unit, flag in readings:
        extra = {"panel_id": "bp"} if code in (SYSTOLIC, DIASTOLIC) else {}
        store.add_measurement(session_id, code=code, value=value, unit=unit, source="manual",
                              measured_at=at.isoformat(), interpretation=flag, **extra)
    if close:
        closing.close_session(store, session_id)
    return session_id


def test_local_and_pulled_readings_are_merged_by_code_oldest_first_with_their_origin(store, patient):
    local_session(store, patient, days_ago(10), [(TEMPERATURE, "37.2", "Cel", None), (SPO2, "95", "%", None)])
    add_pulled_session(store, patient, days_ago(20), [(TEMPERATURE, "38.4", "Cel", "H"), (PULSE, "88", "/min", None)])
    add_pulled_session(store, patient, days_ago(5), [(TEMPERATURE, "36.9", "Cel", None)])
    history = store.resident_history(patient)
    temperatures = history.of(TEMPERATURE)
    assert [(r.value, r.origin, r.flag) for r in temperatures] == [
        (Decimal("38.4"), "pulled", "H"), (Decimal("37.2"), "local", None), (Decimal("36.9"), "pulled", None)]
    assert [r.at for r in temperatures] == [days_ago(20), days_ago(10), days_ago(5)]
    assert temperatures[0].unit == "Cel"
    assert [r.origin for r in history.of(PULSE)] == ["pulled"]
    assert [r.value for r in history.of(SPO2)] == [Decimal(95)]


def test_only_the_last_90_days_and_never_another_resident(store, patient):
    other = store.add_patient(**{**SAMPLE_TRAITS, "given_name": "Paulette"})
    add_pulled_session(store, patient, days_ago(91), [(TEMPERATURE, "39.0", "Cel", "H")])
    add_pulled_session(store, patient, days_ago(89), [(TEMPERATURE, "37.0", "Cel", None)])
    local_session(store, patient, days_ago(95), [(TEMPERATURE, "38.8", "Cel", "H")])
    add_pulled_session(store, other, days_ago(1), [(TEMPERATURE, "36.5", "Cel", None)])
    assert [r.value for r in store.resident_history(patient).of(TEMPERATURE)] == [Decimal("37.0")]
    assert [r.value for r in store.resident_history(patient, days=100).of(TEMPERATURE)] == [
        Decimal("38.8"), Decimal("39.0"), Decimal("37.0")]


def test_the_window_is_exact_whatever_offset_the_times_were_written_with(store, patient):
    paris = dt.timezone(dt.timedelta(hours=2))
    add_pulled_session(store, patient, (days_ago(90) - dt.timedelta(minutes=1)).astimezone(paris),
                       [(PULSE, "70", "/min", None)])
    add_pulled_session(store, patient, (days_ago(90) + dt.timedelta(minutes=1)).astimezone(paris),
                       [(PULSE, "71", "/min", None)])
    assert [r.value for r in store.resident_history(patient).of(PULSE)] == [Decimal(71)]


def test_an_invalid_pulled_row_is_never_a_reading(store, patient):
    add_pulled_session(store, patient, days_ago(3), [
        (TEMPERATURE, "abc", "Cel", None),        # not a number
        (TEMPERATURE, "37.1", "mm[Hg]", None),    # not a temperature unit
        (TEMPERATURE, "98.6", "Cel", None),       # °F in disguise: implausible
        (PULSE, "900", "/min", None),             # implausible
        ("67775-7", "A", "", None),               # a coded answer, not a value
        (TEMPERATURE, "37.3", "Cel", None)])
    add_pulled_session(store, patient, "2024-04-20T10:00:00", [(PULSE, "72", "/min", None)])  # no zone
    history = store.resident_history(patient)
    assert {code: [r.value for r in found] for code, found in history.readings.items()} == {
        TEMPERATURE: [Decimal("37.3")]}


def test_spo2_coded_2708_6_is_the_same_sign(store, patient):
    add_pulled_session(store, patient, days_ago(2), [("2708-6", "94", "%", None)])
    assert [(r.code, r.value) for r in store.resident_history(patient).of(SPO2)] == [(SPO2, Decimal(94))]


def test_abandoned_sessions_are_left_out_and_the_session_in_progress_is_in(store, patient):
    abandoned = local_session(store, patient, days_ago(4), [(PULSE, "60", "/min", None)], close=False)
    store.abandon_session(abandoned)
    local_session(store, patient, days_ago(0), [(PULSE, "75", "/min", None)], close=False)
    assert [r.value for r in store.resident_history(patient).of(PULSE)] == [Decimal(75)]


def test_news2_per_session_local_computed_pulled_as_stored(store, patient):
    local_session(store, patient, days_ago(6), [
        (TEMPERATURE, "38.5", "Cel", "H"), (SPO2, "95", "%", None), (PULSE, "95", "/min", None),
        (SYSTOLIC, "120", "mm[Hg]", None), (DIASTOLIC, "70", "mm[Hg]", None), ("9279-1", "22", "/min", "H"),
        ("67775-7", "A", "", None), ("supplemental-oxygen", "no", "", None)])
    local_session(store, patient, days_ago(3), [(TEMPERATURE, "37.0", "Cel", None)])
    add_pulled_session(store, patient, days_ago(9), [(PULSE, "80", "/min", None)], news2=(2, "incomplete", False))
    add_pulled_session(store, patient, days_ago(8), [(PULSE, "82", "/min", None)])  # no score: not charted
    scores = store.resident_history(patient).news2
    # 38.5 °C: 1, SpO2 95: 1, pulse 95: 1, systolic 120: 0, RR 22: 2, A: 0, air: 0 → 5, medium, complete
    assert [(s.origin, s.score, s.band, s.complete) for s in scores] == [
        ("pulled", 2, "incomplete", False), ("local", 5, "medium", True), ("local", 0, "incomplete", False)]


def test_usual_value_is_the_median_of_the_last_five_readings(store, patient):
    for days, value in ((40, "39.5"), (30, "36.6"), (20, "36.8"), (15, "38.9"), (10, "36.7"), (5, "36.9")):
        add_pulled_session(store, patient, days_ago(days), [(TEMPERATURE, value, "Cel", None)])
    usual = store.usual_values(patient)[TEMPERATURE]
    assert (USUAL_READINGS, USUAL_MINIMUM) == (5, 3)
    # the last five: 36.6 36.8 38.9 36.7 36.9 → 36.8 (the 39.5 of 40 days ago is not among them; the fever is ignored)
    assert (usual.value, usual.unit, usual.count) == (Decimal("36.8"), "Cel", 5)


def test_no_usual_value_below_three_readings(store, patient):
    add_pulled_session(store, patient, days_ago(9), [(PULSE, "70", "/min", None), (SPO2, "96", "%", None)])
    add_pulled_session(store, patient, days_ago(8), [(PULSE, "72", "/min", None), (SPO2, "97", "%", None)])
    add_pulled_session(store, patient, days_ago(7), [(PULSE, "74", "/min", None)])
    usual = store.usual_values(patient)
    assert set(usual) == {PULSE} and usual[PULSE].value == Decimal(72)
    assert store.usual_values(store.add_patient(**{**SAMPLE_TRAITS, "given_name": "Odette"})) == {}


def test_the_session_in_progress_is_not_part_of_the_usual_value(store, patient):
    for days, value in ((9, "36.5"), (8, "36.6")):
        add_pulled_session(store, patient, days_ago(days), [(TEMPERATURE, value, "Cel", None)])
    current = local_session(store, patient, days_ago(0), [(TEMPERATURE, "39.0", "Cel", "H")], close=False)
    assert TEMPERATURE not in store.usual_values(patient, exclude_session=current)
    assert store.usual_values(patient)[TEMPERATURE].value == Decimal("36.6")   # only when not excluded
    local_session(store, patient, days_ago(4), [(TEMPERATURE, "36.4", "Cel", None)])
    assert store.usual_values(patient, exclude_session=current)[TEMPERATURE].value == Decimal("36.5")


def test_usual_values_compare_in_the_rules_unit(store, patient):
    for days, value in ((9, "97.7"), (8, "98.1"), (7, "97.9")):   # °F: 36.5, 36.72…, 36.61… °C
        add_pulled_session(store, patient, days_ago(days), [(TEMPERATURE, value, "[degF]", None)])
    usual = store.usual_values(patient)[TEMPERATURE]
    assert usual.unit == "Cel" and usual.value.quantize(Decimal("0.01")) == Decimal("36.61")


def test_the_history_queries_use_the_indexes(store):
    plans = []
    original = store.query

    def explained(sql, params=()):
        plans.append(" ".join(row["detail"] for row in original(f"EXPLAIN QUERY PLAN {sql}", params)))
        return original(sql, params)

    store.query = explained
    patient_id = store.add_patient(**SAMPLE_TRAITS)
    local_session(store, patient_id, days_ago(1), [(PULSE, "70", "/min", None)])
    store.resident_history(patient_id)
    assert plans and all("USING INDEX" in plan or "USING COVERING INDEX" in plan for plan in plans), plans
    assert any("history_observations_patient" in plan for plan in plans)
    assert any("history_sessions_patient" in plan for plan in plans)


def all_readings(history):
    return [reading for code in sorted(history.readings) for reading in history.of(code)]


def test_a_session_that_left_the_tablet_stays_in_the_history_as_this_tablets(store, patient):
    from sync import outbox, retention

    recent = local_session(store, patient, days_ago(12), [(TEMPERATURE, "38.1", "Cel", "H"), (SPO2, "93", "%", None),
                                                          (PULSE, "96", "/min", None)])
    old = local_session(store, patient, days_ago(95), [(TEMPERATURE, "36.5", "Cel", None)])
    for entry in outbox.entries(store):
        outbox.mark_sent(store, entry.id)
    with store.transaction():
        store.conn.execute("UPDATE outbox SET sent_at = ?", [days_ago(11).isoformat()])
    before = store.resident_history(patient, days=120)
    assert retention.purge(store, now=NOW).sessions == 2
    assert store.query("SELECT id FROM sessions WHERE id IN (?, ?)", [recent, old]) == []
    after = store.resident_history(patient, days=120)
    # the same readings, flags and NEWS2, still marked as taken here; the session older than 90 days is gone
    assert [(r.code, r.value, r.flag, r.origin, r.at) for r in all_readings(after)] == [
        (r.code, r.value, r.flag, r.origin, r.at) for r in all_readings(before) if r.at > days_ago(90)]
    assert [(s.score, s.band, s.origin) for s in after.news2] == [
        (s.score, s.band, s.origin) for s in before.news2 if s.at > days_ago(90)]
    assert {r.origin for r in all_readings(after)} == {"local"}
