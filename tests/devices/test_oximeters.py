"""Oximeters: the stable-reading rule (pure), name+service matching, and the three drivers through bleak's public
API on simulated GATT servers (Bumble), for every simulator scenario."""
from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import uuids
from devices.ieee11073 import Special
from devices.drivers.base import MalformedData
from devices.drivers.oximeters import BerryMedDriver, NoStableReading, Pc60fwDriver, PlxOximeterDriver
from devices.drivers.stable import TIMEOUT_REASONS, StableReadingRule, unusable_reason
from devices.errors import ENGLISH
from devices.parsers.berrymed import parse_berrymed_packet
from devices.parsers.common import InvalidValue, ObservedValue, ParsedMeasurement
from devices.parsers.pc60fw import crc8_maxim, parse_pc60fw_frame
from devices.parsers.pulse_oximetry import parse_plx_continuous
from devices.registry import driver_for
from devices.simulated import VirtualRadio
from devices.simulated.oximeters import (BERRYMED_SCENARIOS, PC60FW_SCENARIOS, PLX_SCENARIOS, SENSOR_UNCONNECTED,
                                         UNAVAILABLE, PlxSample, SimulatedBerryMed, SimulatedPc60fw,
                                         SimulatedPlxOximeter, SimulatedUartLookalike)
from devices.simulated.bleak_backend import simulated_transport
from devices.transport import Advertisement, DeviceNotFound, Disconnected, OperationTimeout

PLX_SPEED, BERRYMED_SPEED, PC60_SPEED = 100.0, 20.0, 100.0
SHORT = 0.3  # real seconds of measurement before giving up, in scenarios that must not produce a reading


# ---- helpers ---------------------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sample(spo2, pulse, *status: str) -> ParsedMeasurement:
    """A parsed value as any oximeter parser would give it; None = the field came as NaN."""
    obs, inv = [], []
    for name, code, unit, value in (("spo2", "59408-5", "%", spo2), ("pulse_rate", "8867-4", "/min", pulse)):
        if value is None:
            inv.append(InvalidValue(name, "NaN"))
        else:
            obs.append(ObservedValue(name, code, Decimal(value), unit))
    return ParsedMeasurement("test", tuple(obs), tuple(inv), None, status)


def feed(rule: StableReadingRule, clock: FakeClock, values, step: float = 1.0):
    """Feed (spo2, pulse[, status...]) one per `step` seconds; return the first proposal and its index."""
    for i, value in enumerate(values):
        clock.now = i * step
        proposal = rule.add(sample(*value), raw=bytes([i]))
        if proposal is not None:
            return i, proposal
    return None, None


def device_clock(speed: float):
    """The stable rule's clock for a simulated device played `speed` times faster than real time."""
    start = time.monotonic()
    return lambda: (time.monotonic() - start) * speed


async def started(sim):
    await sim.start()
    return sim


def values(measurement: ParsedMeasurement) -> dict[str, str]:
    return {o.field: str(o.value) for o in measurement.observations}


def assert_spo2_and_pulse(measurement: ParsedMeasurement) -> None:
    spo2, pulse = measurement.observation("spo2"), measurement.observation("pulse_rate")
    assert (spo2.code, spo2.unit) == ("59408-5", "%")
    assert (pulse.code, pulse.unit) == ("8867-4", "/min")


def assert_steady_value(measurement: ParsedMeasurement) -> None:
    """One of the settled continuous values of the PLX "normal" script (which one depends on timing), with the
    status of a settled value (not "early estimated")."""
    assert_spo2_and_pulse(measurement)
    assert measurement.observation("spo2").value == 97 and 71 <= measurement.observation("pulse_rate").value <= 73
    assert "fully_qualified" in measurement.status and "early_estimated" not in measurement.status


# ---- stable-reading rule (no Bluetooth) ------------------------------------------------------------------------

