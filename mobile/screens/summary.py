"""The summary for the patient's own doctor (mandatory): drafted from the session, read and corrected by staff; who
receives the report by secure mail (the médecin traitant from the directory, remembered or typed; the patient's
Mon espace santé copy); then the session is closed — locked from then on, and queued for upload."""
from __future__ import annotations

from kivy.properties import NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from mobile.i18n import tr
from mobile.screens import recipient_texts
from mobile.screens.widgets import ModelScreen, load_kv


class DirectoryResult(ButtonBehavior, BoxLayout):
    """One directory entry of the search: name and profession, then city and address; a tap chooses it."""

    title = StringProperty("")
    detail = StringProperty("")
    index = NumericProperty(0)


class SummaryScreen(ModelScreen):
    def on_vm(self, _screen, vm) -> None:
        if vm is not None:
            vm.bind(results=self._show_results)

    def on_pre_enter(self, *_args) -> None:
        ids = self.ids
        ids.summary.text = self.vm.summary_draft
        ids.summary.cursor = (0, 0)   # staff read the draft from its first line, not from its end
        for key in ("search", "typed_name", "typed_address"):
            ids[key].text = ""
        ids.recipient_scroll.scroll_y = 1

    def on_enter(self, *_args) -> None:
        # again once shown: a screen built just now lays its text out after `on_pre_enter`, which moves the cursor
        self.ids.summary.cursor = (0, 0)

    def take_newer_answer(self) -> None:
        if self.vm.take_newer_answer():
            self.ids.summary.text = self.vm.summary_draft  # drafted again from the new version

    def _show_results(self, _vm, results) -> None:
        box = self.ids.results
        box.clear_widgets()
        for index, entry in enumerate(results):
            row = DirectoryResult(title=recipient_texts.result_title(tr.lang, entry),
                                  detail=recipient_texts.result_detail(tr.lang, entry), index=index)
            row.bind(on_release=self._choose)
            box.add_widget(row)

    def _choose(self, row: DirectoryResult) -> None:
        self.vm.choose(row.index)
        self.ids.search.text = ""
        self.ids.typed_address.text = ""

    def submit(self) -> bool:
        ids = self.ids
        return self.vm.close_session(ids.summary.text, ids.typed_name.text, ids.typed_address.text)


load_kv("summary.kv")
