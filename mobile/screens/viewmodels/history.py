"""The resident's history screen: who it is about, the trend charts of the last 90 days (computed once when the
screen opens, mobile.screens.viewmodels.charts), the usual values, the empty state, and going back."""
from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, DictProperty, ObjectProperty, StringProperty

from mobile.screens.viewmodels.base import ScreenModel, attempt
from mobile.screens.viewmodels.charts import build_charts
from mobile.workflow import WorkflowState


class HistoryModel(ScreenModel):
    family = StringProperty("")
    usual_name = StringProperty("")
    given = StringProperty("")
    sex = StringProperty("")
    birth_date = StringProperty("")
    charts = ObjectProperty(())          # Chart models, in the screen's order
    usual = DictProperty({})             # LOINC code -> Usual
    empty = BooleanProperty(True)        # no reading and no score in the period
    error = ObjectProperty(None, allownone=True)

    def on_step(self, step: str, previous: str) -> None:
        if step == "history":
            self.load()
        elif previous == "history":
            self.charts, self.usual, self.empty = (), {}, True

    def load(self) -> None:
        state: WorkflowState = self.workflow.state
        patient: dict[str, Any] = state.history_patient or {}
        self.family, self.usual_name = patient.get("family_name") or "", patient.get("usual_name") or ""
        self.given, self.sex = patient.get("given_name") or "", patient.get("sex") or ""
        self.birth_date = patient.get("birth_date") or ""
        history = self.workflow.resident_history()
        if history is None:
            self.charts, self.usual, self.empty = (), {}, True
            return
        self.usual = self.workflow.history_usual_values()
        self.charts = build_charts(history, self.workflow.context.clock())
        self.empty = history.empty

    def back(self) -> bool:
        return attempt(self, "error", self.workflow.close_history)

    def open_history(self, patient_id: str | None = None) -> bool:
        return attempt(self, "error", lambda: self.workflow.open_history(patient_id))
