"""First run: the site form, and whether it also creates the first account (nobody can sign in yet)."""
from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, ObjectProperty

from mobile.screens.viewmodels.base import ScreenModel, attempt


class SiteSetupModel(ScreenModel):
    first_run = BooleanProperty(False)   # no account yet: site set-up also creates the first one
    error = ObjectProperty(None, allownone=True)

    def on_step(self, step: str, previous: str) -> None:
        self.error = None
        self.first_run = not self.workflow.staff_members()

    def setup_site(self, **values: Any) -> bool:
        done = attempt(self, "error", lambda: self.workflow.setup_site(**values))
        self.first_run = not self.workflow.staff_members()
        return done
