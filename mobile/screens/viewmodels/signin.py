"""The PIN pad (sign-in and unlock): who may sign in, whose PIN is being typed, how many digits, why it failed."""
from __future__ import annotations

from kivy.properties import ListProperty, NumericProperty, ObjectProperty, StringProperty

from mobile.screens.viewmodels.base import ScreenModel, attempt
from mobile.workflow import WorkflowError, WorkflowState

MAX_PIN_DIGITS = 8


class SigninModel(ScreenModel):
    staff_list = ListProperty([])        # [{"staff_id", "name", "role"}] of who may sign in
    chosen_staff = StringProperty("")    # the staff member whose PIN is being typed
    chosen_staff_name = StringProperty("")
    pin_length = NumericProperty(0)
    error = ObjectProperty(None, allownone=True)

    def __init__(self, workflow, **kwargs) -> None:
        super().__init__(workflow, **kwargs)
        self._pin = ""
        self._signed_in = False
        self.refresh_staff()

    def on_state(self, state: WorkflowState) -> None:
        signed_in = state.staff is not None
        if self._signed_in and not signed_in:  # signed out: nobody is chosen any more
            self.chosen_staff, self.chosen_staff_name = "", ""
        self._signed_in = signed_in
        if state.step == "signin" or state.locked:
            self.refresh_staff()

    def refresh_staff(self) -> None:
        self.staff_list = [{"staff_id": str(m["id"]), "name": m["display_name"], "role": m["role"]}
                           for m in self.workflow.staff_members()]

    def choose_staff(self, staff_id: str) -> None:
        self._pin, self.pin_length, self.error = "", 0, None
        self.chosen_staff = staff_id
        self.chosen_staff_name = next((m["name"] for m in self.staff_list if m["staff_id"] == staff_id), "")

    def pin_digit(self, digit: str) -> None:
        if not self.chosen_staff or len(self._pin) >= MAX_PIN_DIGITS:
            return
        self._pin += digit
        self.pin_length = len(self._pin)
        self.error = None

    def pin_erase(self) -> None:
        self._pin = self._pin[:-1]
        self.pin_length = len(self._pin)

    def submit_pin(self) -> bool:
        pin, self._pin, self.pin_length = self._pin, "", 0
        if not self.chosen_staff:
            self.error = WorkflowError("signin.choose_name_first")
            return False
        if not attempt(self, "error", lambda: self.workflow.sign_in(self.chosen_staff, pin)):
            return False
        self.chosen_staff, self.chosen_staff_name = "", ""
        return True