@pytest.mark.timeout(10)
def test_rule_proposes_after_five_seconds_within_tolerance_the_last_sample():
    clock = FakeClock()
    rule = StableReadingRule(clock=clock)
    index, proposal = feed(rule, clock, [(97, 72), (96, 74), (98, 70), (97, 71), (97, 73), (97, 72), (97, 72)])
    assert index == 5                     # t = 0 .. 5: five seconds, every sample within ±1 % / ±3 of the last
    assert (proposal.spo2, proposal.pulse_rate) == (97, 72)
    assert proposal.raw == bytes([5]) and proposal.samples == 6 and proposal.window_seconds == 5.0


@pytest.mark.timeout(10)
def test_rule_settling_values_restart_the_window():
    clock = FakeClock()
    rule = StableReadingRule(clock=clock)
    index, proposal = feed(rule, clock, [(93, 80), (96, 76)] + [(97, 72)] * 10)
    assert index == 7 and proposal.samples == 6   # 96 % is within 1 of 97, but 76 /min is 4 away from 72


@pytest.mark.timeout(10)
@pytest.mark.parametrize("spo2_step, pulse_step, stable", [(1, 0, True), (2, 0, False), (0, 3, True),
                                                            (0, 4, False)])
def test_rule_tolerance_edges(spo2_step, pulse_step, stable):
    clock = FakeClock()
    rule = StableReadingRule(clock=clock)
    alternating = [(95 + spo2_step * (i % 2), 70 + pulse_step * (i % 2)) for i in range(12)]
    index, _ = feed(rule, clock, alternating)
    assert (index is not None) == stable


@pytest.mark.timeout(10)
@pytest.mark.parametrize("bad, reason", [((97, 72, "no_finger"), "no_finger"),
                                         ((None, None, "sensor_unconnected"), "no_finger"),
                                         ((None, None, "probe_unplugged"), "sensor_problem"),
                                         ((97, 72, "questionable"), "poor_signal"),
                                         ((97, 72, "low_perfusion"), "poor_signal"),
                                         ((97, 72, "pulse_searching"), "poor_signal"),
                                         ((97, 72, "invalid"), "invalid"),
                                         ((97, 72, "demonstration"), "not_patient_data"),
                                         ((None, 72), "invalid"),
                                         ((97, None), "invalid")])
def test_rule_any_unusable_sample_restarts_the_window(bad, reason):
    assert unusable_reason(sample(*bad)) == reason
    clock = FakeClock()
    rule = StableReadingRule(clock=clock)
    index, _ = feed(rule, clock, [(97, 72)] * 4 + [bad])
    assert index is None and rule.reason == reason
    index, _ = feed(StableReadingRule(clock=clock), clock, [(97, 72)] * 4 + [bad] + [(97, 72)] * 6)
    assert index == 10                    # five seconds counted again from the sample after the bad one


@pytest.mark.timeout(10)
def test_rule_reasons_when_nothing_was_proposed():
    clock = FakeClock()
    rule = StableReadingRule(clock=clock)
    assert rule.reason == "no_data"
    feed(rule, clock, [(None, None, "no_finger")] * 3)
    assert rule.reason == "no_finger"
    feed(rule, clock, [(92, 70), (96, 84), (93, 76), (97, 91)] * 3)
    assert rule.reason == "unstable"
    assert {"no_data", "no_finger", "unstable", "poor_signal", "invalid", "sensor_problem"} <= set(TIMEOUT_REASONS)
    assert {f"oximeter.{reason}" for reason in TIMEOUT_REASONS} <= set(ENGLISH)  # each one is worded


@pytest.mark.timeout(10)
def test_rule_window_length_and_silences():
    clock = FakeClock()
    index, _ = feed(StableReadingRule(seconds=2.0, clock=clock), clock, [(97, 72)] * 10)
    assert index == 2
    index, _ = feed(StableReadingRule(clock=clock), clock, [(97, 72)] * 10, step=4.0)  # gaps > max_gap 3 s
    assert index is None


