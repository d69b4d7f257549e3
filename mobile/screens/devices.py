"""The tablet's device kit (administrators only): the devices measurements may use, and a search to pair more."""
from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from mobile.screens.widgets import ModelScreen, load_kv


class DeviceRow(BoxLayout):
    """What a row says about one device (no kv rule of its own: each kind of row below has one)."""

    vm = ObjectProperty(None, allownone=True)
    kind = StringProperty("")
    name = StringProperty("")
    model = StringProperty("")
    serial = StringProperty("")
    address = StringProperty("")


class KitRow(DeviceRow):
    """One device of the kit (RecycleView view class)."""


class FoundRow(DeviceRow):
    """One device heard by the search (RecycleView view class)."""

    rssi = NumericProperty(None, allownone=True)
    in_kit = BooleanProperty(False)


class DevicesScreen(ModelScreen):
    pass


load_kv("devices.kv")
