"""View models: one small Kivy EventDispatcher per screen, with only that screen's properties, mirroring
``SessionWorkflow.state`` (``workflow.subscribe``) and forwarding taps to the workflow; a shared part for what
every screen shows (mobile.screens.viewmodels.shell). A refusal becomes the model's message property through
:func:`attempt` (base.py). No domain rule lives here.

:class:`ViewModels` builds them all for one workflow; the shell subscribes last, so the screen changes once every
other model has seen the new state.
"""
from __future__ import annotations

from typing import Any

from mobile.screens.viewmodels.admin import AdminModel
from mobile.screens.viewmodels.base import ScreenModel, attempt
from mobile.screens.viewmodels.devices import DevicesModel
from mobile.screens.viewmodels.history import HistoryModel
from mobile.screens.viewmodels.measure import MeasureModel, ReviewModel
from mobile.screens.viewmodels.patients import PatientFormModel, PatientListModel
from mobile.screens.viewmodels.saved import SavedModel
from mobile.screens.viewmodels.session import SessionStartModel, TeleconsultModel, VitalsModel
from mobile.screens.viewmodels.shell import ShellModel
from mobile.screens.viewmodels.signin import SigninModel
from mobile.screens.viewmodels.summary import SummaryModel
from mobile.screens.viewmodels.site_setup import SiteSetupModel
from mobile.screens.viewmodels.sync import SyncMonitor
from mobile.workflow import SessionWorkflow

__all__ = ["ScreenModel", "SyncMonitor", "ViewModels", "attempt"]


class ViewModels:
    """Every view model of the app, by screen name (`for_screen`), plus `shell`."""

    def __init__(self, workflow: SessionWorkflow) -> None:
        self.workflow = workflow
        self.signin = SigninModel(workflow)
        self.site_setup = SiteSetupModel(workflow)
        self.patient = PatientListModel(workflow)
        self.patient_form = PatientFormModel(workflow)
        self.session_start = SessionStartModel(workflow)
        self.measure = MeasureModel(workflow)
        self.review = ReviewModel(workflow)
        self.vitals = VitalsModel(workflow)
        self.teleconsult = TeleconsultModel(workflow)
        self.summary = SummaryModel(workflow)
        self.saved = SavedModel(workflow)
        self.admin = AdminModel(workflow)
        self.devices = DevicesModel(workflow)
        self.history = HistoryModel(workflow)
        self.shell = ShellModel(workflow)
        for model in (*self._screens().values(), self.shell):
            model.start()

    def _screens(self) -> dict[str, Any]:
        return {"signin": self.signin, "site_setup": self.site_setup, "patient": self.patient,
                "patient_form": self.patient_form, "session_start": self.session_start, "measure": self.measure,
                "review": self.review, "vitals": self.vitals, "teleconsult": self.teleconsult,
                "summary": self.summary, "saved": self.saved, "admin": self.admin,
                "devices": self.devices, "history": self.history}

    def for_screen(self, name: str) -> ScreenModel:
        return self._screens()[name]

    def tick(self, *_args: Any) -> None:
        """Once a second: the call's timer, the idle lock, and the report's delivery on the saved screen."""
        self.teleconsult.tick()
        self.saved.tick()
        self.shell.tick()