@pytest.mark.timeout(30)
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(85, 100), st.integers(55, 95), st.booleans(),
                          st.floats(0.2, 2.5)), max_size=40))
def test_rule_property_proposal_is_backed_by_five_seconds_of_consistent_values(stream):
    """Whatever came before, five seconds of steady values are proposed, and whatever is proposed, every sample
    of the last five seconds was usable and within tolerance of it."""
    clock = FakeClock()
    rule = StableReadingRule(clock=clock)
    steady = [(97, 72, True, 1.0)] * 7          # t .. t+6: more than five seconds of one steady value
    history = []
    proposal = None
    for index, (spo2, pulse, finger, step) in enumerate(stream + steady):
        clock.now += step
        value = sample(spo2, pulse) if finger else sample(None, None, "no_finger")
        history.append((clock.now, value))
        proposal = rule.add(value)
        if proposal is not None:
            break
    assert proposal is not None, "five seconds of one steady value must be proposed"
    if index >= len(stream):                   # proposed during the steady tail: it is the steady value
        assert (proposal.spo2, proposal.pulse_rate) == (97, 72)
    recent = [v for t, v in history if t >= clock.now - 5.0]
    assert all(unusable_reason(v) is None for v in recent)
    assert all(abs(v.observation("spo2").value - proposal.spo2) <= 1 for v in recent)
    assert all(abs(v.observation("pulse_rate").value - proposal.pulse_rate) <= 3 for v in recent)
    assert proposal.measurement is value and proposal.window_seconds >= 5.0


# ---- matching by name AND service ------------------------------------------------------------------------------

@pytest.mark.timeout(10)
@pytest.mark.parametrize("name, services, expected", [
    ("Relais Oxy", (uuids.PULSE_OXIMETER,), PlxOximeterDriver),
    (None, (uuids.PULSE_OXIMETER,), PlxOximeterDriver),
    ("BerryMed", (uuids.BERRYMED_SERVICE,), BerryMedDriver),
    ("MPT-II", (uuids.BERRYMED_SERVICE,), None),          # label printer on the same Transparent UART service
    ("Printer_5A3C", (uuids.BERRYMED_SERVICE,), None),
    ("BerryMed", (), None),                               # right name, service not advertised
    (None, (uuids.BERRYMED_SERVICE,), None),
    ("PC-60F_SN0001", (uuids.NORDIC_UART_SERVICE,), Pc60fwDriver),
    ("PC60FW", (uuids.NORDIC_UART_SERVICE,), Pc60fwDriver),
    ("OxySmart 7F2A", (uuids.NORDIC_UART_SERVICE,), Pc60fwDriver),
    ("WalkingPad", (uuids.NORDIC_UART_SERVICE,), None),   # treadmill on Nordic UART
    ("PC-60F_SN0001", (uuids.BERRYMED_SERVICE,), None),
])
def test_driver_matching(name, services, expected):
    adv = Advertisement("C0:DE:00:00:00:99", name, services)
    assert driver_for("oximeter", adv) is expected
    for driver in (PlxOximeterDriver, BerryMedDriver, Pc60fwDriver):
        assert driver.matches(adv) == (driver is expected)


@pytest.mark.timeout(15)
@pytest.mark.parametrize("driver, service, oximeter", [(BerryMedDriver, uuids.BERRYMED_SERVICE, SimulatedBerryMed),
                                                       (Pc60fwDriver, uuids.NORDIC_UART_SERVICE, SimulatedPc60fw)])
async def test_a_printer_on_the_same_uart_service_is_never_picked(driver, service, oximeter):
    radio = VirtualRadio()
    printer = await started(SimulatedUartLookalike(radio, name="MPT-II", service=service))
    with pytest.raises(DeviceNotFound):
        await driver(simulated_transport(radio)).read(scan_timeout=0.3)
    sim = await started(oximeter(radio, speed=50))
    reading = await driver(simulated_transport(radio), monotonic=device_clock(50)).read(scan_timeout=5,
                                                                                        measure_timeout=10)
    assert reading.device.address == sim.address != printer.address
    assert printer.subscriptions == []


