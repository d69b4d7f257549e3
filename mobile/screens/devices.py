"""The tablet's device kit (administrators only): the devices measurements may use, and a search to pair more."""
from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from mobile.screens.widgets import ModelScreen, load_kv


class KitRow(BoxLayout):
    """One device of the kit (RecycleView view class)."""

    vm = ObjectProperty(None, allownone=True)
    kind = StringProperty("")
    name = StringProperty("")
    model = StringProperty("")
    serial = StringProperty("")
    address = StringProperty("")


class FoundRow(BoxLayout):
    """One device heard by the search (RecycleView view class)."""

    vm = ObjectProperty(None, allownone=True)
    kind = StringProperty("")
    name = StringProperty("")
    model = StringProperty("")
    serial = StringProperty("")
    address = StringProperty("")
    rssi = NumericProperty(None, allownone=True)
    in_kit = BooleanProperty(False)


class DevicesScreen(ModelScreen):
    pass


load_kv("devices.kv")
