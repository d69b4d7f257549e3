"""Confirmation after saving, with the session's upload state, the report's delivery by secure mail to each
recipient (refreshed by the app's once-a-second tick while shown), the PDF copy for the patient, and the way to the
next patient."""
from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty

from mobile.i18n import tr
from mobile.screens import recipient_texts, theme
from mobile.screens.widgets import ModelScreen, WrapLabel, load_kv


class SavedScreen(ModelScreen):
    sync = ObjectProperty(None, rebind=True)
    writing = BooleanProperty(False)  # the addendum form is open
    lang = StringProperty("")         # the current language (bound in saved.kv): the delivery lines follow a switch

    def save_addendum(self) -> bool:
        if not self.vm.add_addendum(self.ids.addendum_text.text):
            return False
        self.ids.addendum_text.text = ""
        self.writing = False
        return True

    def on_vm(self, _screen, vm) -> None:
        if vm is not None:
            vm.bind(deliveries=self._show_deliveries, mssante_configured=self._show_deliveries)

    def on_lang(self, *_args) -> None:
        if self.vm is not None:
            self._show_deliveries()

    def on_enter(self, *_args) -> None:
        self._show_deliveries()

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


load_kv("saved.kv")
