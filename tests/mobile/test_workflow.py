"""The session workflow as plain Python: patient → measure → review → save, with the real store."""
from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest

from sync.clinical.rules import Decision

from devices.transport import Disconnected
from mobile.messages import error_text
from mobile.workflow import SessionWorkflow, WorkflowError, check_temperature, format_temperature, parse_birth_date
from mobile.workflow.record_fr import value_fr
from mobile.workflow.readings import measured_at
from tests.support.workflow import (DEMO, NOW, ScriptedThermometer, begin, close_session, reading_from, refused,
                                    refused_by_store, set_up_tablet, sign_in)

@pytest.fixture
def store(store):
    """Overrides the shared store (tests/mobile/conftest.py): a set-up tablet."""
    set_up_tablet(store)
    return store


def make(store, *results):
    reader = ScriptedThermometer(*results)
    return SessionWorkflow(store, reader, clock=lambda: NOW), reader


async def test_full_flow_stores_value_with_its_precision_and_queues_session(store):
    wf, _ = make(store, reading_from("04B00E00FE04"))
    seen = []
    wf.subscribe(lambda s: seen.append(s.step))
    pid = begin(wf, DEMO)
    proposal = await wf.measure_temperature()
    assert value_fr(proposal) == "37,60\u00a0°C"
    assert wf.state.step == "review"
    assert [(v.field, v.value, v.unit) for v in wf.state.live_value] == [("temperature", Decimal("36.8"), "Cel")]
    sid = close_session(wf)
    assert wf.state.step == "saved"
    assert wf.sync_state(sid) == "pending"
    rows = list(store.db.query("SELECT * FROM measurements WHERE session_id = ? ORDER BY rowid", [sid]))
    assert [(r["code"], r["value"], r["unit"], r["source"]) for r in rows] == [
        ("8310-5", "37.60", "Cel", "bluetooth"),
        ("9279-1", "16", "/min", "manual"), ("67775-7", "A", "", "manual"), ("supplemental-oxygen", "no", "", "manual")]
    assert rows[0]["raw"] == bytes.fromhex("04B00E00FE04")
    assert rows[0]["device_serial"] == "SN1"
    assert store.get_session(sid)["patient_id"] == pid
    assert store.outbox_counts()["pending"] == 1
    assert seen[0] == "signin" and seen.index("patient") < seen.index("session_start") < seen.index("review")
    assert seen.index("review") < seen.index("vitals") < seen.index("teleconsult") < seen.index("summary")
    assert seen[-1] == "saved"


async def test_device_error_is_never_proposed(store):
    wf, _ = make(store, reading_from("00FFFF7F00"))
    begin(wf, DEMO)
    assert await wf.measure_temperature() is None
    assert wf.state.proposal is None and wf.state.device_state == "error"
    assert wf.state.error.code == "measure.invalid.nan" and wf.state.error.params == {"kind": "thermometer"}
    with pytest.raises(WorkflowError):
        close_session(wf)
    assert store.outbox_counts()["pending"] == 0


async def test_transport_failure_gives_plain_message_and_allows_retake(store):
    wf, _ = make(store, Disconnected(kind="thermometer"), reading_from("00B00E00FE"))
    begin(wf, DEMO)
    assert await wf.measure_temperature() is None
    assert wf.state.error.code == "measure.unreachable_or_manual"
    assert wf.state.error.params == {"kind": "thermometer", "reason": "device.link_lost"}
    assert error_text(wf.state.error, "en").startswith(
        "Measurement impossible: the thermometer disconnected before the end of the measurement. Check that")
    assert error_text(wf.state.error, "fr").startswith(
        "Mesure impossible : le thermomètre s'est déconnecté avant la fin de la mesure. Vérifiez")
    proposal = await wf.measure_temperature()
    assert proposal is not None and wf.state.error is None


@pytest.mark.parametrize("hexstr,code", [("00A00F00FF", "vital.implausible.temperature"),  # 400.0 °C
                                          ("00DA0300FF", "vital.implausible.fahrenheit")])  # 98.6 sent as °C
async def test_implausible_values_are_refused(store, hexstr, code):
    wf, _ = make(store, reading_from(hexstr))
    begin(wf, DEMO)
    assert await wf.measure_temperature() is None
    assert wf.state.error.code == code


