"""Confirmation after saving, with the session's upload state, and the way to the next patient."""
from __future__ import annotations

from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import Screen

from mobile.screens.widgets import load_kv


class SavedScreen(Screen):
    wf = ObjectProperty(None, rebind=True)
    sync = ObjectProperty(None, rebind=True)


load_kv("saved.kv")