# ---- standard Pulse Oximeter Service 0x1822 --------------------------------------------------------------------

async def plx(scenario="normal", **driver_kwargs):
    radio = VirtualRadio()
    sim = await started(SimulatedPlxOximeter(radio, scenario=scenario, speed=PLX_SPEED))
    live, states = [], []
    driver = PlxOximeterDriver(simulated_transport(radio), on_live=live.append, on_state=states.append,
                               monotonic=device_clock(PLX_SPEED), **driver_kwargs)
    return sim, driver, live, states


@pytest.mark.timeout(15)
async def test_plx_normal_prefers_the_spot_check_with_identity_battery_and_live_values():
    sim, driver, live, states = await plx()
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert reading.kind == "oximeter"
    assert reading.measurement.characteristic == "2A5E"
    assert values(reading.measurement) == {"spo2": "97", "pulse_rate": "72"}
    assert_spo2_and_pulse(reading.measurement)
    assert "fully_qualified" in reading.measurement.status
    assert reading.raw == sim.spot_checks_sent[-1]
    assert reading.device.serial == "SIM-0001" and reading.device.model == "SIM-OXY-1"
    assert reading.device.name == "Relais Oxy" and reading.device.address == sim.address
    assert reading.battery_percent == 87
    assert [values(m) for m in live] == [values(parse_plx_continuous(p)) for p in sim.continuous_sent[:len(live)]]
    assert values(live[0]) == {"spo2": "93", "pulse_rate": "80"} and len(live) >= 7
    assert states == ["scanning", "connecting", "measuring", "done"]
    assert sim.feature_reads == 1 and "meas_status" in driver.features.details["supported"]


@pytest.mark.timeout(15)
async def test_plx_spot_check_uses_indications_and_continuous_notifications():
    sim, driver, _, _ = await plx()
    await driver.read(scan_timeout=5, measure_timeout=10)
    by_char = {s.characteristic: s for s in sim.subscriptions}
    assert (by_char["2A5E"].indicate, by_char["2A5E"].notify) == (True, False)   # CCCD 02 00
    assert (by_char["2A5F"].indicate, by_char["2A5F"].notify) == (False, True)   # CCCD 01 00


@pytest.mark.timeout(15)
async def test_plx_continuous_only_device_gives_the_stable_value():
    radio = VirtualRadio()
    sim = await started(SimulatedPlxOximeter(radio, scenario="continuous_only", speed=PLX_SPEED))
    clock, live, seen_at = device_clock(PLX_SPEED), [], []

    def on_live(measurement):
        live.append(measurement)
        seen_at.append(clock())

    driver = PlxOximeterDriver(simulated_transport(radio), on_live=on_live, monotonic=clock)
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert reading.measurement.characteristic == "2A5F"
    assert_steady_value(reading.measurement)
    assert reading.raw in sim.continuous_sent and parse_plx_continuous(reading.raw) == reading.measurement
    # The settling values came first and were not proposed; the steady ones were watched for five seconds of the
    # device's time (how many arrived in those seconds depends on the machine's load, not on the rule).
    first_steady = next(i for i, m in enumerate(live) if values(m)["spo2"] == "97")
    assert first_steady >= 2 and values(live[0])["spo2"] != "97"
    assert seen_at[-1] - seen_at[first_steady] >= 5.0 - 0.5
    assert sim.spot_checks_sent == [] and "2A5E" not in {s.characteristic for s in sim.subscriptions}


@pytest.mark.timeout(15)
async def test_plx_spot_check_arriving_during_the_grace_period_wins_over_the_stable_value():
    steady = tuple(PlxSample("97", "72") for _ in range(3))
    scenario = dataclasses.replace(PLX_SCENARIOS["normal"], samples=steady, spot_check=PlxSample("98", "70"),
                                   spot_check_after=7)           # stable at t=6, spot-check at t=7
    sim, driver, _, _ = await plx(scenario, spot_check_grace=3.0)
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert reading.measurement.characteristic == "2A5E" and values(reading.measurement)["spo2"] == "98"


