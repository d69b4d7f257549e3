"""Confirmation after saving, with the session's upload state, the report's delivery by secure mail to each
recipient (refreshed every few seconds while shown), the PDF copy for the patient, and the way to the next
patient."""
from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ObjectProperty

from mobile.i18n import tr
from mobile.screens import recipient_texts, theme
from mobile.screens.widgets import ModelScreen, WrapLabel, load_kv

DELIVERY_REFRESH_SECONDS = 2.0


class SavedScreen(ModelScreen):
    sync = ObjectProperty(None, rebind=True)
    writing = BooleanProperty(False)  # the addendum form is open

    def save_addendum(self) -> bool:
        if not self.vm.add_addendum(self.ids.addendum_text.text):
            return False
        self.ids.addendum_text.text = ""
        self.writing = False
        return True

    _refresh = None

    def on_vm(self, _screen, vm) -> None:
        if vm is not None:
            vm.bind(deliveries=self._show_deliveries, mssante_configured=self._show_deliveries)
            tr.on_change(self._show_deliveries)

    def on_enter(self, *_args) -> None:
        self._show_deliveries()
        if self._refresh is None:
            self._refresh = Clock.schedule_interval(self.vm.refresh_delivery, DELIVERY_REFRESH_SECONDS)

    def _show_deliveries(self, *_args) -> None:
        """One line per recipient: who, then waiting / sent at HH:MM / refused with the reply (danger colour)."""
        box = self.ids.delivery_list
        box.clear_widgets()
        for state in self.vm.deliveries:
            refused = state["state"] == "refused"
            box.add_widget(WrapLabel(
                text=recipient_texts.delivery_line(tr.lang, state, self.vm.mssante_configured), font_size="20sp",
                color=theme.DANGER_TEXT if refused else theme.SUCCESS_TEXT if state["state"] == "sent"
                else theme.TEXT, bold=refused))

    def on_leave(self, *_args) -> None:
        self.writing = False
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None


load_kv("saved.kv")
