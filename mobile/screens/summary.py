"""The summary for the patient's own doctor (mandatory): drafted from the session, read and corrected by staff, then
the session is closed — locked from then on, and queued for upload."""
from __future__ import annotations


from mobile.screens.widgets import ModelScreen, load_kv


class SummaryScreen(ModelScreen):
    def on_pre_enter(self, *_args) -> None:
        self.ids.summary.text = self.vm.summary_draft
        self.ids.summary.cursor = (0, 0)   # staff read the draft from its first line, not from its end
        self.ids.recipient.text = ""

    def submit(self) -> bool:
        return self.vm.close_session(self.ids.summary.text, self.ids.recipient.text)


load_kv("summary.kv")
