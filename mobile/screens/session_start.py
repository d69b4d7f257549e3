"""Before any measurement: the reason, the consent (given or refused, by whom), the room checklist, who is present
and a call-back number (HAS 2019 and 2024)."""
from __future__ import annotations


from mobile.screens.widgets import AbandonPopup, ModelScreen, load_kv


class SessionStartScreen(ModelScreen):
    popup = None

    def ask_abandon(self) -> None:
        """Cancelling the session abandons it: asked first."""
        self.popup = AbandonPopup(shell=self.shell)
        self.popup.open()

    shown_session = ""   # the session the form was filled for: back after a lock, what was typed is still there

    def on_pre_enter(self, *_args) -> None:
        if self.shell is not None and self.shell.session_id == self.shown_session:
            return
        self.shown_session = self.shell.session_id if self.shell is not None else ""
        ids = self.ids
        for key in ("reason", "grantor_name", "callback"):
            ids[key].text = ""
        ids.consent.selected = ""
        ids.mes.selected = ""
        ids.grantor.selected = "patient"
        for key in ("room_closed", "device_hygiene", "accessibility", "companion", "interpreter"):
            ids[key].active = False
        ids.scroll.scroll_y = 1

    def submit(self) -> bool:
        ids = self.ids
        started = self.vm.start_session(
            reason=ids.reason.text, consent=ids.consent.selected, given_by=ids.grantor.selected or "patient",
            given_by_name=ids.grantor_name.text, room_closed=ids.room_closed.active,
            device_hygiene=ids.device_hygiene.active, accessibility=ids.accessibility.active,
            companion_present=ids.companion.active, interpreter_present=ids.interpreter.active,
            callback_phone=ids.callback.text,
            mes_opposed={"opposed": True, "accepted": False}.get(ids.mes.selected) if self.vm.asks_mes else None)
        if not started:
            ids.scroll.scroll_y = 0  # the message sits under the form, next to the button
        return started


load_kv("session_start.kv")
