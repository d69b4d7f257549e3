"""The summary screen: the text for the patient's own doctor, and who receives the report by secure mail — the
médecin traitant (remembered, found in the directory, or typed and checked on the spot, or "no known doctor"),
the line about the patient's Mon espace santé copy, and whether the tablet can send at all."""
from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty

from mobile.screens.viewmodels.base import ScreenModel, attempt
from mobile.workflow import WorkflowError, WorkflowState


class SummaryModel(ScreenModel):
    error = ObjectProperty(None, allownone=True)
    summary_draft = StringProperty("")
    gp = ObjectProperty(None, allownone=True)       # the chosen doctor {name, address, rpps?, city?}, or None
    no_gp = BooleanProperty(False)                  # "no known doctor" ticked
    results = ListProperty([])                      # directory entries for the search field
    search_note = StringProperty("")                # "" | "no_directory" | "no_result"
    address_error = ObjectProperty(None, allownone=True)   # the typed address, checked as it is typed
    mes_reason = ObjectProperty(None, allownone=True)      # why no Mon espace santé copy (None: a copy goes)
    mssante_configured = BooleanProperty(True)

    newer_answer = ObjectProperty(None, allownone=True)   # a version of the doctor's conclusions after the one taken

    def on_state(self, state: WorkflowState) -> None:
        self.summary_draft = state.summary_draft or ""
        received = self.workflow.received_conclusions() if state.step == "summary" else {}
        self.newer_answer = received.get("waiting") if received.get("newer") else None

    def take_newer_answer(self) -> bool:
        """The doctor signed again after staff took their conclusions: the new version replaces them, unchanged,
        and the summary is drafted again from it."""
        return attempt(self, "error", self.workflow.accept_conclusions)

    def on_step(self, step: str, previous: str) -> None:
        self.error = None
        if step == "summary":
            self.prepare()

    def prepare(self) -> None:
        """Entering the summary: the remembered doctor prefilled, the MES line, the sending configuration."""
        self.gp = self.workflow.remembered_gp()
        self.no_gp, self.results, self.search_note, self.address_error = False, [], "", None
        self.mes_reason = self.workflow.mes().reason
        self.mssante_configured = self.workflow.mssante_configured()

    def search(self, text: str) -> None:
        if not text.strip():
            self.results, self.search_note = [], ""
        elif not self.workflow.directory_available():
            self.results, self.search_note = [], "no_directory"
        else:
            self.results = self.workflow.search_directory(text)
            self.search_note = "" if self.results else "no_result"

    def choose(self, index: int) -> None:
        entry = self.results[index]
        self.gp = {"name": entry["name"], "address": entry["address"], "rpps": entry.get("rpps"),
                   "city": entry.get("city")}
        self.no_gp, self.results, self.search_note = False, [], ""

    def check_typed(self, address: str) -> None:
        """The typed address, checked for form as it is typed (no message while the field is empty)."""
        self.address_error = None
        if address.strip():
            attempt(self, "address_error", lambda: self.workflow.check_address(address))

    def set_no_gp(self, value: bool) -> None:
        self.no_gp = value
        if value:
            self.gp = None

    def chosen(self, typed_name: str, typed_address: str) -> dict[str, Any] | None:
        """The doctor the close records: a typed address wins over a chosen one; None for "no known doctor"."""
        if typed_address.strip():
            return {"name": typed_name.strip() or None, "address": typed_address.strip()}
        if self.gp:
            return {key: self.gp.get(key) for key in ("name", "address", "rpps")}
        if self.no_gp:
            return None
        raise WorkflowError("summary.gp_choice_missing")

    def close_session(self, summary: str, typed_name: str = "", typed_address: str = "") -> bool:
        return attempt(self, "error", lambda: self.workflow.close(summary=summary,
                                                                 gp=self.chosen(typed_name, typed_address)))
