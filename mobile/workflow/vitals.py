"""What staff assess by hand after the devices — respiration rate, consciousness (ACVPU), air or oxygen — and the
NEWS2 early-warning score (Royal College of Physicians, 2017; SpO2 scale 1) over everything measured."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from mobile.vitals import ACVPU, KPA_TO_MMHG, Implausible, News2, news2, respiration_rate_from_text
from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import Proposal, WorkflowError

LOINC_RESPIRATION_RATE = "9279-1"
LOINC_CONSCIOUSNESS = "67775-7"
SUPPLEMENTAL_OXYGEN = "supplemental-oxygen"


def news2_of(accepted: dict[str, Proposal], vitals: dict[str, Any]) -> News2:
    """NEWS2 from the accepted device values (°F and kPa converted) and the manual entries."""
    found: dict[str, Decimal] = {}
    for proposal in accepted.values():
        for v in proposal.stored_values:
            found[v.field] = v.value if v.unit != "kPa" else v.value * KPA_TO_MMHG
            if v.field == "temperature" and v.unit == "[degF]":
                found["temperature"] = (v.value - 32) * 5 / 9
    return news2(temperature_c=found.get("temperature"), spo2=found.get("spo2"),
                 systolic=found.get("systolic"), pulse=found.get("pulse_rate"),
                 respiration_rate=vitals.get("respiration_rate"), on_oxygen=vitals.get("on_oxygen"),
                 consciousness=vitals.get("consciousness"))


def manual_vitals(respiration_rate: str | None, consciousness: str | None,
                  on_oxygen: bool | None) -> dict[str, Any]:
    """What staff entered, checked: a blank parameter is left out (the score stays partial)."""
    vitals: dict[str, Any] = {}
    if respiration_rate not in (None, ""):
        try:
            vitals["respiration_rate"] = respiration_rate_from_text(str(respiration_rate))
        except Implausible as exc:
            raise WorkflowError(exc.code, exc.field, **exc.params) from None
    if consciousness not in (None, ""):
        if consciousness not in ACVPU:
            raise WorkflowError("vitals.consciousness.choice", "consciousness")
        vitals["consciousness"] = consciousness
    if on_oxygen is not None:
        vitals["on_oxygen"] = bool(on_oxygen)
    return vitals


class VitalsStep:
    def __init__(self, ctx: WorkflowContext) -> None:
        self.ctx = ctx

    def news2(self, vitals: dict[str, Any] | None = None) -> News2:
        state = self.ctx.state
        return news2_of(state.accepted, state.vitals if vitals is None else vitals)

    def preview_news2(self, *, respiration_rate: str | None = None, consciousness: str | None = None,
                      on_oxygen: bool | None = None) -> News2:
        """The score with what is entered so far (nothing stored); bad input raises WorkflowError."""
        return self.news2(manual_vitals(respiration_rate, consciousness, on_oxygen))

    def confirm_vitals(self, *, respiration_rate: str | None = None, consciousness: str | None = None,
                       on_oxygen: bool | None = None) -> News2:
        """Store what staff assessed (marked manual) and go on to the teleconsultation. A parameter left blank
        keeps the score partial, and the screen says which."""
        ctx = self.ctx
        session_id = ctx.require_session()
        if ctx.state.step != "vitals":
            raise WorkflowError("session.finish_measurements_first")
        vitals = manual_vitals(respiration_rate, consciousness, on_oxygen)
        now = ctx.clock()
        rows = []
        if "respiration_rate" in vitals:
            rows.append((LOINC_RESPIRATION_RATE, str(vitals["respiration_rate"]), "/min"))
        if "consciousness" in vitals:
            rows.append((LOINC_CONSCIOUSNESS, vitals["consciousness"], ""))
        if "on_oxygen" in vitals:
            rows.append((SUPPLEMENTAL_OXYGEN, "yes" if vitals["on_oxygen"] else "no", ""))
        for code, value, unit in rows:
            ctx.store.add_measurement(session_id, code=code, value=value, unit=unit, source="manual",
                                      measured_at=now.isoformat(), received_at=now.isoformat())
        score = self.news2(vitals)
        ctx.changed(step="teleconsult", vitals=vitals, news2=score)
        return score
