"""Confirmation after saving, with the session's upload state, and the way to the next patient."""
from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty

from mobile.screens.widgets import ModelScreen, load_kv


class SavedScreen(ModelScreen):
    sync = ObjectProperty(None, rebind=True)
    writing = BooleanProperty(False)  # the addendum form is open

    def save_addendum(self) -> bool:
        if not self.vm.add_addendum(self.ids.addendum_text.text):
            return False
        self.ids.addendum_text.text = ""
        self.writing = False
        return True

    def on_leave(self, *_args) -> None:
        self.writing = False


load_kv("saved.kv")
