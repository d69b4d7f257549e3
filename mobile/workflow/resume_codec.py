"""The resume document of an open session, as JSON and back: the step reached, the values accepted (and the one on
review) with their source, device, flags and warnings, what staff assessed by hand, the call's start and doctor,
the notes typed during the call. The store keeps it on the tablet only (sync.store.resume).

A device reading comes back with what storing it needs (its device, raw bytes, status bits, the thermometer's site),
not its whole parse: the values themselves travel in the proposal, as decimal strings, never as floats."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from devices.parsers.common import ObservedValue, ParsedMeasurement
from devices.reading import DeviceIdentity, DeviceReading
from mobile.workflow.state import Proposal, ProposedValue, WorkflowState

VERSION = 1
RESUMABLE_STEPS = ("session_start", "measure", "review", "vitals", "teleconsult", "summary")
NOTE_KEYS = ("conclusion", "orientation", "orientation_detail", "prescriptions")


def _when(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _reading_doc(reading: DeviceReading | None) -> dict[str, Any] | None:
    if reading is None:
        return None
    m = reading.measurement
    return {"kind": reading.kind, "characteristic": m.characteristic, "status": list(m.status),
            "temperature_type": m.details.get("temperature_type"), "raw": reading.raw.hex(),
            "device": reading.device.as_dict(), "received_at": reading.received_at.isoformat(),
            "battery_percent": reading.battery_percent}


def _reading(doc: dict[str, Any] | None, values: tuple[ProposedValue, ...]) -> DeviceReading | None:
    if not doc:
        return None
    details = {"temperature_type": doc["temperature_type"]} if doc.get("temperature_type") else {}
    measurement = ParsedMeasurement(doc["characteristic"], tuple(ObservedValue(v.field, v.code, v.value, v.unit)
                                                                 for v in values),
                                    status=tuple(doc.get("status") or ()), details=details)
    return DeviceReading(doc["kind"], measurement, bytes.fromhex(doc["raw"]), DeviceIdentity(**doc["device"]),
                         _when(doc["received_at"]), doc.get("battery_percent"))


def proposal_doc(p: Proposal) -> dict[str, Any]:
    return {"session_id": p.session_id, "kind": p.kind, "code": p.code, "value": str(p.value), "unit": p.unit,
            "flag": p.flag, "source": p.source, "measured_at": p.measured_at.isoformat(),
            "received_at": p.received_at.isoformat(), "warnings": list(p.warnings),
            "values": [[v.field, v.code, str(v.value), v.unit, v.flag] for v in p.values],
            "reading": _reading_doc(p.reading)}


def proposal_of(doc: dict[str, Any]) -> Proposal:
    values = tuple(ProposedValue(f, c, Decimal(v), u, flag) for f, c, v, u, flag in doc.get("values") or ())
    single = ProposedValue("temperature", doc["code"], Decimal(doc["value"]), doc["unit"], doc.get("flag"))
    return Proposal(session_id=doc["session_id"], code=doc["code"], value=Decimal(doc["value"]), unit=doc["unit"],
                    source=doc["source"], measured_at=_when(doc["measured_at"]),
                    received_at=_when(doc["received_at"]), reading=_reading(doc.get("reading"), values or (single,)),
                    warnings=tuple(doc.get("warnings") or ()), kind=doc["kind"], values=values, flag=doc.get("flag"))


def document(state: WorkflowState) -> dict[str, Any]:
    """What to keep of the state of the open session (its identifiers, the patient, are the store's)."""
    step = state.step if state.step in RESUMABLE_STEPS else "measure"
    return {"version": VERSION, "step": step, "session_ready": state.session_ready,
            "accepted": {kind: proposal_doc(p) for kind, p in state.accepted.items()},
            "proposal": proposal_doc(state.proposal) if state.proposal is not None else None,
            "vitals": dict(state.vitals),
            "call_started_at": state.call_started_at.isoformat() if state.call_started_at else None,
            "call_ended_at": state.call_ended_at.isoformat() if state.call_ended_at else None,
            "doctor_name": state.doctor_name, "call_notes": {k: v for k, v in state.call_notes.items()
                                                             if k in NOTE_KEYS and v},
            "summary_draft": state.summary_draft if step == "summary" else ""}


def restored(doc: dict[str, Any], session_id: str) -> dict[str, Any]:
    """The state updates that put the session back where the document says (proposals of another session are
    dropped: a value is never attached to the wrong patient)."""
    accepted = {kind: p for kind, p in ((k, proposal_of(d)) for k, d in (doc.get("accepted") or {}).items())
                if p.session_id == session_id}
    proposal = proposal_of(doc["proposal"]) if doc.get("proposal") else None
    if proposal is not None and proposal.session_id != session_id:
        proposal = None
    step = doc.get("step") if doc.get("step") in RESUMABLE_STEPS else "measure"
    if step == "review" and proposal is None:
        step = "measure"
    return {"step": step, "session_ready": bool(doc.get("session_ready")), "accepted": accepted,
            "proposal": proposal, "vitals": dict(doc.get("vitals") or {}),
            "call_started_at": _when(doc.get("call_started_at")), "call_ended_at": _when(doc.get("call_ended_at")),
            "doctor_name": doc.get("doctor_name"), "call_notes": dict(doc.get("call_notes") or {}),
            "summary_draft": doc.get("summary_draft") or ""}
