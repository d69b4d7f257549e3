"""The clinical rules table: every threshold at its boundary (just below, at, just above), plausibility, unit
conversion, the reasons to measure again, and the checks that need a whole blood pressure reading."""
from __future__ import annotations

from decimal import Decimal

import pytest

from sync.clinical import rules
from sync.clinical.rules import Decision, Implausible, decide, decide_blood_pressure

# (LOINC, unit, value, expected flag): written out by hand from the sources in sync/clinical/rules.py, one row per
# side of every boundary, so a changed bound or a < that became ≤ shows here.
BOUNDARIES = [
    # temperature °C: LL ≤ 35.0; H ≥ 37.8; HH ≥ 40.0
    ("8310-5", "Cel", "34.9", "LL"), ("8310-5", "Cel", "35.0", "LL"), ("8310-5", "Cel", "35.1", None),
    ("8310-5", "Cel", "37.7", None), ("8310-5", "Cel", "37.8", "H"), ("8310-5", "Cel", "37.9", "H"),
    ("8310-5", "Cel", "38.0", "H"), ("8310-5", "Cel", "38.1", "H"),
    ("8310-5", "Cel", "39.9", "H"), ("8310-5", "Cel", "40.0", "HH"), ("8310-5", "Cel", "40.1", "HH"),
    # SpO2 %: LL < 90; L < 92
    ("59408-5", "%", "89", "LL"), ("59408-5", "%", "90", "L"), ("59408-5", "%", "91", "L"),
    ("59408-5", "%", "92", None), ("59408-5", "%", "93", None), ("2708-6", "%", "89", "LL"),
    ("2708-6", "%", "90", "L"), ("2708-6", "%", "91", "L"), ("2708-6", "%", "92", None),
    # pulse /min: LL ≤ 40; L ≤ 50; H > 120; HH ≥ 131
    ("8867-4", "/min", "39", "LL"), ("8867-4", "/min", "40", "LL"), ("8867-4", "/min", "41", "L"),
    ("8867-4", "/min", "49", "L"), ("8867-4", "/min", "50", "L"), ("8867-4", "/min", "51", None),
    ("8867-4", "/min", "119", None), ("8867-4", "/min", "120", None), ("8867-4", "/min", "121", "H"),
    ("8867-4", "/min", "130", "H"), ("8867-4", "/min", "131", "HH"), ("8867-4", "/min", "132", "HH"),
    # systolic mmHg: LL ≤ 90; L ≤ 100; H > 180; HH ≥ 220
    ("8480-6", "mm[Hg]", "89", "LL"), ("8480-6", "mm[Hg]", "90", "LL"), ("8480-6", "mm[Hg]", "91", "L"),
    ("8480-6", "mm[Hg]", "99", "L"), ("8480-6", "mm[Hg]", "100", "L"), ("8480-6", "mm[Hg]", "101", None),
    ("8480-6", "mm[Hg]", "179", None), ("8480-6", "mm[Hg]", "180", None), ("8480-6", "mm[Hg]", "181", "H"),
    ("8480-6", "mm[Hg]", "219", "H"), ("8480-6", "mm[Hg]", "220", "HH"), ("8480-6", "mm[Hg]", "221", "HH"),
    # diastolic mmHg: L ≤ 60; H > 110
    ("8462-4", "mm[Hg]", "59", "L"), ("8462-4", "mm[Hg]", "60", "L"), ("8462-4", "mm[Hg]", "61", None),
    ("8462-4", "mm[Hg]", "109", None), ("8462-4", "mm[Hg]", "110", None), ("8462-4", "mm[Hg]", "111", "H"),
    # respiration /min: LL ≤ 8; L ≤ 11; H ≥ 21; HH ≥ 25
    ("9279-1", "/min", "7", "LL"), ("9279-1", "/min", "8", "LL"), ("9279-1", "/min", "9", "L"),
    ("9279-1", "/min", "11", "L"), ("9279-1", "/min", "12", None), ("9279-1", "/min", "20", None),
    ("9279-1", "/min", "21", "H"), ("9279-1", "/min", "24", "H"), ("9279-1", "/min", "25", "HH"),
    ("9279-1", "/min", "26", "HH"),
    # mean arterial pressure: no threshold
    ("8478-0", "mm[Hg]", "40", None), ("8478-0", "mm[Hg]", "150", None),
]


@pytest.mark.parametrize("code,unit,value,flag", BOUNDARIES)
def test_every_boundary_gives_its_flag(code, unit, value, flag):
    decision = decide(code, Decimal(value), unit)
    assert decision.flag == flag
    assert bool(decision.alerts) == (flag is not None)  # a flag always comes with its alert, and only then


def test_the_boundary_table_covers_every_threshold_of_the_rules():
    covered = {(code, Decimal(value)) for code, _unit, value, _flag in BOUNDARIES}
    for code, rule in rules.RULES.items():
        for threshold in rule.thresholds:
            assert (code, threshold.bound) in covered, (code, threshold)


def test_fever_alerts_say_how_high():
    assert decide("8310-5", Decimal("37.8"), "Cel").alerts == ("alert.temperature.low_grade_fever",)
    assert decide("8310-5", Decimal("38.5"), "Cel").alerts == ("alert.temperature.fever",)
    assert decide("8310-5", Decimal("40.2"), "Cel").alerts == ("alert.temperature.very_high",)


