"""Trend charts of a resident's last 90 days, drawn on the server as SVG (no script): one chart per kind of value,
time across, the value up, each reading a dot, a flagged reading (the tablet's interpretation) a red dot with its
value written beside it. Only numbers and escaped text go into the markup.
"""
from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from decimal import Decimal

from sync.server.doctors import french, records

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 170, 56, 16, 14, 30


@dataclass
class Series:
    label: str
    unit: str
    points: list[tuple[dt.datetime, Decimal, bool]] = field(default_factory=list)


def series_of(history: list[records.Measurement | records.Unreadable]) -> list[Series]:
    """One series per component code and unit (systolic and diastolic apart), in the vocabulary's order."""
    found: dict[tuple[str, str], Series] = {}
    for m in history:
        if not isinstance(m, records.Measurement) or not m.sort_key:
            continue
        moment = dt.datetime.fromisoformat(m.sort_key)
        for reading in m.readings:
            try:
                value = Decimal(str(reading["value"]))
            except (ArithmeticError, KeyError, ValueError):
                continue  # a coded answer (ACVPU, oxygen): no curve
            label = records.LABELS.get(reading["code"], reading["code"])
            flagged = any(f.startswith(label) for f in m.flags) if m.code == records.BP_PANEL else bool(m.flags)
            key = (reading["code"], reading["unit"])
            found.setdefault(key, Series(label, french.unit_text(reading["unit"]))).points.append(
                (moment, value, flagged))
    order = list(records.LABELS)
    return sorted(found.values(), key=lambda s: next((i for i, c in enumerate(order)
                                                      if records.LABELS[c] == s.label), len(order)))


def svg(series: Series, now: dt.datetime, days: int = 90) -> str:
    start = now - dt.timedelta(days=days)
    values = [float(v) for _, v, _ in series.points]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.15, abs(high) * 0.02, 1.0)
    low, high = low - pad, high + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: dt.datetime) -> float:
        return LEFT + plot_w * min(1.0, max(0.0, (moment - start) / (now - start)))

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / (high - low))

    title = html.escape(f"{series.label} ({series.unit}), {days} derniers jours")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img">',
             f"<title>{title}</title>",
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="plot"/>']
    for value in {min(v for _, v, _ in series.points), max(v for _, v, _ in series.points)}:
        parts.append(f'<text x="{LEFT - 6}" y="{y(float(value)) + 4:.1f}" class="axis" text-anchor="end">'
                     f"{html.escape(french.number(value))}</text>")
    for moment, anchor in ((start, "start"), (now, "end")):
        parts.append(f'<text x="{x(moment):.1f}" y="{HEIGHT - 10}" class="axis" text-anchor="{anchor}">'
                     f"{html.escape(french.local_time(moment)[:10])}</text>")
    coordinates = " ".join(f"{x(m):.1f},{y(float(v)):.1f}" for m, v, _ in series.points)
    parts.append(f'<polyline points="{coordinates}" class="line"/>')
    for moment, value, flagged in series.points:
        parts.append(f'<circle cx="{x(moment):.1f}" cy="{y(float(value)):.1f}" r="{4 if flagged else 3}" '
                     f'class="{"dot flagged" if flagged else "dot"}"/>')
        if flagged:  # the value beside its dot, on the left near the right edge
            left = x(moment) > WIDTH - RIGHT - 40
            parts.append(f'<text x="{x(moment) + (-6 if left else 6):.1f}" y="{y(float(value)) - 6:.1f}" '
                         f'class="flag-label" text-anchor="{"end" if left else "start"}">'
                         f"{html.escape(french.number(value))}</text>")
    parts.append("</svg>")
    return "".join(parts)
