"""Measure with the three Bluetooth devices (cards); a running measurement can be cancelled; device errors offer a
retry or the values typed by hand (every device kind)."""
from __future__ import annotations


from mobile.screens.measure_texts import MANUAL_FIELDS
from mobile.screens.widgets import ModelScreen, load_kv

MANUAL_INPUTS = ("manual_input", "manual_input2", "manual_input3")  # in the order of MANUAL_FIELDS


class MeasureScreen(ModelScreen):
    def on_pre_enter(self, *_args) -> None:
        for name in MANUAL_INPUTS:
            self.ids[name].text = ""

    def validate_manual(self) -> bool:
        fields = MANUAL_FIELDS.get(self.vm.selected_kind, ())
        return self.vm.enter_manual({field: self.ids[name].text for field, name in zip(fields, MANUAL_INPUTS)})


load_kv("measure.kv")
