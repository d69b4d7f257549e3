"""Measure the temperature with the Bluetooth thermometer; device errors offer a retry or manual entry."""
from __future__ import annotations


from mobile.screens.widgets import ModelScreen, load_kv


class MeasureScreen(ModelScreen):
    def on_pre_enter(self, *_args) -> None:
        self.ids.manual_input.text = ""

    def validate_manual(self) -> bool:
        return self.vm.enter_manual(self.ids.manual_input.text)


load_kv("measure.kv")
