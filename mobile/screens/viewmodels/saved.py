"""After the close: what was recorded, where the report by secure mail stands for each recipient (refreshed while
the screen shows), the PDF copy for the patient, addenda to the closed session, and the way to the next resident."""
from __future__ import annotations

from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty

from mobile.screens import texts
from mobile.screens.viewmodels.base import ScreenModel, attempt
from mobile.workflow import WorkflowState


class SavedModel(ScreenModel):
    saved_session_id = StringProperty("")
    saved_values = ListProperty([])      # [(kind, values)] in the cards' order
    addendum_error = ObjectProperty(None, allownone=True)
    addenda_saved = NumericProperty(0)   # addenda written for the session just saved
    deliveries = ListProperty([])        # per recipient: kind, address, name, state, sent_at, refusal
    mssante_configured = BooleanProperty(True)
    pdf_path = StringProperty("")        # where the patient's PDF copy was written ("" before)
    pdf_error = ObjectProperty(None, allownone=True)

    def on_state(self, state: WorkflowState) -> None:
        if state.step == "saved":
            accepted = {kind: p.stored_values for kind, p in state.accepted.items()}
            self.saved_values = [(kind, accepted[kind]) for kind in texts.KINDS if kind in accepted] + \
                [(kind, text) for kind, text in accepted.items() if kind not in texts.KINDS]
        if (state.saved_session_id or "") != self.saved_session_id:
            self.addenda_saved, self.addendum_error = 0, None
            self.pdf_path, self.pdf_error = "", None
        self.saved_session_id = state.saved_session_id or ""
        if state.step == "saved":
            self.refresh_delivery()

    def tick(self) -> None:
        """Once a second (the app's tick, stopped with the app): the delivery states while the screen shows."""
        if self.workflow.state.step == "saved":
            self.refresh_delivery()

    def refresh_delivery(self, *_args) -> None:
        """Each recipient's delivery state, read again (the mail sender works in the background)."""
        if not self.saved_session_id:
            self.deliveries = []
            return
        states = self.workflow.recipient_states(self.saved_session_id)
        if states != list(self.deliveries):
            self.deliveries = states
        self.mssante_configured = self.workflow.mssante_configured()

    def hand_out_pdf(self) -> bool:
        paths = []
        done = attempt(self, "pdf_error", lambda: paths.append(self.workflow.hand_out_report(self.saved_session_id)))
        self.pdf_path = str(paths[0]) if done else ""
        return done

    def add_addendum(self, text: str) -> bool:
        if not attempt(self, "addendum_error", lambda: self.workflow.add_addendum(self.saved_session_id, text)):
            return False
        self.addenda_saved += 1
        return True

    def next_patient(self) -> None:
        self.workflow.new_session()