@pytest.mark.timeout(15)
async def test_plx_device_offering_spot_check_that_never_sends_one_falls_back_to_the_stable_value():
    scenario = dataclasses.replace(PLX_SCENARIOS["normal"], spot_check=None)
    sim, driver, _, _ = await plx(scenario)
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert reading.measurement.characteristic == "2A5F"
    assert_steady_value(reading.measurement)


@pytest.mark.timeout(15)
async def test_plx_error_nan_is_reported_invalid_not_a_value():
    _, driver, _, _ = await plx("error")
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert reading.measurement.observations == ()
    assert {(i.field, i.reason) for i in reading.measurement.invalid} == {("spo2", "NaN"), ("pulse_rate", "NaN")}


@pytest.mark.timeout(15)
async def test_plx_out_of_range_pulse_is_invalid_and_spo2_kept():
    _, driver, _, _ = await plx("out_of_range")
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert values(reading.measurement) == {"spo2": "97"}
    assert [(i.field, i.reason) for i in reading.measurement.invalid] == [("pulse_rate", "+INF")]


@pytest.mark.timeout(15)
async def test_plx_low_battery_is_reported_with_the_reading():
    _, driver, _, _ = await plx("low_battery")
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert reading.battery_percent == 5 and values(reading.measurement) == {"spo2": "97", "pulse_rate": "72"}


@pytest.mark.timeout(15)
async def test_plx_low_perfusion_spot_check_keeps_its_flags():
    _, driver, _, _ = await plx("low_perfusion")
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert {"questionable", "low_perfusion"} <= set(reading.measurement.status)


@pytest.mark.timeout(15)
async def test_plx_low_perfusion_continuous_values_never_become_a_reading():
    scenario = dataclasses.replace(PLX_SCENARIOS["low_perfusion"], spot_check=None, offer_spot_check=False)
    _, driver, live, _ = await plx(scenario)
    with pytest.raises(NoStableReading) as caught:
        await driver.read(scan_timeout=5, measure_timeout=SHORT)
    assert caught.value.reason == "poor_signal" and "signal" in str(caught.value)
    assert len(live) > 6               # the values were there, steady, and shown; only flagged


@pytest.mark.timeout(15)
@pytest.mark.parametrize("scenario, reason", [("no_finger", "no_finger"), ("sensor_disconnected", "sensor_problem")])
async def test_plx_no_finger_never_produces_a_reading(scenario, reason):
    _, driver, live, _ = await plx(scenario)
    with pytest.raises(OperationTimeout) as caught:
        await driver.read(scan_timeout=5, measure_timeout=SHORT)
    assert isinstance(caught.value, NoStableReading) and caught.value.reason == reason
    assert caught.value.code == f"oximeter.{reason}" and caught.value.params == {"kind": "oximeter", "seconds": f"{SHORT:g}"}
    assert str(caught.value) == ENGLISH[f"oximeter.{reason}"]
    assert live and all(m.observations == () for m in live)


@pytest.mark.timeout(15)
async def test_plx_spot_check_saying_no_finger_is_not_a_reading():
    no_finger = PlxSample(Special.NAN, Special.NAN, UNAVAILABLE, SENSOR_UNCONNECTED)
    scenario = dataclasses.replace(PLX_SCENARIOS["no_finger"], spot_check=no_finger, spot_check_after=2)
    sim, driver, _, _ = await plx(scenario)
    with pytest.raises(NoStableReading) as caught:
        await driver.read(scan_timeout=5, measure_timeout=SHORT)
    assert caught.value.reason == "no_finger" and sim.spot_checks_sent
    assert {reason for reason, _ in driver.ignored_spot_checks} == {"no_finger"}


