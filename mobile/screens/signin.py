"""Staff sign-in by PIN, also the lock screen: the step and the session in progress stay behind it."""
from __future__ import annotations

from kivy.properties import BooleanProperty

from mobile.screens.widgets import BigButton, ModelScreen, load_kv


class StaffButton(BigButton):
    """One staff member: name and role; tapping it asks for their PIN."""

    staff_id = ""
    selected = BooleanProperty(False)


class SigninScreen(ModelScreen):
    staff_buttons: dict[str, StaffButton] = {}

    def on_kv_post(self, *_args) -> None:
        if self.vm is not None:
            self.vm.bind(staff_list=self._rebuild, chosen_staff=self._mark)
        self._rebuild()

    def _mark(self, *_args) -> None:
        for staff_id, button in self.staff_buttons.items():
            button.selected = staff_id == self.vm.chosen_staff

    def _rebuild(self, *_args) -> None:
        from mobile.i18n import tr
        from mobile.screens import texts

        grid = self.ids.staff_grid
        grid.clear_widgets()
        if self.vm is None:
            return
        self.staff_buttons = {}
        for member in self.vm.staff_list:
            button = StaffButton(text=f"{member['name']}\n{texts.role(tr.lang, member['role'])}")
            button.staff_id = member["staff_id"]
            button.bind(on_release=lambda b: self.vm.choose_staff(b.staff_id))
            grid.add_widget(button)
            self.staff_buttons[member["staff_id"]] = button
        self._mark()


load_kv("signin.kv")
