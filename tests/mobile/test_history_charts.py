"""The chart view model of the history screen (mobile.screens.viewmodels.charts), without a window: the scale
widened to every value (never clipped), points placed on the period and the scale, other tablets' points and
abnormal ones told apart, a partial NEWS2 never reassuring, the band of unflagged values, dates as dd/mm in local
time, and the empty state."""
from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest

from mobile.screens.viewmodels.charts import CHARTS, build_chart, build_charts, nice_step, scale
from sync.store.history import History, Reading, SessionScore

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
SINCE = NOW - dt.timedelta(days=90)
SPEC = {spec.key: spec for spec in CHARTS}


def reading(code: str, value: str, days_ago: float, *, unit: str = "Cel", flag=None, origin: str = "local"):
    return Reading(code, NOW - dt.timedelta(days=days_ago), Decimal(value), unit, flag, origin, "s")


def history(*readings: Reading, scores=()) -> History:
    grouped: dict[str, tuple] = {}
    for r in readings:
        grouped[r.code] = grouped.get(r.code, ()) + (r,)
    return History("p", SINCE, grouped, tuple(scores))


def test_points_are_placed_on_the_period_and_the_scale():
    chart = build_chart(SPEC["temperature"], history(reading("8310-5", "36.0", 90), reading("8310-5", "37.0", 45),
                                                     reading("8310-5", "38.0", 0, flag="H", origin="pulled")), NOW)
    assert (chart.low, chart.high) == (Decimal(35), Decimal(39))
    points = chart.series[0]
    assert [p.x for p in points] == [0.0, 0.5, 1.0]
    assert [p.y for p in points] == [0.25, 0.5, 0.75]
    assert [(p.pulled, p.abnormal) for p in points] == [(False, False), (False, False), (True, True)]
    assert [label for _y, label in chart.y_ticks] == ["35.0", "36.0", "37.0", "38.0", "39.0"]


def test_a_value_outside_the_default_scale_widens_it_and_is_never_clipped():
    chart = build_chart(SPEC["temperature"], history(reading("8310-5", "40.6", 2, flag="HH")), NOW)
    assert chart.high >= Decimal("40.6") and 0 <= chart.series[0][0].y <= 1
    assert chart.y_ticks[-1][0] == 1.0 and chart.y_ticks[0][0] == 0.0
    low = build_chart(SPEC["spo2"], history(reading("59408-5", "78", 1, unit="%", flag="LL")), NOW)
    assert low.low <= 78 and low.series[0][0].y >= 0


def test_fahrenheit_readings_are_charted_in_celsius():
    chart = build_chart(SPEC["temperature"], history(reading("8310-5", "98.6", 1, unit="[degF]")), NOW)
    assert chart.series[0][0].value == Decimal(37)


def test_the_band_of_unflagged_values_is_shaded():
    spo2 = build_chart(SPEC["spo2"], history(reading("59408-5", "96", 1, unit="%")), NOW)
    assert spo2.bands == ((pytest.approx((92 - 85) / 15), 1.0),)       # ≥ 92 % up to the top of the scale
    bp = build_chart(SPEC["blood_pressure"], history(reading("8480-6", "130", 1, unit="mm[Hg]"),
                                                     reading("8462-4", "80", 1, unit="mm[Hg]")), NOW)
    assert len(bp.series) == 2 and len(bp.bands) == 2


def test_a_partial_news2_is_hollow_and_never_reassuring():
    scores = (SessionScore("a", NOW - dt.timedelta(days=30), 1, "low", True, "local"),
              SessionScore("b", NOW - dt.timedelta(days=20), 0, "incomplete", False, "pulled"),
              SessionScore("c", NOW - dt.timedelta(days=10), 5, "medium", True, "local"))
    chart = build_chart(SPEC["news2"], history(scores=scores), NOW)
    assert [(p.value, p.partial, p.abnormal, p.pulled) for p in chart.series[0]] == [
        (1, False, False, False), (0, True, True, True), (5, False, True, False)]


def test_dates_are_dd_mm_in_the_tablets_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Auckland")   # UTC+13 in December: the last tick is already the next day
    time.tzset()
    try:
        end = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
        chart = build_chart(SPEC["pulse"], History("p", end - dt.timedelta(days=90)), end)
        # in UTC: 01/09, 24/09, 16/10, 08/11, 30/11
        assert [label for _x, label in chart.x_ticks] == ["02/09", "24/09", "17/10", "08/11", "01/12"]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_an_empty_history_gives_empty_charts():
    charts = build_charts(History("p", SINCE), NOW)
    assert [c.key for c in charts] == ["spo2", "pulse", "blood_pressure", "temperature", "news2"]
    assert all(c.empty for c in charts) and History("p", SINCE).empty
    assert not build_chart(SPEC["pulse"], history(reading("8867-4", "70", 3, unit="/min")), NOW).empty


@pytest.mark.parametrize("span,step", [(4, 1), (15, 5), (140, 50), (10, 5), (0.9, 0.5), (8, 2)])
def test_tick_steps_are_one_two_or_five(span, step):
    assert nice_step(span) == pytest.approx(step)


def test_the_scale_ends_on_whole_steps():
    low, high, ticks = scale(SPEC["pulse"], [Decimal(37), Decimal(133)])
    assert (low, high) == (Decimal(0), Decimal(150)) and ticks == tuple(Decimal(v) for v in range(0, 151, 50))
