"""Review the proposed value (large), its warnings and source; save it or measure again."""
from __future__ import annotations

from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import Screen

from mobile.screens.widgets import load_kv


class ReviewScreen(Screen):
    wf = ObjectProperty(None, rebind=True)


load_kv("review.kv")
