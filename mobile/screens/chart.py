"""A trend chart drawn with Kivy graphics from a chart model (mobile.screens.viewmodels.charts): the shaded band of
unflagged values, the axes with a few labelled ticks (values; dates as dd/mm), one line per series and a marker per
reading — a disc for this tablet's, a square for another tablet's, red with a ring when abnormal, hollow and
labelled "partial" for a partial NEWS2 (never a reassuring full point). Nothing but the model's points is drawn."""
from __future__ import annotations

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.metrics import dp, sp
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.widget import Widget

from mobile.screens import history_texts, theme
from mobile.screens.theme import hex_rgba

BAND = (*theme.SUCCESS_BG[:3], 0.9)
GRID = (*theme.BORDER[:3], 0.25)
SERIES_COLOURS = (theme.PRIMARY, hex_rgba("#7C3AED"))   # systolic blue-700, diastolic violet-600
MARKER = dp(6)


def text_texture(text: str, size: float, colour=theme.TEXT_MUTED, bold: bool = False):
    label = CoreLabel(text=text, font_size=size, color=colour, bold=bold)
    label.refresh()
    return label.texture


def draw_text(text: str, x: float, y: float, *, size: float | None = None, anchor: str = "left",
              colour=theme.TEXT_MUTED, bold: bool = False) -> None:
    """Text at (x, y): its left edge, centre or right edge there (`anchor`), vertically centred."""
    texture = text_texture(text, size or sp(15), colour, bold)
    w, h = texture.size
    left = {"left": x, "center": x - w / 2, "right": x - w}[anchor]
    Color(1, 1, 1, 1)
    Rectangle(texture=texture, size=(w, h), pos=(left, y - h / 2))


def draw_marker(x: float, y: float, *, pulled: bool, abnormal: bool, hollow: bool, colour) -> None:
    """One reading's marker (see the module's docstring)."""
    fill = theme.DANGER if abnormal else colour
    if abnormal:
        Color(*theme.DANGER)
        Line(circle=(x, y, MARKER + dp(4)), width=dp(1.3))
    if hollow:
        Color(*theme.SURFACE)
        _shape(x, y, pulled)
        Color(*fill)
        if pulled:
            Line(rectangle=(x - MARKER, y - MARKER, 2 * MARKER, 2 * MARKER), width=dp(1.6))
        else:
            Line(circle=(x, y, MARKER), width=dp(1.6))
        return
    Color(*fill)
    _shape(x, y, pulled)


def _shape(x: float, y: float, pulled: bool) -> None:
    if pulled:
        Rectangle(pos=(x - MARKER, y - MARKER), size=(2 * MARKER, 2 * MARKER))
    else:
        Ellipse(pos=(x - MARKER, y - MARKER), size=(2 * MARKER, 2 * MARKER))


class TrendChart(Widget):
    """Bound to one Chart (`chart`); redrawn when it, the size or the language changes."""

    chart = ObjectProperty(None, allownone=True)
    lang = StringProperty("fr")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, chart=self._draw, lang=self._draw)

    def plot_area(self) -> tuple[float, float, float, float]:
        """x, y, width, height of the plotting area inside the axes' labels."""
        left, bottom = dp(58), dp(30)
        return self.x + left, self.y + bottom, max(self.width - left - dp(16), 1), max(self.height - bottom - dp(14), 1)

    def to_screen(self, fx: float, fy: float) -> tuple[float, float]:
        x, y, w, h = self.plot_area()
        return x + fx * w, y + fy * h

    def _draw(self, *_args) -> None:
        self.canvas.clear()
        chart = self.chart
        if chart is None:
            return
        with self.canvas:
            self._draw_frame(chart)
            if chart.empty:
                x, y, w, h = self.plot_area()
                draw_text(history_texts.empty_chart(self.lang), x + w / 2, y + h / 2, anchor="center")
                return
            for index, series in enumerate(chart.series):
                self._draw_series(series, SERIES_COLOURS[index % len(SERIES_COLOURS)])

    def _draw_frame(self, chart) -> None:
        x, y, w, h = self.plot_area()
        Color(*theme.SURFACE)
        Rectangle(pos=(x, y), size=(w, h))
        for start, end in chart.bands:
            Color(*BAND)
            Rectangle(pos=(x, y + start * h), size=(w, (end - start) * h))
        for fy, text in chart.y_ticks:
            Color(*GRID)
            Line(points=[x, y + fy * h, x + w, y + fy * h], width=1)
            draw_text(history_texts.tick_label(self.lang, text), x - dp(8), y + fy * h, anchor="right")
        for fx, text in chart.x_ticks:
            Color(*theme.BORDER)
            Line(points=[x + fx * w, y, x + fx * w, y - dp(5)], width=1)
            anchor = "left" if fx == 0 else "right" if fx == 1 else "center"
            draw_text(text, x + fx * w, y - dp(16), anchor=anchor)
        Color(*theme.BORDER)
        Line(points=[x, y + h, x, y, x + w, y], width=dp(1.2))

    def _draw_series(self, series, colour) -> None:
        points = [self.to_screen(p.x, p.y) for p in series]
        if len(points) > 1:
            Color(*colour[:3], 0.7)
            Line(points=[c for xy in points for c in xy], width=dp(1.4))
        for point, (px, py) in zip(series, points):
            draw_marker(px, py, pulled=point.pulled, abnormal=point.abnormal, hollow=point.partial, colour=colour)
            if point.partial:
                draw_text(history_texts.legend(self.lang, "partial"), px, py + MARKER + dp(14), anchor="center",
                          size=sp(13), colour=theme.DANGER_TEXT, bold=True)


class LegendMarker(Widget):
    """A marker of the legend: "local", "pulled", "abnormal" or "partial"."""

    kind = StringProperty("local")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, kind=self._draw)

    def _draw(self, *_args) -> None:
        self.canvas.clear()
        with self.canvas:
            draw_marker(self.center_x, self.center_y, pulled=self.kind == "pulled",
                        abnormal=self.kind in ("abnormal", "partial"), hollow=self.kind == "partial",
                        colour=theme.PRIMARY)
