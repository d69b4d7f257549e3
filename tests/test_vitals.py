"""Plausibility, alerts and partial NEWS2 (shared/notes/domain.md §4)."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from mobile.vitals import (Implausible, assess_blood_pressure, assess_pulse, assess_spo2, assess_temperature,
                           news2)


@pytest.mark.parametrize("value,unit", [("29.9", "Cel"), ("43.1", "Cel"), ("98.6", "Cel"), ("120", "[degF]")])
def test_implausible_temperatures(value, unit):
    with pytest.raises(Implausible):
        assess_temperature(D(value), unit)


def test_temperature_alerts_for_elderly():
    assert assess_temperature(D("37.60"), "Cel").alerts == ()
    assert "Fébricule" in assess_temperature(D("37.8"), "Cel").alerts[0]
    assert "Fièvre" in assess_temperature(D("38.4"), "Cel").alerts[0]
    assert "Hypothermie" in assess_temperature(D("35.0"), "Cel").alerts[0]
    assert assess_temperature(D("40.1"), "Cel").verify
    assert any("1,1" in a for a in assess_temperature(D("37.5"), "Cel", baseline=D("36.3")).alerts)
    assert assess_temperature(D("99.5"), "[degF]").alerts == ()  # 37.5 °C


def test_spo2():
    with pytest.raises(Implausible):
        assess_spo2(D(101))
    with pytest.raises(Implausible):
        assess_spo2(D(49))
    assert assess_spo2(D(97)) == assess_spo2(D("97.0"))
    assert "basse" in assess_spo2(D(91)).alerts[0]
    assert "urgente" in assess_spo2(D(88)).alerts[0]
    assert assess_spo2(D(65)).verify
    assert any("3 points" in a for a in assess_spo2(D(93), baseline=D(96)).alerts)


def test_pulse_and_blood_pressure():
    with pytest.raises(Implausible):
        assess_pulse(D(19))
    assert "Tachycardie" in assess_pulse(D(125)).alerts[0]
    with pytest.raises(Implausible):
        assess_blood_pressure(D(80), D(90))          # systolic ≤ diastolic
    with pytest.raises(Implausible):
        assess_blood_pressure(D(300), D(90))
    assert assess_blood_pressure(D(128), D(82)) .alerts == ()
    assert "Hypotension" in assess_blood_pressure(D(85), D(55)).alerts[0]
    assert any("sévère" in a for a in assess_blood_pressure(D(190), D(115)).alerts)
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
