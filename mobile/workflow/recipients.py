"""To whom the report goes by secure mail (MSSanté), chosen on the summary screen, and what became of it, shown on
the saved screen: the médecin traitant (remembered for the patient, found in the tablet's copy of the Annuaire
Santé, or typed), the patient's own Mon espace santé box (sync.delivery.recipients: qualified identity, no
opposition at consent), whether the tablet is configured to send at all, each recipient's delivery state, and the
PDF copy handed to the patient."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import WorkflowError
from sync.delivery import annuaire, freeze, printing
from sync.delivery.recipients import MesDecision, mes_decision
from sync.store import NotFoundError
from sync.store.recipients import check_address

RESULTS_SHOWN = 6
MSSANTE_SETTING = "mssante_from"   # the tablet's sending address: MSSanté is configured iff it is set


class RecipientsStep:
    def __init__(self, ctx: WorkflowContext, opener: Callable[[Path], None] | None = None) -> None:
        self.ctx = ctx
        self.opener = opener

    # -- the summary screen -------------------------------------------------------------------------------------
    def directory_available(self) -> bool:
        return annuaire.directory_info(self.ctx.store) is not None

    def search_directory(self, text: str) -> list[dict[str, Any]]:
        """Directory entries for `text` (name, city, postal code or RPPS), each with its display `name`."""
        rows = annuaire.search_directory(self.ctx.store, text, limit=RESULTS_SHOWN)
        return [{**row, "name": annuaire.display_name(row)} for row in rows]

    def remembered_gp(self) -> dict[str, Any] | None:
        """The current patient's médecin traitant as remembered ({name, rpps, address, city?}), or None."""
        patient = self.ctx.state.patient
        gp = self.ctx.store.patient_gp(patient["id"]) if patient else None
        if gp is None:
            return None
        entry = annuaire.search_directory(self.ctx.store, gp["rpps"])[:1] if gp.get("rpps") else []
        city = next((e["city"] for e in entry if e["address"] == gp["address"]), None)
        return {**gp, "city": city}

    def check_address(self, text: str) -> str:
        """The typed address as it will be stored; WorkflowError `recipient.address.*` when it is not one."""
        try:
            return check_address(text)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc

    def mes(self) -> MesDecision:
        """Whether the current session's report goes to the patient's Mon espace santé, and where."""
        session_id = self.ctx.require_session()
        patient = self.ctx.store.get_patient(self.ctx.store.get_session(session_id)["patient_id"])
        consents = self.ctx.store.consents(session_id)
        return mes_decision(patient, consents[-1] if consents else None)

    def mssante_configured(self) -> bool:
        return self.ctx.store.get_setting(MSSANTE_SETTING) is not None

    def record(self, session_id: str, gp: dict[str, Any] | None) -> None:
        """Before the close: the session's recipients (the doctor if any, the patient's MES box if the rule allows)
        and the doctor remembered on the patient."""
        entries = [{"kind": "gp", "address": gp["address"], "name": gp.get("name"), "rpps": gp.get("rpps")}] \
            if gp else []
        mes = self.mes()
        if mes.address:
            entries.append({"kind": "patient", "address": mes.address})
        store = self.ctx.store
        store.set_report_recipients(session_id, entries)
        if gp:
            patient_id = store.get_session(session_id)["patient_id"]
            store.set_patient_gp(patient_id, name=gp.get("name"), address=gp["address"], rpps=gp.get("rpps"))

    # -- the saved screen ---------------------------------------------------------------------------------------
    def recipient_states(self, session_id: str) -> list[dict[str, Any]]:
        try:
            return self.ctx.store.recipient_states(session_id)
        except NotFoundError:  # pragma: no cover - purged after delivery (sync.retention)
            return []

    def report_pdf(self, session_id: str) -> bytes | None:
        """The latest frozen version of the report, else one built from the closed session; None when the session
        is not on the tablet any more (purged once the server confirmed it)."""
        try:
            return freeze.session_pdf(self.ctx.store, session_id)
        except NotFoundError:
            return None

    def print_folder(self) -> Path:
        return printing.print_folder(Path(self.ctx.store.path).parent)

    def hand_out_report(self, session_id: str) -> Path:
        """The report's PDF written to the private print folder (earlier copies removed) and opened with the
        system's viewer or printer; WorkflowError `report.pdf_not_ready` when the session is no longer here."""
        pdf = self.report_pdf(session_id)
        if pdf is None:
            raise WorkflowError("report.pdf_not_ready")
        stamp = self.ctx.clock().astimezone().strftime("%Y%m%d-%H%M")
        return printing.hand_out_pdf(pdf, file_name=f"compte-rendu-{stamp}.pdf", directory=self.print_folder(),
                                     opener=self.opener if self.opener is not None else printing.system_opener())
