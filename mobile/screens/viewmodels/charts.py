"""The trend charts of the resident's history as plain values, computed once and drawn by mobile.screens.chart: for
each chart its vertical scale and labelled ticks, the time axis (the last 90 days, dates as dd/mm in the tablet's
time zone), the band of values the clinical rules give no flag (shaded), and every point placed in [0, 1] × [0, 1]
with what the drawing must show of it — taken on another tablet, abnormal (flagged), a partial NEWS2 (hollow).

Only valid readings reach a chart (sync.store.history filters them); a value outside the scale widens the scale, it
is never clipped to an edge.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from sync.clinical.rules import BP_DIASTOLIC, BP_SYSTOLIC, PULSE, SPO2, TEMPERATURE, normal_range
from sync.store.history import History, comparable_value

NEWS2 = "news2"
NEWS2_REASSURING = ("low",)          # a complete score in the low band; anything else is marked
NEWS2_NORMAL = (Decimal(0), Decimal(4))   # RCP 2017: 0–4 is the low band (a 3 in one parameter aside)


@dataclass(frozen=True)
class ChartSpec:
    """One chart: its title (an English msgid), the codes it draws (one series each), the unit symbol, and the
    default scale (widened to the data)."""

    key: str
    title: str
    codes: tuple[str, ...]
    unit: str
    low: Decimal
    high: Decimal
    decimals: int = 0


def N_(text: str) -> str:  # noqa: N802 - gettext convention: marked for extraction, translated by the screen
    return text


CHARTS = (
    ChartSpec("spo2", N_("SpO2"), (SPO2,), "%", Decimal(85), Decimal(100)),
    ChartSpec("pulse", N_("Pulse"), (PULSE,), "/min", Decimal(40), Decimal(120)),
    ChartSpec("blood_pressure", N_("Blood pressure (systolic / diastolic)"), (BP_SYSTOLIC, BP_DIASTOLIC), "mmHg",
              Decimal(40), Decimal(180)),
    ChartSpec("temperature", N_("Temperature"), (TEMPERATURE,), "°C", Decimal(35), Decimal(39), 1),
    ChartSpec(NEWS2, N_("NEWS2 score"), (NEWS2,), "", Decimal(0), Decimal(10)),
)


@dataclass(frozen=True)
class ChartPoint:
    x: float                 # 0: the start of the period, 1: now
    y: float                 # 0: the bottom of the scale, 1: its top
    value: Decimal
    at: dt.datetime
    pulled: bool             # taken on another tablet
    abnormal: bool           # flagged by the rules (or a NEWS2 above the low band)
    partial: bool = False    # a NEWS2 with parameters missing: hollow, labelled "partial"


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    unit: str
    low: Decimal
    high: Decimal
    y_ticks: tuple[tuple[float, str], ...]        # (position, value as text with a point: the screen localises)
    x_ticks: tuple[tuple[float, str], ...]        # (position, dd/mm)
    bands: tuple[tuple[float, float], ...]         # the unflagged range of each series, as positions
    series: tuple[tuple[ChartPoint, ...], ...]    # one per code, oldest first

    @property
    def empty(self) -> bool:
        return not any(self.series)


def nice_step(span: float, ticks: int = 5) -> float:
    """A tick step of 1, 2 or 5 × 10^n giving about `ticks` ticks over `span`."""
    raw = span / max(ticks - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def scale(spec: ChartSpec, values: Iterable[Decimal]) -> tuple[Decimal, Decimal, tuple[Decimal, ...]]:
    """The chart's bottom, top and tick values: the default range widened to every value, on whole tick steps."""
    found = list(values)
    low, high = min([spec.low, *found]), max([spec.high, *found])
    step = Decimal(str(nice_step(float(high - low))))
    bottom, top = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step, \
        (high / step).to_integral_value(rounding="ROUND_CEILING") * step
    count = int((top - bottom) / step)
    return bottom, top, tuple(bottom + step * i for i in range(count + 1))


def _position(value: Decimal, low: Decimal, high: Decimal) -> float:
    return float((value - low) / (high - low))


def time_ticks(since: dt.datetime, now: dt.datetime, count: int = 5) -> tuple[tuple[float, str], ...]:
    """`count` evenly spaced dates over the period, as dd/mm in the tablet's time zone."""
    span = now - since
    return tuple((i / (count - 1), f"{(since + span * i / (count - 1)).astimezone():%d/%m}") for i in range(count))


def _band(code: str, low: Decimal, high: Decimal) -> tuple[float, float] | None:
    if code == NEWS2:
        bounds = NEWS2_NORMAL
    else:
        bounds = normal_range(code)
    if bounds == (None, None):
        return None
    start = _position(max(bounds[0] if bounds[0] is not None else low, low), low, high)
    end = _position(min(bounds[1] if bounds[1] is not None else high, high), low, high)
    return (start, end)


def _raw_points(spec: ChartSpec, history: History) -> list[list[tuple[Decimal, Any]]]:
    """Per series: (value in the chart's unit, what it came from)."""
    if spec.key == NEWS2:
        return [[(Decimal(s.score), s) for s in history.news2]]
    return [[(comparable_value(r)[0], r) for r in history.of(code)] for code in spec.codes]


def _point(value: Decimal, source: Any, x: float, y: float) -> ChartPoint:
    if hasattr(source, "score"):   # a session's NEWS2
        partial = not source.complete
        abnormal = partial or source.band not in NEWS2_REASSURING
        return ChartPoint(x, y, value, source.at, source.origin == "pulled", abnormal, partial)
    return ChartPoint(x, y, value, source.at, source.origin == "pulled", source.flag is not None)


def build_chart(spec: ChartSpec, history: History, now: dt.datetime) -> Chart:
    """One chart of the history over [history.since, now]."""
    raw = _raw_points(spec, history)
    low, high, ticks = scale(spec, (value for series in raw for value, _source in series))
    span = (now - history.since).total_seconds() or 1.0
    series = tuple(tuple(_point(value, source, min(max((source.at - history.since).total_seconds() / span, 0.0), 1.0),
                                _position(value, low, high))
                         for value, source in found) for found in raw)
    bands = tuple(band for code in spec.codes if (band := _band(code, low, high)) is not None)
    y_ticks = tuple((_position(t, low, high), f"{t:.{spec.decimals}f}") for t in ticks)
    return Chart(spec.key, spec.title, spec.unit, low, high, y_ticks, time_ticks(history.since, now), bands, series)


def build_charts(history: History, now: dt.datetime) -> tuple[Chart, ...]:
    """Every chart of the history screen, in its order."""
    return tuple(build_chart(spec, history, now) for spec in CHARTS)
