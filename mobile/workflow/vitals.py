"""What staff assess by hand after the devices — respiration rate, consciousness (ACVPU), air or oxygen, and whether
a SpO2 target of 88–92 % was prescribed (NEWS2 SpO2 scale 2, else scale 1) — and the NEWS2 early-warning score
(sync.clinical.news2) over everything measured. The respiration rate is decided by the same clinical rules as the
device values (sync.clinical.rules) and stored with its flag. At high risk staff record that they called the 15
(SAMU): when and who, kept in the session as a note of the team."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from mobile.workflow.context import WorkflowContext
from mobile.workflow.readings import decide_value
from mobile.workflow.record_fr import emergency_call_text
from mobile.workflow.state import Proposal, WorkflowError
from sync.clinical.news2 import ACVPU, News2, news2
from sync.clinical.rules import comparable

LOINC_RESPIRATION_RATE = "9279-1"
LOINC_CONSCIOUSNESS = "67775-7"
SUPPLEMENTAL_OXYGEN = "supplemental-oxygen"
SPO2_TARGET_88_92 = "spo2-target-88-92"


def respiration_rate_from_text(text: str) -> int:
    """Staff count breaths over 60 s: a whole number, plausible by the clinical rules (4 to 60 /min)."""
    cleaned = (text or "").strip()
    if not cleaned.isdigit():
        raise WorkflowError("vitals.respiration_rate.format", "respiration_rate")
    value = int(cleaned)
    decide_value(LOINC_RESPIRATION_RATE, Decimal(value), "/min")
    return value


def news2_of(accepted: dict[str, Proposal], vitals: dict[str, Any]) -> News2:
    """NEWS2 from the accepted device values (°F and kPa converted as the rules compare them) and the manual
    entries."""
    found: dict[str, Decimal] = {}
    for proposal in accepted.values():
        for v in proposal.stored_values:
            found[v.field] = comparable(v.code, v.value, v.unit)
    return news2(temperature_c=found.get("temperature"), spo2=found.get("spo2"),
                 systolic=found.get("systolic"), pulse=found.get("pulse_rate"),
                 respiration_rate=vitals.get("respiration_rate"), on_oxygen=vitals.get("on_oxygen"),
                 consciousness=vitals.get("consciousness"),
                 spo2_scale=2 if vitals.get("spo2_target_88_92") else 1)


def manual_vitals(respiration_rate: str | None, consciousness: str | None,
                  on_oxygen: bool | None, spo2_target_88_92: bool = False) -> dict[str, Any]:
    """What staff entered, checked: a blank parameter is left out (the score stays partial). The prescribed SpO2
    target of 88–92 % is kept only when ticked (NEWS2 then uses SpO2 scale 2)."""
    vitals: dict[str, Any] = {}
    if spo2_target_88_92:
        vitals["spo2_target_88_92"] = True
    if respiration_rate not in (None, ""):
        vitals["respiration_rate"] = respiration_rate_from_text(str(respiration_rate))
    if consciousness not in (None, ""):
        if consciousness not in ACVPU:
            raise WorkflowError("vitals.consciousness.choice", "consciousness")
        vitals["consciousness"] = consciousness
    if on_oxygen is not None:
        vitals["on_oxygen"] = bool(on_oxygen)
    return vitals


def respiration_rate_flag(vitals: dict[str, Any]) -> str | None:
    """The flag the clinical rules give the respiration rate staff counted (None when not counted)."""
    if "respiration_rate" not in vitals:
        return None
    return decide_value(LOINC_RESPIRATION_RATE, Decimal(vitals["respiration_rate"]), "/min").flag


def manual_rows(vitals: dict[str, Any]) -> list[tuple[str, str, str, str | None]]:
    """The measurement rows of what staff assessed: (LOINC, value, unit, flag)."""
    rows: list[tuple[str, str, str, str | None]] = []
    if "respiration_rate" in vitals:
        rows.append((LOINC_RESPIRATION_RATE, str(vitals["respiration_rate"]), "/min", respiration_rate_flag(vitals)))
    if "consciousness" in vitals:
        rows.append((LOINC_CONSCIOUSNESS, vitals["consciousness"], "", None))
    if "on_oxygen" in vitals:
        rows.append((SUPPLEMENTAL_OXYGEN, "yes" if vitals["on_oxygen"] else "no", "", None))
    if vitals.get("spo2_target_88_92"):
        rows.append((SPO2_TARGET_88_92, "yes", "", None))
    return rows


def emergency_call_of(notes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The 15 call recorded in a session's notes (the first), as the state keeps it; None when none was made."""
    earlier = next((n for n in notes if n["kind"] == "emergency_call"), None)
    if earlier is None:
        return None
    return {"at": dt.datetime.fromisoformat(earlier["created_at"]), "by": earlier["author"], "note_id": earlier["id"]}


class VitalsStep:
    def __init__(self, ctx: WorkflowContext) -> None:
        self.ctx = ctx

    def news2(self, vitals: dict[str, Any] | None = None) -> News2:
        state = self.ctx.state
        return news2_of(state.accepted, state.vitals if vitals is None else vitals)

    def preview_news2(self, *, respiration_rate: str | None = None, consciousness: str | None = None,
                      on_oxygen: bool | None = None, spo2_target_88_92: bool = False) -> News2:
        """The score with what is entered so far (nothing stored); bad input raises WorkflowError."""
        return self.news2(manual_vitals(respiration_rate, consciousness, on_oxygen, spo2_target_88_92))

    def record_emergency_call(self) -> dict[str, Any]:
        """Staff called the 15: the time and the signed-in staff member, as a note of its own kind in the session
        (the summary and the report carry it). Recorded once per session; a second tap returns the first record."""
        ctx = self.ctx
        session_id = ctx.require_session()
        staff = ctx.require_staff()
        if ctx.state.emergency_call is not None:
            return ctx.state.emergency_call
        earlier = emergency_call_of(ctx.store.notes(session_id))
        if earlier is not None:  # recorded before the app restarted: the session keeps the first record
            ctx.changed(emergency_call=earlier)
            return earlier
        now = ctx.clock()
        try:
            note_id = ctx.store.add_note(session_id, kind="emergency_call", staff_id=staff["id"],
                                         text=emergency_call_text(now, staff["display_name"]))
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        call = {"at": now, "by": staff["display_name"], "note_id": note_id}
        ctx.changed(emergency_call=call)
        return call

    def confirm_vitals(self, *, respiration_rate: str | None = None, consciousness: str | None = None,
                       on_oxygen: bool | None = None, spo2_target_88_92: bool = False) -> News2:
        """Store what staff assessed (marked manual) and go on to the teleconsultation. A parameter left blank
        keeps the score partial, and the screen says which. Confirmed again unchanged (staff came back through
        this step after measuring more during the call), an assessment is not stored a second time."""
        ctx = self.ctx
        session_id = ctx.require_session()
        if ctx.state.step != "vitals":
            raise WorkflowError("session.finish_measurements_first")
        vitals = manual_vitals(respiration_rate, consciousness, on_oxygen, spo2_target_88_92)
        now = ctx.clock()
        already = {row[:3] for row in manual_rows(ctx.state.vitals)} if ctx.state.vitals else set()
        for code, value, unit, flag in manual_rows(vitals):
            if (code, value, unit) in already:
                continue
            ctx.store.add_measurement(session_id, code=code, value=value, unit=unit, source="manual",
                                      measured_at=now.isoformat(), received_at=now.isoformat(), interpretation=flag)
        ctx.send_live(session_id)
        score = self.news2(vitals)
        ctx.changed(step="teleconsult", vitals=vitals, news2=score)
        return score
