"""Measure the temperature with the Bluetooth thermometer; device errors offer a retry or manual entry."""
from __future__ import annotations

from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import Screen

from mobile.screens.widgets import load_kv


class MeasureScreen(Screen):
    wf = ObjectProperty(None, rebind=True)

    def on_pre_enter(self, *_args) -> None:
        self.ids.manual_input.text = ""

    def validate_manual(self) -> bool:
        return self.wf.enter_manual(self.ids.manual_input.text)


load_kv("measure.kv")
