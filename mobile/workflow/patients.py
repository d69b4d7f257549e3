"""Residents: search, creation from the INS identity traits (with probable duplicates caught first), selection, which
opens a new session for the signed-in staff member on this tablet's site."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import DuplicateWarning, WorkflowError
from sync.store import fold

_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
_TYPED_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.\- ]\s*(\d{1,2})\s*[/.\- ]\s*(\d{4})\s*$")
_DIGITS_DATE = re.compile(r"^\s*(\d{2})(\d{2})(\d{4})\s*$")


def parse_birth_date(text: str | None) -> str:
    """A birth date as staff type it — jj/mm/aaaa (also with dots, dashes or spaces), 8 digits on a numeric keypad,
    or already ISO — as ISO "YYYY-MM-DD". WorkflowError ``patient.birth_date.format`` or ``.impossible``."""
    text = text or ""
    iso = _ISO_DATE.match(text)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
    else:
        match = _TYPED_DATE.match(text) or _DIGITS_DATE.match(text)
        if not match:
            raise WorkflowError("patient.birth_date.format", "birth_date")
        day, month, year = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        raise WorkflowError("patient.birth_date.impossible", "birth_date") from None


class PatientsStep:
    def __init__(self, ctx: WorkflowContext) -> None:
        self.ctx = ctx

    def patients(self, query: str = "") -> list[dict[str, Any]]:
        return self.ctx.store.find_patients(query)

    def probable_duplicates(self, *, family_name: str, given_name: str, birth_date: str,
                            **_other: Any) -> list[dict[str, Any]]:
        """Residents born the same day whose family name, first given name or birth name matches once accents,
        case and hyphens are folded, or whose names are swapped (a classic identity-vigilance error)."""
        try:
            day = parse_birth_date(birth_date)
        except WorkflowError:
            return []
        family, given = fold(family_name or ""), fold((given_name or "").split(" ")[0])
        found = []
        for p in self.ctx.store.find_patients(""):
            if p.get("birth_date") != day:
                continue
            p_family, p_given = fold(p.get("family_name") or ""), fold((p.get("given_name") or "").split(" ")[0])
            if family and (family == p_family or given == p_given or (family == p_given and given == p_family)):
                found.append(p)
        return found

    def create_patient(self, *, allow_duplicate: bool = False, **traits: Any) -> str:
        """Create and select a patient; the birth date may be typed as staff do (see parse_birth_date). Identity
        errors surface as WorkflowError with the store's code; a probable duplicate raises DuplicateWarning (with
        the candidates) unless `allow_duplicate`."""
        ctx = self.ctx
        if ctx.state.staff is None:
            raise WorkflowError("auth.sign_in_first")
        if "birth_date" in traits:
            traits["birth_date"] = parse_birth_date(traits["birth_date"])
        if not allow_duplicate:
            candidates = self.probable_duplicates(**traits)
            if candidates:
                ctx.changed(duplicates=candidates)
                raise DuplicateWarning(candidates)
        try:
            patient_id = ctx.store.add_patient(**traits)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        ctx.changed(duplicates=[])
        self.select_patient(patient_id)
        return patient_id

    def dismiss_duplicates(self) -> None:
        """Staff closed the list of probable duplicates."""
        self.ctx.changed(duplicates=[])

    def select_patient(self, patient_id: str) -> None:
        """Open a new session for this patient, on this site, by the signed-in staff member. Any measurement in
        progress is abandoned, never re-attached; an unfinished session of the previous patient is abandoned."""
        ctx = self.ctx
        staff = ctx.require_staff()
        if ctx.state.site is None:
            raise WorkflowError("site.not_set_up")
        ctx.cancel_measurement()
        ctx.abandon_current()
        patient = ctx.store.get_patient(patient_id)
        ctx.store.record_view("patient", patient_id)
        session_id = ctx.store.open_session(patient_id, staff_id=staff["id"], site_id=ctx.state.site["id"])
        ctx.changed(step="session_start", patient=patient, session_id=session_id, proposal=None, error=None,
                    live_value=None, device_state="idle", saved_session_id=None, accepted={},
                    measuring_kind=None, session_ready=False, vitals={}, news2=None, emergency_call=None,
                    call_started_at=None,
                    call_ended_at=None, doctor_name=None, summary_draft="", notice=None, duplicates=[])
