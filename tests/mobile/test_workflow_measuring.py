"""The measuring step in plain Python with a real store: values typed by hand for every device kind (decided by the
clinical rules, stored and sent as typed by hand), a running measurement cancelled, the phase limits and the plain
reason when one runs out, and accepting one device never ending the measurements."""
from __future__ import annotations

import asyncio
import json

import pytest

from devices.drivers.oximeters import NoStableReading
from devices.limits import DEFAULT_LIMITS
from devices.transport import DeviceNotFound
from mobile.messages import error_text
from mobile.screens.texts import KINDS
from mobile.workflow import SessionWorkflow
from sync import frozen_payloads
from tests.support.workflow import DEMO, NOW, ScriptedThermometer, begin, close_session, reading_from, refused

pytestmark = pytest.mark.timeout(30)


def workflow(store, clock, readers=None, monotonic=None):
    return SessionWorkflow(store, readers=readers or {}, clock=clock,
                           **({"monotonic": monotonic} if monotonic else {}))


def test_every_value_can_be_typed_by_hand_and_is_stored_and_sent_as_typed_by_hand(store, clock):
    wf = workflow(store, clock)
    begin(wf, DEMO)
    oxy = wf.enter_manual("oximeter", {"spo2": "97", "pulse_rate": "72"})
    assert (oxy.source, oxy.reading, oxy.kind) == ("manual", None, "oximeter")
    assert [(v.field, str(v.value), v.unit) for v in oxy.stored_values] == [("spo2", "97", "%"), ("pulse_rate", "72", "/min")]
    wf.accept()
    bp = wf.enter_manual("blood_pressure", {"systolic": "128", "diastolic": "82", "pulse_rate": " "})
    assert [(v.field, str(v.value)) for v in bp.stored_values] == [("systolic", "128"), ("diastolic", "82")]
    wf.accept()
    temp = wf.enter_manual_temperature("38,4")  # the older entry point, decimal comma
    assert str(temp.value) == "38.4" and temp.flag == "H" and "alert.temperature.fever" in temp.warnings
    session_id = close_session(wf)
    typed = ("59408-5", "8867-4", "8480-6", "8462-4", "8310-5")
    rows = [r for r in store.measurements(session_id) if r["code"] in typed]
    assert {r["code"]: r["value"] for r in rows} == {"59408-5": "97", "8867-4": "72", "8480-6": "128",
                                                      "8462-4": "82", "8310-5": "38.4"}
    assert {r["source"] for r in rows} == {"manual"} and not any(r["device_address"] or r["raw"] for r in rows)
    panel = {r["panel_id"] for r in rows if r["code"] in ("8480-6", "8462-4")}
    assert len(panel) == 1 and None not in panel
    (entry,) = store.db.query("SELECT * FROM outbox WHERE session_id = ?", [session_id])
    observations = [e["resource"] for e in json.loads(frozen_payloads.unpack(entry["payload"]))["entry"]
                    if e["resource"]["resourceType"] == "Observation"
                    and {c["code"] for c in e["resource"]["code"]["coding"]} & set(typed)]
    methods = {c["code"] for o in observations if "method" in o for c in o["method"]["coding"]}
    assert methods == {"manual"} and not any("device" in o for o in observations)


@pytest.mark.parametrize("kind, typed, code", [
    ("oximeter", {"spo2": "97,5", "pulse_rate": "72"}, "measure.manual.spo2"),
    ("oximeter", {"spo2": "", "pulse_rate": "72"}, "measure.manual.spo2"),
    ("oximeter", {"spo2": "97", "pulse_rate": "7.2"}, "measure.manual.pulse_rate"),
    ("oximeter", {"spo2": "150"}, "vital.implausible.spo2"),
    ("blood_pressure", {"systolic": "", "diastolic": "82"}, "measure.manual.systolic"),
    ("blood_pressure", {"systolic": "128", "diastolic": "8,2"}, "measure.manual.diastolic"),
    ("blood_pressure", {"systolic": "90", "diastolic": "100"}, "vital.implausible.blood_pressure"),
    ("thermometer", {"temperature": "37,666"}, "measure.manual.precision"),
    ("thermometer", {"temperature": "abc"}, "measure.manual.format"),
])
def test_a_typed_value_is_refused_with_its_fields_own_code(store, clock, kind, typed, code):
    wf = workflow(store, clock)
    begin(wf, DEMO)
    with refused(code) as caught:
        wf.enter_manual(kind, typed)
    assert error_text(caught.value, "fr") and "{" not in error_text(caught.value, "en")
    assert wf.state.proposal is None


