"""The resident's usual values in the session workflow: a device reading or a typed value is decided against them
(a temperature 1.1 °C above the usual one, a SpO2 3 points below), the alert shown on review and the flag stored
with the value and sent; no usual value (fewer than 3 readings) leaves the table's thresholds alone; the session in
progress never becomes its own baseline."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from mobile.workflow import SessionWorkflow
from sync import frozen_payloads
from tests.support.history import add_pulled_session
from tests.support.workflow import DEMO, NOW, ScriptedThermometer, close_session, reading_from, sign_in, start

pytestmark = pytest.mark.timeout(30)

TEMPERATURE, SPO2, PULSE = "8310-5", "59408-5", "8867-4"


def resident_with_history(store, readings_per_session, sessions: int = 3) -> str:
    patient_id = store.add_patient(**DEMO)
    for n in range(sessions):
        add_pulled_session(store, patient_id, NOW - dt.timedelta(days=10 + n), readings_per_session)
    return patient_id


def session_for(store, clock, patient_id: str, readers=None) -> SessionWorkflow:
    wf = SessionWorkflow(store, readers=readers or {}, clock=clock)
    sign_in(wf)
    wf.select_patient(patient_id)
    start(wf)
    return wf


def stored(store, session_id: str) -> dict[str, str | None]:
    return {m["code"]: m["interpretation"] for m in store.measurements(session_id)}


async def test_a_device_temperature_above_the_usual_one_is_flagged_and_stored_so(store, clock):
    patient_id = resident_with_history(store, [(TEMPERATURE, "36.4", "Cel", None)])
    wf = session_for(store, clock, patient_id, {"thermometer": ScriptedThermometer(reading_from("00780100FF"))})
    proposal = await wf.measure_temperature()            # 37.6 °C: under 37.8, but 1.2 °C above 36.4
    assert proposal.value == Decimal("37.6") and proposal.flag == "H"
    assert "alert.temperature.rise_from_baseline" in proposal.warnings
    wf.accept()
    session_id = wf.state.session_id
    close_session(wf)
    assert stored(store, session_id)[TEMPERATURE] == "H"
    bundle = json.loads(frozen_payloads.unpack(
        store.query("SELECT payload FROM outbox WHERE session_id = ?", [session_id])[0]["payload"]))
    temperature = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
                       and e["resource"]["code"]["coding"][0]["code"] == TEMPERATURE)
    assert [c["code"] for i in temperature["interpretation"] for c in i["coding"]] == ["H"]


def test_a_typed_spo2_below_the_usual_one_is_flagged_low(store, clock):
    patient_id = resident_with_history(store, [(SPO2, "97", "%", None), (PULSE, "70", "/min", None)])
    wf = session_for(store, clock, patient_id)
    proposal = wf.enter_manual("oximeter", {"spo2": "94", "pulse_rate": "72"})
    assert proposal.get("spo2").flag == "L" and proposal.get("pulse_rate").flag is None
    assert proposal.warnings == ("alert.spo2.drop_from_baseline",)
    wf.accept()
    wf.finish_measurements()
    assert stored(store, wf.state.session_id) == {SPO2: "L", PULSE: None}


def test_without_a_usual_value_only_the_tables_thresholds_apply(store, clock):
    patient_id = resident_with_history(store, [(TEMPERATURE, "36.4", "Cel", None)], sessions=2)
    wf = session_for(store, clock, patient_id)
    assert wf.usual_values() == {}
    proposal = wf.enter_manual_temperature("37.6")
    assert proposal.flag is None and proposal.warnings == ()


def test_the_session_in_progress_is_never_its_own_baseline(store, clock):
    patient_id = resident_with_history(store, [(SPO2, "92", "%", None)], sessions=2)
    wf = session_for(store, clock, patient_id)
    # two pulled readings: no usual value yet, whatever this session holds
    wf.enter_manual("oximeter", {"spo2": "97", "pulse_rate": ""})
    wf.accept()
    wf.finish_measurements()
    assert wf.usual_values() == {}
    assert wf.enter_manual("oximeter", {"spo2": "93", "pulse_rate": ""}).warnings == ()


def test_the_usual_values_of_the_resident_are_offered_to_the_screens(store, clock):
    patient_id = resident_with_history(store, [(TEMPERATURE, "36.9", "Cel", None), (PULSE, "66", "/min", None)])
    wf = session_for(store, clock, patient_id)
    usual = wf.usual_values()
    assert {code: (u.value, u.unit) for code, u in usual.items()} == {
        TEMPERATURE: (Decimal("36.9"), "Cel"), PULSE: (Decimal(66), "/min")}
