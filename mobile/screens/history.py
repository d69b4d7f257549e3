"""The resident's history: the trend charts of the last 90 days (SpO2, pulse, blood pressure, temperature, NEWS2)
with the usual values, or "No history yet"; back to where it was opened from."""
from __future__ import annotations

from kivy.properties import ObjectProperty

from mobile.screens.chart import LegendMarker, TrendChart  # noqa: F401 - registered for the kv rules
from mobile.screens.widgets import ModelScreen, Panel, load_kv


class ChartPanel(Panel):
    """One chart with its title and the usual value it shows (history.kv)."""

    chart = ObjectProperty(None, allownone=True)
    vm = ObjectProperty(None, allownone=True)


class HistoryScreen(ModelScreen):
    def on_kv_post(self, *_args) -> None:
        if self.vm is not None:
            self.vm.bind(charts=self._show_charts)
            self._show_charts(self.vm, self.vm.charts)

    def _show_charts(self, _vm, charts) -> None:
        """One panel per chart, made once and given each resident's chart (panels are never dropped: their kv
        rules stay bound to the translator for the app's life)."""
        grid = self.ids.charts
        panels = list(reversed(grid.children))
        while len(panels) < len(charts):
            panels.append(ChartPanel(vm=self.vm))
            grid.add_widget(panels[-1])
        for index, panel in enumerate(panels):
            panel.chart = charts[index] if index < len(charts) else None


load_kv("history.kv")
