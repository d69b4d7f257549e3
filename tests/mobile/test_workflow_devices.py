"""The workflow with all three devices: oximeter, blood pressure monitor and thermometer in one session,
read through bleak from the runtime's simulated devices, stored as one session with a BP panel."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from devices.parsers import parse
from devices.reading import DeviceIdentity, DeviceReading
from mobile.runtime import AppRuntime, RuntimeConfig
from mobile.i18n import tr
from mobile.screens import texts
from mobile.workflow import SessionWorkflow
from mobile.workflow.record_fr import value_fr
from sync import frozen_payloads
from sync.store import Store
from tests.support.workflow import begin, close_session

pytestmark = pytest.mark.timeout(60)
DEMO = dict(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F", birth_place_insee="75056")
NOW = dt.datetime(2026, 11, 22, 7, 5, tzinfo=dt.timezone.utc)


async def test_three_devices_in_one_session(tmp_path):
    runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db"))
    await runtime.start()
    try:
        wf = runtime.workflow
        assert set(wf.kinds) == {"thermometer", "oximeter", "blood_pressure"}
        begin(wf, DEMO)
        oxy = await wf.measure("oximeter")
        assert oxy is not None, wf.state.error
        assert value_fr(oxy) == "SpO2 97\u00a0% · pouls 72/min"
        wf.accept()
        bp = await wf.measure("blood_pressure")
        assert bp is not None, wf.state.error
        assert value_fr(bp) == "128/82\u00a0mmHg · pouls 72/min"
        wf.accept()
        temp = await wf.measure_temperature()
        assert value_fr(temp) == "37,60\u00a0°C"
        assert shown(oxy.stored_values, bp.stored_values, temp.stored_values) == {
            "fr": ["SpO2 97\u00a0% · pouls 72/min", "128/82\u00a0mmHg · pouls 72/min", "37,60\u00a0°C"],
            "en": ["SpO2 97\u00a0% · pulse 72/min", "128/82\u00a0mmHg · pulse 72/min", "37.60\u00a0°C"]}
        assert set(wf.state.accepted) == {"oximeter", "blood_pressure"}
        session_id = close_session(wf)                     # the value on review is accepted too
        rows = runtime.store.measurements(session_id)
        by_code = {r["code"]: r for r in rows}
        assert by_code["59408-5"]["value"] == "97" and by_code["8310-5"]["value"] == "37.60"
        assert by_code["8480-6"]["value"] == "128" and by_code["8462-4"]["value"] == "82"
        panel = {r["panel_id"] for r in rows if r["code"] in ("8480-6", "8462-4", "8478-0")}
        assert len(panel) == 1 and None not in panel
        assert sum(r["code"] == "8867-4" for r in rows) == 2   # pulse from the oximeter and from the cuff
        (entry,) = runtime.store.db.query("SELECT * FROM outbox WHERE session_id = ?", [session_id])
        bundle = json.loads(frozen_payloads.unpack(entry["payload"]))
        codes = {c["code"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
                 for c in e["resource"]["code"]["coding"]}
        assert {"85354-9", "59408-5", "2708-6", "8310-5", "8867-4"} <= codes
    finally:
        await runtime.stop()


def shown(*values) -> dict[str, list[str]]:
    """The values as the screens word them, in French and in English."""
    words = {}
    try:
        for lang in ("fr", "en"):
            tr.switch_lang(lang)
            words[lang] = [texts.value_line(lang, v) for v in values]
    finally:
        tr.switch_lang("fr")
    return words


def test_live_values_are_numbers_worded_by_the_screen():
    from mobile.workflow.readings import live_values
    cuff = live_values(parse("2A36", bytes.fromhex("00" "5A00" "FF07" "FF07")))
    oximeter = live_values(parse("2A5F", bytes.fromhex("00" "5F00" "4800")))
    assert [(v.field, str(v.value)) for v in cuff] == [("cuff_pressure", "90")]
    assert [(v.field, str(v.value)) for v in oximeter] == [("spo2", "95"), ("pulse_rate", "72")]
    assert shown(cuff, oximeter) == {"fr": ["Brassard 90\u00a0mmHg", "SpO2 95\u00a0% · pouls 72/min"],
                                     "en": ["Cuff 90\u00a0mmHg", "SpO2 95\u00a0% · pulse 72/min"]}


def bp_reading(hexstr: str) -> DeviceReading:
    raw = bytes.fromhex(hexstr)
    return DeviceReading("blood_pressure", parse("2A35", raw), raw, DeviceIdentity("C0:DE:00:00:00:11", "Tensio"),
                         NOW, 80)


@pytest.mark.parametrize("hexstr,code", [
    ("00FF07FF07FF07", "measure.cuff_error"),                         # all NaN: the classic cuff error
    ("005A006400FF07", "vital.implausible.blood_pressure"),          # 90/100: systolic below diastolic
])
async def test_blood_pressure_errors_are_never_proposed(tmp_path, hexstr, code):
    async def reader(on_state, on_live):
        return bp_reading(hexstr)

    with Store(tmp_path / "relais.db") as store:
        wf = SessionWorkflow(store, readers={"blood_pressure": reader}, clock=lambda: NOW)
        begin(wf, DEMO)
        assert await wf.measure("blood_pressure") is None
        assert wf.state.error.code == code and "2047" not in repr(wf.state.error.params)
        assert wf.state.proposal is None


async def test_status_flags_become_plain_warnings(tmp_path):
    async def reader(on_state, on_live):
        return bp_reading("1E8A00580078000000041114293B3C00012700")  # 138/88, movement, loose cuff, irregular

    with Store(tmp_path / "relais.db") as store:
        wf = SessionWorkflow(store, readers={"blood_pressure": reader}, clock=lambda: NOW)
        begin(wf, DEMO)
        proposal = await wf.measure("blood_pressure")
        assert {"device.status.cuff_too_loose", "device.status.irregular_pulse"} <= set(proposal.warnings)
