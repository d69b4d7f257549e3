"""After the close: what was recorded, addenda to the closed session, and the way to the next resident."""
from __future__ import annotations

from kivy.properties import ListProperty, NumericProperty, ObjectProperty, StringProperty

from mobile.screens import texts
from mobile.screens.viewmodels.base import ScreenModel, attempt
from mobile.workflow import WorkflowState


class SavedModel(ScreenModel):
    saved_session_id = StringProperty("")
    saved_values = ListProperty([])      # [(kind, values)] in the cards' order
    addendum_error = ObjectProperty(None, allownone=True)
    addenda_saved = NumericProperty(0)   # addenda written for the session just saved

    def on_state(self, state: WorkflowState) -> None:
        if state.step == "saved":
            accepted = {kind: p.stored_values for kind, p in state.accepted.items()}
            self.saved_values = [(kind, accepted[kind]) for kind in texts.KINDS if kind in accepted] + \
                [(kind, text) for kind, text in accepted.items() if kind not in texts.KINDS]
        if (state.saved_session_id or "") != self.saved_session_id:
            self.addenda_saved, self.addendum_error = 0, None
        self.saved_session_id = state.saved_session_id or ""

    def add_addendum(self, text: str) -> bool:
        if not attempt(self, "addendum_error", lambda: self.workflow.add_addendum(self.saved_session_id, text)):
            return False
        self.addenda_saved += 1
        return True

    def next_patient(self) -> None:
        self.workflow.new_session()
