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

from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import Screen, ScreenManager

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
    """`build_screen(name) -> Screen` makes a known screen the first time it is needed; screens already built stay."""

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