@pytest.mark.timeout(15)
async def test_plx_disconnect_mid_measurement_raises_disconnected():
    _, driver, live, states = await plx("disconnect")
    with pytest.raises(Disconnected):
        await driver.read(scan_timeout=5, measure_timeout=10)
    assert len(live) == 3 and "done" not in states


@pytest.mark.timeout(15)
async def test_plx_unstable_values_time_out_with_advice_as_a_code():
    _, driver, live, _ = await plx("unstable")
    with pytest.raises(NoStableReading, match="do not settle") as caught:
        await driver.read(scan_timeout=5, measure_timeout=SHORT)
    assert caught.value.reason == "unstable" and caught.value.code == "oximeter.unstable" and len(live) > 10


@pytest.mark.timeout(15)
async def test_plx_stored_record_replayed_on_subscription_is_not_taken_as_todays_value():
    sim, driver, _, _ = await plx("stored_record")
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert values(reading.measurement) == {"spo2": "97", "pulse_rate": "72"}
    assert reading.raw == sim.spot_checks_sent[-1] != sim.spot_checks_sent[0]
    assert [reason for reason, _ in driver.ignored_spot_checks] == ["not_patient_data"]


# ---- BerryMed (BCI over Transparent UART) ----------------------------------------------------------------------

async def berrymed(scenario="normal"):
    radio = VirtualRadio()
    sim = await started(SimulatedBerryMed(radio, scenario=scenario, speed=BERRYMED_SPEED))
    live = []
    driver = BerryMedDriver(simulated_transport(radio), on_live=live.append,
                            monotonic=device_clock(BERRYMED_SPEED))
    return sim, driver, live


@pytest.mark.timeout(15)
async def test_berrymed_normal_reading_from_split_packets_with_exact_bytes():
    sim, driver, live = await berrymed()
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert reading.measurement.characteristic == "berrymed"
    assert_spo2_and_pulse(reading.measurement)
    assert reading.measurement.observation("spo2").value == 98
    assert reading.measurement.observation("pulse_rate").value in (68, 69)
    assert len(reading.raw) == 5 and parse_berrymed_packet(reading.raw) == reading.measurement
    assert reading.raw in b"".join(sim.sent)
    assert any(len(chunk) % 5 for chunk in sim.sent)             # notifications do not align with packets
    assert reading.device.name == "BerryMed" and reading.device.address == sim.address
    assert reading.device.manufacturer is None and reading.device.serial is None   # no Device Information
    assert reading.battery_percent is None
    assert len(live) > 300 and driver.stream.dropped_bytes == 0
    assert [(s.characteristic, s.notify) for s in sim.subscriptions] == [(uuids.BERRYMED_NOTIFY.upper(), True)]


@pytest.mark.timeout(15)
@pytest.mark.parametrize("scenario, reason", [("no_finger", "no_finger"), ("probe_unplugged", "sensor_problem")])
async def test_berrymed_no_finger_or_probe_never_produces_a_reading(scenario, reason):
    _, driver, live = await berrymed(scenario)
    with pytest.raises(NoStableReading) as caught:
        await driver.read(scan_timeout=5, measure_timeout=SHORT)
    assert caught.value.reason == reason
    assert live and all(m.observations == () for m in live)


@pytest.mark.timeout(15)
async def test_berrymed_disconnect_mid_measurement_raises_disconnected():
    _, driver, live = await berrymed("disconnect")
    with pytest.raises(Disconnected):
        await driver.read(scan_timeout=5, measure_timeout=10)
    assert live


@pytest.mark.timeout(15)
async def test_berrymed_low_battery_from_a_battery_service():
    _, driver, _ = await berrymed("low_battery")
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert reading.battery_percent == 6 and reading.measurement.observation("spo2").value == 98


# ---- Viatom PC-60FW (AA 55 frames over Nordic UART) ------------------------------------------------------------