def test_other_units_are_compared_after_conversion():
    assert decide("8310-5", Decimal("100.4"), "[degF]").flag == "H"   # 38.0 °C
    assert decide("8310-5", Decimal("95.0"), "[degF]").flag == "LL"   # 35.0 °C
    assert decide("8480-6", Decimal("12.0"), "kPa").flag == "LL"      # 90 mmHg
    assert decide("8480-6", Decimal("24.2"), "kPa").flag == "H"       # 182 mmHg


@pytest.mark.parametrize("code,unit,value,reason", [
    ("8310-5", "Cel", "29.9", "vital.implausible.temperature"), ("8310-5", "Cel", "43.1", "vital.implausible.temperature"),
    ("8310-5", "Cel", "98.6", "vital.implausible.fahrenheit"), ("59408-5", "%", "49", "vital.implausible.spo2"),
    ("59408-5", "%", "101", "vital.implausible.spo2"), ("8867-4", "/min", "19", "vital.implausible.pulse"),
    ("8867-4", "/min", "251", "vital.implausible.pulse"), ("9279-1", "/min", "3", "vital.implausible.respiration_rate"),
    ("8480-6", "mm[Hg]", "281", "vital.implausible.systolic"),
])
def test_implausible_values_are_refused_with_a_code(code, unit, value, reason):
    with pytest.raises(Implausible) as refused:
        decide(code, Decimal(value), unit)
    assert refused.value.code == reason and refused.value.field == "value"


def test_plausibility_bounds_themselves_are_accepted():
    assert decide("8310-5", Decimal("30.0"), "Cel").flag == "LL"
    assert decide("59408-5", Decimal("100"), "%") == Decision()
    assert decide("8867-4", Decimal("250"), "/min").flag == "HH"


@pytest.mark.parametrize("code,unit,value,confirm", [
    ("8310-5", "Cel", "34.9", ("vital.confirm.extreme",)), ("8310-5", "Cel", "35.0", ()),
    ("8310-5", "Cel", "39.9", ()), ("8310-5", "Cel", "40.0", ("vital.confirm.extreme",)),
    ("59408-5", "%", "69", ("vital.confirm.spo2_accuracy",)), ("59408-5", "%", "70", ()),
    ("8867-4", "/min", "39", ("vital.confirm.extreme",)), ("8867-4", "/min", "40", ()),
    ("8867-4", "/min", "150", ()), ("8867-4", "/min", "151", ("vital.confirm.extreme",)),
    ("9279-1", "/min", "8", ("vital.confirm.extreme",)), ("9279-1", "/min", "9", ()),
])
def test_extreme_values_ask_to_measure_again(code, unit, value, confirm):
    assert decide(code, Decimal(value), unit).confirm == confirm


def test_a_value_abnormal_for_this_resident_gets_the_baseline_alert_and_its_flag():
    rise = decide("8310-5", Decimal("37.5"), "Cel", baseline=Decimal("36.4"))
    assert rise.flag == "H" and rise.alerts == ("alert.temperature.rise_from_baseline",)
    assert decide("8310-5", Decimal("37.4"), "Cel", baseline=Decimal("36.4")) == Decision()
    drop = decide("59408-5", Decimal("93"), "%", baseline=Decimal("96"))
    assert drop.flag == "L" and drop.alerts == ("alert.spo2.drop_from_baseline",)
    assert decide("59408-5", Decimal("94"), "%", baseline=Decimal("96")) == Decision()
    assert decide("8867-4", Decimal("95"), "/min", baseline=Decimal("60")) == Decision()  # no pulse rule


def test_the_tables_flag_wins_over_the_baseline_rules():
    fever = decide("8310-5", Decimal("40.1"), "Cel", baseline=Decimal("36.8"))
    assert fever.flag == "HH"
    assert fever.alerts == ("alert.temperature.very_high", "alert.temperature.rise_from_baseline")
    assert decide("59408-5", Decimal("89"), "%", baseline=Decimal("96")).flag == "LL"


def test_the_usual_value_is_in_the_rules_unit_whatever_the_reading_s_unit():
    # 99.5 °F = 37.5 °C: 1.1 °C above a usual 36.4 °C
    rise = decide("8310-5", Decimal("99.5"), "[degF]", baseline=Decimal("36.4"))
    assert rise.flag == "H" and rise.alerts == ("alert.temperature.rise_from_baseline",)
    assert decide("8310-5", Decimal("99.3"), "[degF]", baseline=Decimal("36.4")).flag is None


def test_a_cuff_reading_is_checked_as_a_whole():
    with pytest.raises(Implausible) as refused:
        decide_blood_pressure(Decimal(80), Decimal(80))
    assert refused.value.code == "vital.implausible.blood_pressure"
    narrow = decide_blood_pressure(Decimal(120), Decimal(105))
    assert narrow["8480-6"].confirm == ("vital.confirm.blood_pressure",) and narrow["8480-6"].flag is None
    high = decide_blood_pressure(Decimal(185), Decimal(115))
    assert high["8480-6"].flag == "H" and high["8462-4"].flag == "H"
    assert high["8480-6"].alerts == high["8462-4"].alerts == ("alert.blood_pressure.severe_hypertension",)
    assert decide_blood_pressure(Decimal("17.1"), Decimal("10.9"), "kPa")["8480-6"].flag is None  # 128/82 mmHg


def test_codes_without_a_rule_get_no_flag():
    assert decide("67775-7", Decimal(0), "") == Decision()
