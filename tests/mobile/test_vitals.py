"""What the workflow keeps of the vital-sign checks: NEWS2 (sync.clinical.news2) over the accepted values, the
respiration rate typed by hand (a whole count, plausible by the clinical rules), and the catalog wording of the
rules' codes."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from mobile.workflow.state import WorkflowError
from mobile.workflow.vitals import manual_rows, manual_vitals, respiration_rate_from_text
from sync.clinical.news2 import news2


def test_news2_bands_and_partial_flag():
    score = news2(temperature_c=D("37.6"), spo2=D(97), systolic=D(128), pulse=D(72))
    assert score.score == 0 and not score.complete
    assert set(score.missing) == {"respiration_rate", "air_or_oxygen", "consciousness"}
    worst = news2(temperature_c=D("35.0"), spo2=D(91), systolic=D(90), pulse=D(131), respiration_rate=25,
                  on_oxygen=True, alert=False)
    assert worst.score == 3 + 3 + 2 + 3 + 3 + 3 + 3 and worst.complete and worst.single_parameter_3


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


def test_news2_risk_bands():
    calm = news2(respiration_rate=16, spo2=D(97), on_oxygen=False, systolic=D(130), pulse=D(72), consciousness="A",
                 temperature_c=D("37.0"))
    assert (calm.score, calm.complete, calm.risk) == (0, True, "low")
    medium = news2(respiration_rate=22, spo2=D(94), on_oxygen=False, systolic=D(105), pulse=D(95))
    assert (medium.score, medium.risk) == (2 + 1 + 1 + 1, "medium")


def test_respiration_rate_is_a_plausible_count():
    assert respiration_rate_from_text(" 18 ") == 18
    for bad, code in (("", "vitals.respiration_rate.format"), ("dix-huit", "vitals.respiration_rate.format"),
                      ("18.5", "vitals.respiration_rate.format"), ("3", "vital.implausible.respiration_rate"),
                      ("61", "vital.implausible.respiration_rate")):
        with pytest.raises(WorkflowError) as caught:
            respiration_rate_from_text(bad)
        assert caught.value.code == code


def test_the_counted_respiration_rate_is_stored_with_its_flag():
    rows = manual_rows(manual_vitals("26", "A", False))
    assert rows[0] == ("9279-1", "26", "/min", "HH")
    assert manual_rows(manual_vitals("16", None, None)) == [("9279-1", "16", "/min", None)]


# -- what the review screen shows: the rules' decisions as warnings, flags carried with the values -----------------
from mobile.workflow.readings import check_temperature, decided_values  # noqa: E402
from mobile.workflow.state import ProposedValue  # noqa: E402


@pytest.mark.parametrize("value,unit,code", [("29.9", "Cel", "vital.implausible.temperature"),
                                             ("43.1", "Cel", "vital.implausible.temperature"),
                                             ("98.6", "Cel", "vital.implausible.fahrenheit"),
                                             ("120", "[degF]", "vital.implausible.temperature")])
def test_implausible_temperatures_are_refused(value, unit, code):
    with pytest.raises(WorkflowError) as caught:
        check_temperature(D(value), unit)
    assert caught.value.code == code


def test_oximeter_values_carry_their_flags_and_warnings():
    values, warnings = decided_values("oximeter", (ProposedValue("spo2", "59408-5", D(65), "%"),
                                                   ProposedValue("pulse_rate", "8867-4", D(125), "/min")))
    assert [v.flag for v in values] == ["LL", "H"]
    assert warnings == ("vital.confirm.spo2_accuracy", "alert.spo2.very_low", "alert.pulse.tachycardia")


def test_a_cuff_reading_is_decided_as_a_whole():
    values, warnings = decided_values("blood_pressure", (ProposedValue("systolic", "8480-6", D(190), "mm[Hg]"),
                                                         ProposedValue("diastolic", "8462-4", D(115), "mm[Hg]"),
                                                         ProposedValue("mean_arterial_pressure", "8478-0", D(140),
                                                                       "mm[Hg]")))
    assert [v.flag for v in values] == ["H", "H", None]
    assert warnings == ("vital.confirm.blood_pressure", "alert.blood_pressure.severe_hypertension")  # once
    with pytest.raises(WorkflowError) as caught:
        decided_values("blood_pressure", (ProposedValue("systolic", "8480-6", D(80), "mm[Hg]"),
                                          ProposedValue("diastolic", "8462-4", D(90), "mm[Hg]")))
    assert caught.value.code == "vital.implausible.blood_pressure"
