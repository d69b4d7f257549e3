"""Residents: search, creation from the INS identity traits (with probable duplicates caught first, and shown again
at every change of the traits), selection, which opens a new session for the signed-in staff member on this
tablet's site.

Which identity status staff may set by hand follows the national identity-vigilance referential (ANS, RNIV 1,
[EXI SI 07]): "Provisoire", or "Validée" once the traits were checked against a high-trust document chosen from a
list (identity card, passport, residence permit; in a nursing home, the RNIV 2024 allowance of a livret de famille
or a birth-certificate extract with a photo carte Vitale). "Récupérée" and "Qualifiée" mean the identity came from
the national INSi teleservice, which this tablet cannot reach: those statuses (and the INS that goes with a
qualified identity) only arrive already set, never typed here."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from mobile.workflow.context import WorkflowContext
from mobile.workflow.resume import ResumeStep
from mobile.workflow.state import DuplicateWarning, WorkflowError
from sync.store import fold
from sync.store.identity import IDENTITY_DOCUMENTS, NURSING_HOME_DOCUMENTS

STATUSES_BY_HAND = ("PROV", "VALI")

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


def documents_for(site_kind: str | None) -> tuple[str, ...]:
    """The high-trust documents that validate an identity on this kind of site (codes of
    sync.store.identity.IDENTITY_DOCUMENTS): the nursing-home allowance only in an EHPAD."""
    return tuple(code for code in IDENTITY_DOCUMENTS if site_kind == "ehpad" or code not in NURSING_HOME_DOCUMENTS)


def check_status(traits: dict[str, Any], site_kind: str | None) -> None:
    """The RNIV rules for a status set by hand (module docstring); WorkflowError with the field at fault."""
    status = str(traits.get("identity_status") or "PROV").strip().upper()
    if status in ("RECUP", "QUAL"):
        raise WorkflowError("patient.identity_status.insi_only", "identity_status", status=status)
    if traits.get("ins"):
        raise WorkflowError("patient.ins.insi_only", "ins")
    document = traits.get("identity_document")
    if status == "VALI" and not document:
        raise WorkflowError("patient.identity_document.missing", "identity_document")
    if status == "VALI" and document not in documents_for(site_kind):
        raise WorkflowError("patient.identity_document.not_here", "identity_document")
    if status != "VALI" and document:
        raise WorkflowError("patient.identity_document.provisional", "identity_document")


# Residents the patient list shows at most: past that, typing two or three letters of the name finds a resident
# sooner than scrolling, and a store of years of visits costs no more to list than one of a week.
LIST_LENGTH = 50


class PatientsStep:
    def __init__(self, ctx: WorkflowContext, resume: ResumeStep) -> None:
        self.ctx = ctx
        self.resume = resume

    def patients(self, query: str = "", limit: int | None = None) -> list[dict[str, Any]]:
        """The residents `query` finds (all of them when empty), in alphabetical order; `limit`: the first ones."""
        return self.ctx.store.find_patients(query, limit)

    def probable_duplicates(self, *, family_name: str = "", given_name: str = "", birth_date: str = "",
                            usual_name: str | None = None, exclude: str | None = None,
                            **_other: Any) -> list[dict[str, Any]]:
        """Residents born the same day whose name (birth or usual name, on either side) or first given name
        matches once accents and case are folded, or whose names are swapped (a classic identity-vigilance
        error); `exclude` is the resident being corrected, never their own duplicate."""
        try:
            day = parse_birth_date(birth_date)
        except WorkflowError:
            return []
        names = {fold(n).strip() for n in (family_name or "", usual_name or "")} - {""}
        given = fold((given_name or "").strip().split(" ")[0])
        found = []
        for p in self.ctx.store.find_patients(day):  # born that day: a range on the birth date index
            if p.get("birth_date") != day or p["id"] == exclude:
                continue
            p_names = {fold(n) for n in (p.get("family_name") or "", p.get("usual_name") or "")} - {""}
            p_given = fold((p.get("given_name") or "").split(" ")[0])
            swapped = given in p_names and p_given in names
            if names and (names & p_names or (given and given == p_given) or swapped):
                found.append(p)
        return found

    def check_duplicates(self, **traits: Any) -> list[dict[str, Any]]:
        """The form's identity traits changed: the probable duplicates are computed again and shown (none when
        nothing matches any more), so what staff may pick is always a match of what is typed now. The resident
        being corrected (`state.editing`) is not their own duplicate."""
        found = self.probable_duplicates(**traits, exclude=(self.ctx.state.editing or {}).get("id"))
        if [p["id"] for p in found] != [p["id"] for p in self.ctx.state.duplicates]:
            self.ctx.changed(duplicates=found)
        return found

    def identity_documents(self) -> tuple[str, ...]:
        """The documents that may validate an identity on this tablet's site."""
        return documents_for((self.ctx.state.site or {}).get("kind"))

    def create_patient(self, *, allow_duplicate: bool = False, **traits: Any) -> str:
        """Create and select a patient; the birth date may be typed as staff do (see parse_birth_date). Identity
        errors surface as WorkflowError with the store's code; a probable duplicate raises DuplicateWarning (with
        the candidates) unless `allow_duplicate`."""
        ctx = self.ctx
        if ctx.state.staff is None:
            raise WorkflowError("auth.sign_in_first")
        check_status(traits, (ctx.state.site or {}).get("kind"))
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
        """Open a new session for this patient, on this site, by the signed-in staff member — or, when the patient
        has a session still open on this tablet, take that one up again where it was left. Any measurement in
        progress is cancelled, never re-attached; an unfinished session of the previous patient stays open
        (parked, offered back by the patient list)."""
        ctx = self.ctx
        staff = ctx.require_staff()
        if ctx.state.site is None:
            raise WorkflowError("site.not_set_up")
        ctx.cancel_measurement()
        open_id = self.resume.open_session_of(patient_id)
        if open_id is not None:
            self.resume.resume(open_id)
            return
        if ctx.state.session_id is not None:
            self.resume.leave()
        patient = ctx.store.get_patient(patient_id)
        ctx.store.record_view("patient", patient_id)
        session_id = ctx.store.open_session(patient_id, staff_id=staff["id"], site_id=ctx.state.site["id"])
        ctx.changed(step="session_start", patient=patient, session_id=session_id, proposal=None, error=None,
                    live_value=None, device_state="idle", saved_session_id=None, accepted={},
                    measuring_kind=None, session_ready=False, vitals={}, news2=None, emergency_call=None,
                    call_started_at=None,
                    call_ended_at=None, doctor_name=None, summary_draft="", notice=None, duplicates=[], edited=None,
                    call_notes={})