async def pc60(scenario="normal"):
    radio = VirtualRadio()
    sim = await started(SimulatedPc60fw(radio, scenario=scenario, speed=PC60_SPEED))
    live = []
    driver = Pc60fwDriver(simulated_transport(radio), on_live=live.append, monotonic=device_clock(PC60_SPEED))
    return sim, driver, live


@pytest.mark.timeout(15)
async def test_pc60fw_normal_reading_from_reassembled_frames():
    sim, driver, live = await pc60()
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert reading.measurement.characteristic == "pc60fw"
    assert_spo2_and_pulse(reading.measurement)
    assert values(reading.measurement) == {"spo2": "97", "pulse_rate": "75", "pai": "4.2"}
    assert reading.raw in sim.frames_sent and parse_pc60fw_frame(reading.raw) == reading.measurement
    assert reading.device.name == "PC-60F_SN0001" and reading.device.manufacturer is None
    assert all(len(chunk) == 20 for chunk in sim.sent)           # 20-byte notifications across frame boundaries
    assert live and all(m.details["type"] == 0x01 for m in live)  # wave frames are not shown as values


@pytest.mark.timeout(15)
async def test_pc60fw_frames_with_a_bad_crc_are_never_read():
    sim, driver, live = await pc60("bad_crc")
    reading = await driver.read(scan_timeout=5, measure_timeout=10)
    assert values(reading.measurement) == {"spo2": "97", "pulse_rate": "75", "pai": "4.2"}
    assert crc8_maxim(reading.raw[:-1]) == reading.raw[-1] and reading.raw not in sim.bad_frames_sent
    assert sim.bad_frames_sent and driver.stream.bad_frames >= 1
    seen = {(m.observation("spo2").value, m.observation("pulse_rate").value) for m in live if m.observations}
    assert (82, 131) not in seen


@pytest.mark.timeout(15)
async def test_pc60fw_only_bad_crc_frames_produce_no_reading_at_all():
    sim, driver, live = await pc60("malformed")  # every parameter frame fails its CRC (tests/devices/test_malformed.py)
    with pytest.raises(MalformedData) as caught:
        await driver.read(scan_timeout=5, measure_timeout=SHORT)
    assert caught.value.code == "oximeter.unreadable" and caught.value.params["count"] > 0 and live == []
    assert "unreadable data" in str(caught.value)
    assert len(sim.bad_frames_sent) > 10 and sim.frames_sent == []


@pytest.mark.timeout(15)
async def test_pc60fw_no_finger_never_produces_a_reading():
    _, driver, live = await pc60("no_finger")
    with pytest.raises(NoStableReading) as caught:
        await driver.read(scan_timeout=5, measure_timeout=SHORT)
    assert caught.value.reason == "no_finger" and live and all(m.observations == () for m in live)


@pytest.mark.timeout(15)
async def test_pc60fw_disconnect_mid_measurement_raises_disconnected():
    _, driver, _ = await pc60("disconnect")
    with pytest.raises(Disconnected):
        await driver.read(scan_timeout=5, measure_timeout=10)


# ---- every scenario, played through its driver, ends as documented ----------------------------------------------