async def test_changing_patient_mid_measurement_discards_the_reading(store):
    wf, reader = make(store, reading_from("00B00E00FE"))
    reader.gate = asyncio.Event()
    begin(wf, DEMO)
    first_session = wf.state.session_id
    task = asyncio.ensure_future(wf.measure_temperature())
    await asyncio.sleep(0.01)
    other = store.add_patient(family_name="TEST", given_name="Paul", birth_date="1941-01-01", sex="M",
                              birth_place_insee="13055")
    wf.select_patient(other)
    reader.gate.set()
    assert await task is None
    assert wf.state.proposal is None and wf.state.patient["id"] == other
    assert wf.state.session_id != first_session
    assert store.conn.execute("SELECT count(*) FROM measurements").fetchone() == (0,)


async def test_manual_entry_fallback(store):
    wf, _ = make(store)
    begin(wf, DEMO)
    proposal = wf.enter_manual_temperature("38,4")
    assert proposal.value == Decimal("38.4") and proposal.source == "manual"
    assert proposal.warnings == ("alert.temperature.fever",)
    with refused("measure.manual.format"):
        wf.enter_manual_temperature("abc")
    with refused("measure.manual.precision"):
        wf.enter_manual_temperature("37,655")
    assert wf.state.proposal == proposal  # a refused entry leaves the value on review as it was
    sid = close_session(wf)
    (row,) = store.db.query("SELECT * FROM measurements WHERE session_id = ? AND code = '8310-5'", [sid])
    assert row["source"] == "manual" and row["value"] == "38.4" and row["raw"] is None
    with refused("session.choose_patient_first"):
        wf.enter_manual_temperature("37,2")


def test_bad_identity_is_refused_with_the_stores_reason(store):
    wf, _ = make(store)
    sign_in(wf)
    with refused_by_store("futur"):
        wf.create_patient(**{**DEMO, "birth_date": "2999-01-01"})
    with refused("patient.birth_date.format"):
        wf.create_patient(**{**DEMO, "birth_date": "2 avril 1938"})
    with refused("patient.birth_date.impossible"):
        wf.create_patient(**{**DEMO, "birth_date": "31/02/1938"})
    assert store.conn.execute("SELECT count(*) FROM patients").fetchone() == (0,)


def test_a_birth_date_is_typed_as_staff_do():
    for typed in ("02/04/1938", "2/4/1938", "02.04.1938", "02-04-1938", " 02 04 1938 ", "02041938", "1938-04-02"):
        assert parse_birth_date(typed) == "1938-04-02", typed
    for typed, code in (("", "format"), ("1938", "format"), ("02/04/38", "format"), ("30/02/1938", "impossible"),
                        ("1938-13-02", "impossible")):
        with refused(f"patient.birth_date.{code}") as caught:
            parse_birth_date(typed)
        assert caught.value.field == "birth_date"


def test_a_typed_birth_date_finds_the_probable_duplicates(store):
    wf, _ = make(store)
    sign_in(wf)
    first = wf.create_patient(**DEMO)
    found = wf.probable_duplicates(family_name="Démo", given_name="jeanne", birth_date="02041938")
    assert [p["id"] for p in found] == [first]
    assert wf.probable_duplicates(family_name="Démo", given_name="Jeanne", birth_date="pas une date") == []


def test_device_time_stamp_used_only_when_it_agrees_with_the_tablet(store):
    wf, _ = make(store)
    local = NOW.astimezone().replace(tzinfo=None)
    stamp = (local.year.to_bytes(2, "little") + bytes([local.month, local.day, local.hour, local.minute,
                                                        local.second])).hex()
    agreeing = reading_from("02B00E00FE" + stamp, received_at=NOW + dt.timedelta(seconds=30))
    assert measured_at(agreeing) == NOW
    stale = reading_from("02B00E00FE" + "E5070101000000", received_at=NOW)  # 2021: clock reset
    assert measured_at(stale) == NOW


def test_temperature_checks_and_format():
    assert check_temperature(Decimal("37.6"), "Cel") == Decision()
    assert check_temperature(Decimal("99.5"), "[degF]") == Decision()  # 37.5 °C
    assert check_temperature(Decimal("40.1"), "Cel") == Decision("HH", ("alert.temperature.very_high",),
                                                                 ("vital.confirm.extreme",))
    with pytest.raises(WorkflowError):
        check_temperature(Decimal("98.6"), "Cel")
    assert format_temperature(Decimal("37.60"), "Cel") == "37,60\u00a0°C"
