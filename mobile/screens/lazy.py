"""Screens built when first shown: a ScreenManager that knows every step's screen by name but imports its module
(and so loads its kv file) and builds it only when it is first asked for — navigated to, or looked up by
`get_screen`. A start then pays for the first screen only (the PIN pad, or the patient list), not for all fourteen.

Kivy's ScreenManager resolves a name through `get_screen` when `current` changes
(https://kivy.org/doc/stable/api-kivy.uix.screenmanager.html), so building there covers navigation by the shell's
step, by a screen's own `manager.current = ...`, and the tests' lookups alike.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from kivy.animation import Animation
from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import Screen, ScreenManager
from kivy.uix.textinput import TextInput

# name -> (module, class): each module loads its own kv file when imported
SCREENS: dict[str, tuple[str, str]] = {
    "signin": ("mobile.screens.signin", "SigninScreen"),
    "site_setup": ("mobile.screens.site_setup", "SiteSetupScreen"),
    "patient": ("mobile.screens.patient", "PatientScreen"),
    "patient_form": ("mobile.screens.patient_form", "PatientFormScreen"),
    "session_start": ("mobile.screens.session_start", "SessionStartScreen"),
    "measure": ("mobile.screens.measure", "MeasureScreen"),
    "review": ("mobile.screens.review", "ReviewScreen"),
    "vitals": ("mobile.screens.vitals", "VitalsScreen"),
    "teleconsult": ("mobile.screens.teleconsult", "TeleconsultScreen"),
    "summary": ("mobile.screens.summary", "SummaryScreen"),
    "saved": ("mobile.screens.saved", "SavedScreen"),
    "admin": ("mobile.screens.admin", "AdminScreen"),
    "devices": ("mobile.screens.devices", "DevicesScreen"),
    "history": ("mobile.screens.history", "HistoryScreen"),
}


def screen_class(name: str) -> type[Screen]:
    """The class of the screen `name`, its module imported (and its kv loaded) on first use."""
    module, cls = SCREENS[name]
    return getattr(importlib.import_module(module), cls)


class LazyScreenManager(ScreenManager):
    """`build_screen(name) -> Screen` makes a known screen the first time it is needed; screens already built stay
    until `let_go_of_hidden`."""

    build_screen: Callable[[str], Screen] | None = ObjectProperty(None, allownone=True)

    def get_screen(self, name: str) -> Any:
        if self.build_screen is not None and name in SCREENS and not super().has_screen(name):
            self.add_widget(self.build_screen(name))
        return super().get_screen(name)

    def has_screen(self, name: str) -> bool:
        return (self.build_screen is not None and name in SCREENS) or super().has_screen(name)

    def built(self) -> list[str]:
        """The names of the screens built so far."""
        return [screen.name for screen in self.screens]

    def let_go_of_hidden(self) -> list[Screen]:
        """Remove every built screen but the one shown and return them: once nothing holds them (see `let_go`)
        they are collected, with the textures of the last resident's names and readings, and the next show builds
        them afresh."""
        hidden = [screen for screen in self.screens if screen.name != self.current]
        for screen in hidden:
            self.remove_widget(screen)
        # the transition remembers the last switch's screens (never None): point it at the one shown
        if self.transition.screen_out in hidden:
            self.transition.screen_out = self.current_screen
        if self.transition.screen_in in hidden:
            self.transition.screen_in = self.current_screen
        return hidden


def let_go(screens: list[Screen]) -> None:
    """Undo what would keep these dropped screens alive: Kivy keeps every running animation, and so its widget,
    until it ends (a scroll view fades its bar half a second after it last moved, for half a second), and its
    `triggered` decorator keeps the last text field whose cursor moved, at class level, until another one moves
    (TextInput._adjust_viewport): such a field is taken out of its screen, so that only the field stays held."""
    for screen in screens:
        for widget in list(screen.walk()):
            Animation.cancel_all(widget)
            if isinstance(widget, TextInput):
                widget.focus = False
                if widget.parent is not None:
                    widget.parent.remove_widget(widget)