READ, FAIL = 10, SHORT   # measure timeouts (real seconds): scenarios ending with a reading, or without one
NORMAL = {"spo2": "97", "pulse_rate": "72"}
OUTCOMES = {  # (protocol, scenario) -> the reading's values, or (the error, the NoStableReading reason)
    ("plx", "normal"): NORMAL,
    ("plx", "continuous_only"): {"spo2": "97", "pulse_rate": "7x"},    # one of the steady values 71-73
    ("plx", "error"): {},
    ("plx", "out_of_range"): {"spo2": "97"},
    ("plx", "low_battery"): NORMAL,
    ("plx", "low_perfusion"): {"spo2": "95", "pulse_rate": "88"},   # flagged questionable, low perfusion
    ("plx", "no_finger"): (NoStableReading, "no_finger"),
    ("plx", "sensor_disconnected"): (NoStableReading, "sensor_problem"),
    ("plx", "disconnect"): (Disconnected, None),
    ("plx", "unstable"): (NoStableReading, "unstable"),
    ("plx", "stored_record"): NORMAL,
    ("plx", "malformed"): (MalformedData, None),
    ("berrymed", "normal"): {"spo2": "98", "pulse_rate": "6x"},       # 68 or 69
    ("berrymed", "no_finger"): (NoStableReading, "no_finger"),
    ("berrymed", "probe_unplugged"): (NoStableReading, "sensor_problem"),
    ("berrymed", "disconnect"): (Disconnected, None),
    ("berrymed", "low_battery"): {"spo2": "98", "pulse_rate": "6x"},
    ("berrymed", "malformed"): (MalformedData, None),
    ("pc60fw", "normal"): {"spo2": "97", "pulse_rate": "75", "pai": "4.2"},
    ("pc60fw", "bad_crc"): {"spo2": "97", "pulse_rate": "75", "pai": "4.2"},
    ("pc60fw", "malformed"): (MalformedData, None),
    ("pc60fw", "no_finger"): (NoStableReading, "no_finger"),
    ("pc60fw", "disconnect"): (Disconnected, None),
}
PROTOCOLS = {"plx": (SimulatedPlxOximeter, PlxOximeterDriver, PLX_SCENARIOS, PLX_SPEED),
             "berrymed": (SimulatedBerryMed, BerryMedDriver, BERRYMED_SCENARIOS, BERRYMED_SPEED),
             "pc60fw": (SimulatedPc60fw, Pc60fwDriver, PC60FW_SCENARIOS, PC60_SPEED)}


def test_every_simulator_scenario_has_a_documented_outcome():
    played = {(protocol, name) for protocol, (_s, _d, scenarios, _v) in PROTOCOLS.items() for name in scenarios}
    assert played == set(OUTCOMES)
    for _sim, _driver, scenarios, _speed in PROTOCOLS.values():
        assert all(scenario.name == name for name, scenario in scenarios.items())


def same_values(measurement: ParsedMeasurement, expected: dict[str, str]) -> bool:
    got = values(measurement)
    return got.keys() == expected.keys() and all(
        got[field] == value or (value.endswith("x") and got[field][:-1] == value[:-1])
        for field, value in expected.items())


@pytest.mark.timeout(15)
@pytest.mark.parametrize("protocol, scenario", sorted(OUTCOMES))
async def test_every_simulator_scenario_ends_as_documented(protocol, scenario):
    simulator, driver_class, _scenarios, speed = PROTOCOLS[protocol]
    sim = await started(simulator(VirtualRadio(), scenario=scenario, speed=speed))
    driver = driver_class(simulated_transport(sim.radio), monotonic=device_clock(speed))
    expected = OUTCOMES[(protocol, scenario)]
    try:
        if isinstance(expected, dict):
            reading = await driver.read(scan_timeout=5, measure_timeout=READ)
            assert same_values(reading.measurement, expected), values(reading.measurement)
        else:
            error, reason = expected
            with pytest.raises(error) as caught:
                await driver.read(scan_timeout=5, measure_timeout=READ if error is Disconnected else FAIL)
            assert getattr(caught.value, "reason", None) == reason
    finally:
        await sim.stop()


@pytest.mark.timeout(15)
async def test_a_cancelled_reading_closes_the_link():
    """Staff cancel while the oximeter waits for a finger: the driver disconnects before the cancellation goes on,
    so the oximeter stops streaming to a collector that is gone."""
    import asyncio

    sim, driver, live, states = await plx("no_finger")
    task = asyncio.ensure_future(driver.read(scan_timeout=5, measure_timeout=30))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not (live and sim.busy) and loop.time() < deadline:
        await asyncio.sleep(0.02)
    assert states[-1] == "measuring" and sim.device.connections
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = loop.time() + 5
    while (sim.device.connections or sim.busy) and loop.time() < deadline:
        await asyncio.sleep(0.02)
    assert not sim.device.connections and not sim.busy