def test_a_low_spo2_typed_by_hand_is_flagged_like_a_device_reading(store, clock):
    wf = workflow(store, clock)
    begin(wf, DEMO)
    proposal = wf.enter_manual("oximeter", {"spo2": "88", "pulse_rate": ""})
    assert proposal.get("spo2").flag == "LL" and "alert.spo2.very_low" in proposal.warnings


async def test_a_running_measurement_is_cancelled_and_the_reader_stops(store, clock):
    stopped = []

    async def never_a_finger(on_state, on_live):
        on_state("scanning")
        on_state("measuring")
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.append(True)  # a driver closes its link here

    wf = workflow(store, clock, {"oximeter": never_a_finger})
    begin(wf, DEMO)
    task = asyncio.ensure_future(wf.measure("oximeter"))
    await asyncio.sleep(0.05)
    assert wf.state.device_state == "measuring" and wf.context.measuring
    wf.cancel_measurement()
    assert await task is None
    assert stopped == [True]
    state = wf.state
    assert (state.device_state, state.proposal, state.error, state.measuring_kind) == ("cancelled", None, None, None)
    assert state.failed_attempts()["oximeter"].code == "measure.cancelled"
    with refused("measure.nothing_to_confirm"):
        wf.accept()


async def test_each_phase_has_its_limit_and_running_out_says_after_how_long(store, clock):
    now = [100.0]
    seen = []

    async def no_finger(on_state, on_live):
        on_state("scanning")
        seen.append((wf.state.device_state, wf.state.phase_limit, wf.state.phase_started))
        now[0] += 4
        on_state("measuring")
        seen.append((wf.state.device_state, wf.state.phase_limit, wf.state.phase_started))
        raise NoStableReading("no_finger", "60")

    wf = workflow(store, clock, {"oximeter": no_finger}, monotonic=lambda: now[0])
    begin(wf, DEMO)
    assert await wf.measure("oximeter") is None
    assert seen == [("scanning", DEFAULT_LIMITS.scan, 100.0),
                    ("measuring", DEFAULT_LIMITS.measure_seconds("oximeter"), 104.0)]
    error = wf.state.error
    assert (error.code, error.params["seconds"], error.params["reason"]) == ("measure.gave_up", "60",
                                                                            "oximeter.no_finger")
    assert error_text(error, "fr").startswith("Arrêt au bout de 60 s — aucun doigt détecté")
    assert error_text(error, "en").startswith("Stopped after 60 s — no finger detected")
    assert wf.state.failed_attempts()["oximeter"] is error and wf.state.phase_limit is None


async def test_no_device_found_says_after_the_scan_limit(store, clock):
    async def nobody(on_state, on_live):
        on_state("scanning")
        raise DeviceNotFound()

    wf = workflow(store, clock, {"thermometer": nobody})
    begin(wf, DEMO)
    await wf.measure("thermometer")
    assert wf.state.error.code == "measure.not_found" and wf.state.error.params["seconds"] == "15"
    assert error_text(wf.state.error, "en") == ("No device found after 15 s: check that the thermometer is on and "
                                                "close by, then measure again, or enter the values by hand.")


async def test_accepting_the_first_device_never_ends_the_measurements(store, clock):
    wf = workflow(store, clock, {"thermometer": ScriptedThermometer(reading_from("00780100FF", NOW))})
    begin(wf, DEMO)
    assert await wf.measure("thermometer") is not None
    assert wf.unmeasured(after="thermometer", order=KINDS) == ["oximeter", "blood_pressure"]
    wf.accept()
    assert wf.state.step == "measure" and set(wf.state.accepted) == {"thermometer"}
    assert store.measurements(wf.state.session_id) == []  # nothing stored before "finish the measurements"
    assert wf.unmeasured(order=KINDS) == ["oximeter", "blood_pressure"]
