"""Plausibility, alerts and partial NEWS2 (Royal College of Physicians, 2017): refusals and alerts are codes."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from mobile.vitals import (Implausible, assess_blood_pressure, assess_pulse, assess_spo2, assess_temperature,
                           news2)


@pytest.mark.parametrize("value,unit", [("29.9", "Cel"), ("43.1", "Cel"), ("98.6", "Cel"), ("120", "[degF]")])
def test_implausible_temperatures(value, unit):
    with pytest.raises(Implausible) as caught:
        assess_temperature(D(value), unit)
    expected = "vitals.temperature.fahrenheit" if value == "98.6" else "vitals.temperature.implausible"
    assert caught.value.code == expected


def test_temperature_alerts_for_elderly():
    assert assess_temperature(D("37.60"), "Cel").alerts == ()
    assert assess_temperature(D("37.8"), "Cel").alerts == ("vitals.temperature.low_grade_fever",)
    assert assess_temperature(D("38.4"), "Cel").alerts == ("vitals.temperature.fever",)
    assert assess_temperature(D("35.0"), "Cel").alerts == ("vitals.temperature.hypothermia",)
    assert assess_temperature(D("40.1"), "Cel").verify == ("vitals.temperature.extreme",)
    assert "vitals.temperature.rise_from_usual" in assess_temperature(D("37.5"), "Cel", baseline=D("36.3")).alerts
    assert assess_temperature(D("99.5"), "[degF]").alerts == ()  # 37.5 °C


def test_spo2():
    with pytest.raises(Implausible):
        assess_spo2(D(101))
    with pytest.raises(Implausible):
        assess_spo2(D(49))
    assert assess_spo2(D(97)) == assess_spo2(D("97.0"))
    assert assess_spo2(D(91)).alerts == ("vitals.spo2.low",)
    assert assess_spo2(D(88)).alerts == ("vitals.spo2.very_low",)
    assert assess_spo2(D(65)).verify == ("vitals.spo2.below_accuracy",)
    assert "vitals.spo2.drop_from_usual" in assess_spo2(D(93), baseline=D(96)).alerts


def test_pulse_and_blood_pressure():
    with pytest.raises(Implausible):
        assess_pulse(D(19))
    assert assess_pulse(D(125)).alerts == ("vitals.pulse.tachycardia",)
    assert assess_pulse(D(38)).alerts == ("vitals.pulse.bradycardia",) and assess_pulse(D(38)).verify
    with pytest.raises(Implausible):
        assess_blood_pressure(D(80), D(90))          # systolic ≤ diastolic
    with pytest.raises(Implausible):
        assess_blood_pressure(D(300), D(90))
    assert assess_blood_pressure(D(128), D(82)) .alerts == ()
    assert assess_blood_pressure(D(85), D(55)).alerts[0] == "vitals.blood_pressure.hypotension"
    assert "vitals.blood_pressure.severe_hypertension" in assess_blood_pressure(D(190), D(115)).alerts
    assert assess_blood_pressure(D("25.3"), D("14.7"), "kPa").alerts  # 190/110 mmHg in kPa


def test_news2_bands_and_partial_flag():
    score = news2(temperature_c=D("37.6"), spo2=D(97), systolic=D(128), pulse=D(72))
    assert score.score == 0 and not score.complete
    assert set(score.missing) == {"respiration_rate", "air_or_oxygen", "consciousness"}
    worst = news2(temperature_c=D("35.0"), spo2=D(91), systolic=D(90), pulse=D(131), respiration_rate=25,
                  on_oxygen=True, alert=False)
    assert worst.score == 3 + 3 + 2 + 3 + 3 + 3 + 3 and worst.complete and worst.single_parameter_3
    edges = news2(temperature_c=D("39.1"), spo2=D("93.6"), systolic=D(101), pulse=D(111))
    assert edges.parameters == {"temperature": 2, "spo2": 1, "systolic": 1, "pulse": 2}
    assert news2(temperature_c=D("38.0")).parameters["temperature"] == 0
    assert news2(temperature_c=D("38.05")).parameters["temperature"] == 1  # rounds to 38.1


# -- NEWS2 (RCP 2017): every band edge ----------------------------------------------
from mobile.vitals import NEWS2_RESPONSE_FR, respiration_rate_from_text  # noqa: E402




@pytest.mark.parametrize("kwargs, parameter, points", [
    *[({"respiration_rate": v}, "respiration_rate", p) for v, p in
      ((8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3))],
    *[({"spo2": D(v)}, "spo2", p) for v, p in ((91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0))],
    *[({"spo2": D(v), "spo2_scale": 2, "on_oxygen": True}, "spo2", p) for v, p in
      ((83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 1), (94, 1), (95, 2), (96, 2), (97, 3))],
    *[({"spo2": D(v), "spo2_scale": 2, "on_oxygen": False}, "spo2", p) for v, p in ((93, 0), (99, 0), (87, 1))],
    ({"on_oxygen": True}, "air_or_oxygen", 2), ({"on_oxygen": False}, "air_or_oxygen", 0),
    *[({"systolic": D(v)}, "systolic", p) for v, p in
      ((90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3))],
    *[({"pulse": D(v)}, "pulse", p) for v, p in
      ((40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3))],
    *[({"consciousness": c}, "consciousness", p) for c, p in (("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3))],
    *[({"temperature_c": D(v)}, "temperature", p) for v, p in
      (("35.0", 3), ("35.1", 1), ("36.0", 1), ("36.1", 0), ("38.0", 0), ("38.1", 1), ("39.0", 1), ("39.1", 2))],
])
def test_news2_band_edges(kwargs, parameter, points):
    assert news2(**kwargs).parameters[parameter] == points


def test_news2_risk_bands_and_what_to_do():
    calm = news2(respiration_rate=16, spo2=D(97), on_oxygen=False, systolic=D(130), pulse=D(72), consciousness="A",
                 temperature_c=D("37.0"))
    assert (calm.score, calm.complete, calm.risk) == (0, True, "low")
    one_red = news2(respiration_rate=16, spo2=D(97), on_oxygen=False, systolic=D(130), pulse=D(72),
                    consciousness="C", temperature_c=D("37.0"))
    assert (one_red.score, one_red.risk) == (3, "low_medium")
    medium = news2(respiration_rate=22, spo2=D(94), on_oxygen=False, systolic=D(105), pulse=D(95))
    assert (medium.score, medium.risk) == (2 + 1 + 1 + 1, "medium")
    high = news2(respiration_rate=26, spo2=D(90), on_oxygen=True, systolic=D(95), pulse=D(120), consciousness="V",
                 temperature_c=D("39.5"))
    assert high.score == 3 + 3 + 2 + 2 + 2 + 3 + 2 and high.risk == "high"
    assert "15" in NEWS2_RESPONSE_FR["high"] and "URGENT" in NEWS2_RESPONSE_FR["medium"]
    partial = news2(spo2=D(97))
    assert not partial.complete and set(partial.missing) >= {"respiration_rate", "consciousness"}


def test_respiration_rate_is_a_plausible_count():
    assert respiration_rate_from_text(" 18 ") == 18
    for bad in ("", "dix-huit", "18.5", "3", "61"):
        with pytest.raises(Implausible):
            respiration_rate_from_text(bad)
