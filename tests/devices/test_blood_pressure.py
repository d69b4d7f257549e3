"""Integration: the blood pressure driver through bleak's public API, on simulated GATT servers (Bumble).

Every scenario of BP_SCENARIOS is played at a large speed factor, so the whole file runs in a few seconds.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from devices.drivers.blood_pressure import BloodPressureDriver, MalformedData
from devices.parsers.common import read_date_time
from devices.simulated import VirtualRadio
from devices.simulated.bleak_backend import simulated_transport
from devices.simulated.blood_pressure import BP_SCENARIOS, BloodPressureScenario, SimulatedBloodPressureMonitor
from devices.transport import Disconnected, OperationTimeout

pytestmark = pytest.mark.timeout(20)

SPEED = 200  # 8 s of cuff inflation plays in 40 ms
NORMAL = {"systolic": "128", "diastolic": "82", "mean_arterial_pressure": "97", "pulse_rate": "72"}


async def start_monitor(scenario: str | BloodPressureScenario = "normal", **kwargs):
    radio = VirtualRadio()
    monitor = SimulatedBloodPressureMonitor(radio, scenario=scenario, speed=SPEED, **kwargs)
    await monitor.start()
    return radio, monitor


def make_driver(radio, **kwargs) -> BloodPressureDriver:
    return BloodPressureDriver(simulated_transport(radio), burst_quiet=0.2, **kwargs)


def values(measurement) -> dict[str, str]:
    return {o.field: str(o.value) for o in measurement.observations}


def local_now() -> dt.datetime:
    return dt.datetime.now()


async def test_normal_reading_with_identity_battery_features_and_states():
    radio, monitor = await start_monitor()
    states = []
    driver = make_driver(radio, on_state=states.append)
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert reading.kind == "blood_pressure"
    assert values(reading.measurement) == NORMAL
    assert {o.unit for o in reading.measurement.observations} == {"mm[Hg]", "/min"}
    assert reading.raw == monitor.measurements_sent[0]
    assert reading.measurement.status == ()
    assert reading.measurement.details["pulse_range"] == "in_range"
    assert abs(reading.measurement.timestamp.to_datetime() - local_now()) < dt.timedelta(minutes=1)
    assert reading.device.model == "SIM-BPM-1" and reading.device.address == monitor.address
    assert reading.device.name == "Relais Tensio"
    assert reading.battery_percent == 87
    assert driver.features.details["supported"] == ["body_movement_detection", "cuff_fit_detection",
                                                    "irregular_pulse_detection"]
    assert driver.stored_records == []
    assert states == ["scanning", "connecting", "measuring", "done"]
    assert reading.received_at.tzinfo is not None


async def test_measurement_subscription_enables_indications_not_notifications():
    radio, monitor = await start_monitor()
    await make_driver(radio).read(scan_timeout=5, measure_timeout=5)
    by_char = {s.characteristic: s for s in monitor.subscriptions}
    assert (by_char["2A35"].indicate, by_char["2A35"].notify) == (True, False)   # CCCD 02 00
    assert (by_char["2A36"].indicate, by_char["2A36"].notify) == (False, True)   # CCCD 01 00


async def test_slow_cuff_live_pressures_arrive_in_order():
    radio, monitor = await start_monitor("slow")
    live = []
    driver = make_driver(radio, on_live=lambda m: live.append(str(m.observation("cuff_pressure").value)))
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert live == monitor.cuff_pressures
    pressures = [int(p) for p in live]
    peak = pressures.index(160)
    assert len(pressures) == 28 and peak == 15                       # 8 s rising, then 6 s falling, every 0.5 s
    assert pressures[:peak + 1] == sorted(pressures[:peak + 1])
    assert pressures[peak:] == sorted(pressures[peak:], reverse=True)
    assert values(reading.measurement) == NORMAL


async def test_all_nan_record_is_a_device_error_without_numbers():
    radio, _ = await start_monitor("error")
    reading = await make_driver(radio).read(scan_timeout=5, measure_timeout=5)
    m = reading.measurement
    assert m.observations == ()
    assert m.details["device_error"] is True
    assert [(i.field, i.reason) for i in m.invalid] == [
        ("systolic", "NaN"), ("diastolic", "NaN"), ("mean_arterial_pressure", "NaN"), ("pulse_rate", "NaN")]
    assert "2047" not in json.dumps(m.to_json())


async def test_out_of_range_systolic_is_invalid_and_the_rest_kept():
    radio, _ = await start_monitor("out_of_range")
    reading = await make_driver(radio).read(scan_timeout=5, measure_timeout=5)
    m = reading.measurement
    assert values(m) == {"diastolic": "121", "pulse_rate": "96"}
    assert [(i.field, i.reason) for i in m.invalid] == [("systolic", "+INF"), ("mean_arterial_pressure", "NRes")]
    assert "device_error" not in m.details


async def test_low_battery_is_reported():
    radio, _ = await start_monitor("low_battery")
    reading = await make_driver(radio).read(scan_timeout=5, measure_timeout=5)
    assert reading.battery_percent == 5
    assert values(reading.measurement) == NORMAL


async def test_disconnect_mid_inflation_is_reported():
    radio, monitor = await start_monitor("disconnect")
    live = []
    with pytest.raises(Disconnected):
        await make_driver(radio, on_live=live.append).read(scan_timeout=5, measure_timeout=5)
    assert live and monitor.measurements_sent == []


async def test_stored_burst_old_records_are_not_proposed_and_the_new_one_is():
    radio, monitor = await start_monitor("stored_burst")
    driver = make_driver(radio)
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert values(reading.measurement) == NORMAL
    assert str(reading.measurement.observation("systolic").value) == "128"
    assert reading.raw == monitor.indications_sent[-1] == monitor.measurements_sent[0]
    assert [values(m)["systolic"] for m in driver.stored_records] == ["135", "142", "131"]
    now = local_now()
    assert all(now - m.timestamp.to_datetime() > dt.timedelta(days=1) for m in driver.stored_records)


async def test_stored_burst_sent_twice_is_deduplicated():
    scenario = dataclasses.replace(BP_SCENARIOS["stored_burst"], resend_stored=True)
    radio, monitor = await start_monitor(scenario)
    driver = make_driver(radio)
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert len(monitor.indications_sent) == 7
    assert [values(m)["systolic"] for m in driver.stored_records] == ["135", "142", "131"]
    assert values(reading.measurement) == NORMAL


async def test_stored_records_only_never_become_a_reading():
    scenario = dataclasses.replace(BP_SCENARIOS["stored_burst"], name="old_only", measure=False)
    radio, _ = await start_monitor(scenario)
    driver = make_driver(radio)
    with pytest.raises(OperationTimeout, match="3 old measurement") as caught:
        await driver.read(scan_timeout=5, measure_timeout=0.6)
    assert caught.value.code == "blood_pressure.only_stored" and caught.value.params["stored"] == 3
    assert [values(m)["systolic"] for m in driver.stored_records] == ["135", "142", "131"]


async def test_monitor_used_just_before_connecting_gives_its_recent_record():
    radio, _ = await start_monitor("measured_before_connect")
    driver = make_driver(radio)
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert values(reading.measurement)["systolic"] == "126"
    assert [values(m)["systolic"] for m in driver.stored_records] == ["135"]


async def test_without_cuff_pressure_the_recent_record_after_the_burst_is_proposed():
    scenario = dataclasses.replace(BP_SCENARIOS["stored_burst"], name="no_0x2A36", intermediate=False)
    radio, monitor = await start_monitor(scenario)
    driver = make_driver(radio, on_live=lambda _m: pytest.fail("no 0x2A36 on this monitor"))
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert reading.raw == monitor.measurements_sent[0]
    assert values(reading.measurement) == NORMAL
    assert [values(m)["systolic"] for m in driver.stored_records] == ["135", "142", "131"]
    assert "2A36" not in {s.characteristic for s in monitor.subscriptions}


@pytest.mark.parametrize("scenario, status", [("irregular_pulse", ("irregular_pulse",)),
                                              ("body_movement", ("body_movement",))])
async def test_measurement_status_bits(scenario, status):
    radio, _ = await start_monitor(scenario)
    reading = await make_driver(radio).read(scan_timeout=5, measure_timeout=5)
    assert reading.measurement.status == status
    assert values(reading.measurement)["systolic"] == "128"


async def test_kpa_unit():
    radio, monitor = await start_monitor("kpa")
    live = []
    reading = await make_driver(radio, on_live=live.append).read(scan_timeout=5, measure_timeout=5)
    assert values(reading.measurement) == {"systolic": "17.1", "diastolic": "10.9",
                                           "mean_arterial_pressure": "12.9", "pulse_rate": "72"}
    assert reading.measurement.observation("systolic").unit == "kPa"
    assert [str(m.observation("cuff_pressure").value) for m in live] == monitor.cuff_pressures
    assert {m.observation("cuff_pressure").unit for m in live} == {"kPa"}


async def test_current_time_is_written_and_sets_a_reset_clock():
    radio, monitor = await start_monitor("clock_not_set")
    assert monitor.device_time().year == 2000
    driver = make_driver(radio)
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert len(monitor.time_writes) == 1 and len(monitor.time_writes[0]) == 10
    written = monitor.time_writes[0]
    assert abs(read_date_time(written, 0).to_datetime() - local_now()) < dt.timedelta(minutes=1)
    assert written[7] == read_date_time(written, 0).to_datetime().isoweekday()  # Day of Week, Monday = 1
    assert abs(monitor.device_time() - local_now()) < dt.timedelta(minutes=1)
    assert driver.device_clock_set is True
    assert abs(reading.measurement.timestamp.to_datetime() - local_now()) < dt.timedelta(minutes=1)


async def test_current_time_sets_an_unknown_date():
    radio, monitor = await start_monitor("clock_unknown")
    assert monitor.clock_date_known is False
    driver = make_driver(radio)
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert monitor.clock_date_known is True and driver.device_clock_set is True
    assert reading.measurement.timestamp.complete


async def test_refused_current_time_is_tolerated():
    radio, monitor = await start_monitor("clock_write_refused")
    driver = make_driver(radio)
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert len(monitor.time_writes) == 1
    assert driver.device_clock_set is False
    assert values(reading.measurement) == NORMAL
    assert reading.measurement.timestamp.year == 2000  # the workflow then uses the tablet's reception time


async def test_read_only_current_time_is_tolerated():
    scenario = dataclasses.replace(BP_SCENARIOS["clock_not_set"], name="cts_read_only", current_time="read_only")
    radio, monitor = await start_monitor(scenario)
    driver = make_driver(radio)
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert len(monitor.time_writes) == 1 and driver.device_clock_set is False  # tried, refused (0x03)
    assert monitor.device_time().year == 2000
    assert values(reading.measurement) == NORMAL


async def test_no_current_time_service_no_write():
    radio, monitor = await start_monitor("no_cts")
    driver = make_driver(radio)
    reading = await driver.read(scan_timeout=5, measure_timeout=5)
    assert monitor.time_writes == [] and driver.device_clock_set is False
    assert values(reading.measurement) == NORMAL


async def test_malformed_record_is_a_clear_error():
    radio, _ = await start_monitor("malformed")
    with pytest.raises(MalformedData, match="unreadable measurement sent by the blood pressure monitor") as caught:
        await make_driver(radio).read(scan_timeout=5, measure_timeout=5)
    assert caught.value.code == "device.malformed" and caught.value.params == {"kind": "blood_pressure"}


async def test_two_readings_in_a_row_from_the_same_monitor():
    radio, monitor = await start_monitor("stored_burst")
    for _ in range(2):
        reading = await make_driver(radio).read(scan_timeout=5, measure_timeout=5)
        assert values(reading.measurement) == NORMAL
    assert len(monitor.measurements_sent) == 2


def test_every_scenario_is_covered_here():
    covered = {"normal", "error", "out_of_range", "low_battery", "slow", "disconnect", "stored_burst",
               "measured_before_connect", "irregular_pulse", "body_movement", "kpa", "clock_not_set",
               "clock_unknown", "clock_write_refused", "no_cts", "malformed"}
    assert set(BP_SCENARIOS) == covered
