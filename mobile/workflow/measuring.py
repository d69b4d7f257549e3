"""Measuring: read a device of the chosen kind, propose its values for review (accept or retake), or take the values
typed by hand (any device kind); then store every accepted value in the session with the flag the clinical rules gave
it when it was proposed (compared with the resident's usual values where the rules say so). While a device is read,
the state says which phase it is in, since when and for how long at most (devices.limits); staff may cancel it. A reading is bound to the session it was started
for: changing patient mid-measurement discards it; one device serves one open session of the tablet at a time."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import Any

from devices.parsers.common import ParsedMeasurement
from devices.reading import DeviceReading
from devices.errors import DeviceError
from devices.limits import DEFAULT_LIMITS, WaitLimits
from devices.transport import DeviceNotFound, OperationTimeout
from mobile.workflow import readings
from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import DeviceReader, Proposal, WorkflowError
from mobile.workflow.vitals import news2_of

log = logging.getLogger(__name__)

BP_PANEL_FIELDS = ("systolic", "diastolic", "mean_arterial_pressure")
KIT_REFUSALS = {"device.not_in_kit": "measure.not_in_kit", "device.none_paired": "measure.none_paired"}


def device_failure(kind: str, exc: DeviceError, limit: float | None = None) -> WorkflowError:
    """A device's failure as the workflow's refusal: the device's code is passed on as the ``reason`` (the catalog
    words it), with its parameters; the kind measured names the device. A phase that ran out of time
    (no device found, no finger, no value) says after how many seconds it gave up; a device outside the tablet's
    kit is refused as such."""
    if exc.code in KIT_REFUSALS:  # the device is fine; it is not this tablet's
        return WorkflowError(KIT_REFUSALS[exc.code], **{**exc.params, "kind": kind})
    params = {**exc.params, "kind": kind, "reason": exc.code}
    if isinstance(exc, (OperationTimeout, DeviceNotFound)) and (params.get("seconds") or limit):
        params.setdefault("seconds", f"{limit:g}")
        return WorkflowError("measure.not_found" if isinstance(exc, DeviceNotFound) else "measure.gave_up", **params)
    return WorkflowError("measure.unreachable_or_manual", **params)


class MeasuringStep:
    def __init__(self, ctx: WorkflowContext, readers: dict[str, DeviceReader],
                 limits: WaitLimits = DEFAULT_LIMITS) -> None:
        """`limits` are the ones the readers wait by (the runtime passes the same to both): shown while waiting."""
        self.ctx = ctx
        self.readers = readers
        self.limits = limits

    @property
    def kinds(self) -> tuple[str, ...]:
        """The device kinds this tablet can read."""
        return tuple(self.readers)

    def _require_ready(self) -> str:
        session_id = self.ctx.require_session()
        if not self.ctx.state.session_ready:
            raise WorkflowError("measure.consent_first")
        return session_id

    async def measure(self, kind: str) -> Proposal | None:
        """Read a device of this kind and propose its values. Returns None (with `state.error` set) when the
        device failed or sent no usable value."""
        ctx = self.ctx
        session_id = self._require_ready()
        if kind not in self.readers:
            raise WorkflowError("measure.no_device", kind=kind)
        outcomes = {k: v for k, v in ctx.state.outcomes.items() if k != kind}
        ctx.changed(step="measure", proposal=None, error=None, live_value=None, device_state="scanning",
                    measuring_kind=kind, outcomes=outcomes, **self._phase(kind, "scanning"))

        def on_state(device_state: str) -> None:
            if ctx.state.session_id == session_id and device_state != ctx.state.device_state:
                ctx.changed(device_state=device_state, **self._phase(kind, device_state))

        def on_live(measurement: ParsedMeasurement) -> None:
            if ctx.state.session_id == session_id:
                live = readings.live_values(measurement)
                if live:
                    ctx.changed(live_value=live)

        ctx.measure_task = asyncio.ensure_future(self.readers[kind](on_state, on_live))
        try:
            reading = await ctx.measure_task
        except asyncio.CancelledError:
            return None
        except DeviceError as exc:
            log.info("%s read failed: %s", kind, exc.code)
            self._fail(session_id, device_failure(kind, exc, ctx.state.phase_limit), kind)
            return None
        finally:
            ctx.measure_task = None
        if ctx.state.session_id != session_id:
            log.info("reading discarded: the session changed during the measurement")
            return None
        holder = ctx.claims.holder(reading.device.address)
        if holder is not None and holder != session_id:
            self._fail(session_id, WorkflowError("device.serves_another_session"), kind)
            return None
        try:
            return self._propose(session_id, kind, reading)
        except WorkflowError as exc:
            self._fail(session_id, exc, kind)
            return None

    def _phase(self, kind: str, device_state: str) -> dict[str, Any]:
        """The state's phase fields: since when the device is in this phase and how long it may wait there."""
        return {"phase_started": self.ctx.monotonic(), "phase_limit": self.limits.for_phase(kind, device_state)}

    def cancel(self) -> None:
        """Staff stop the measurement running: the reader is cancelled (it closes its scan or link), nothing is
        proposed, and the device's card says the measurement was cancelled."""
        ctx = self.ctx
        kind = ctx.state.measuring_kind
        if not ctx.measuring or kind is None:
            return
        ctx.cancel_measurement()
        log.info("%s measurement cancelled", kind)
        outcomes = {**ctx.state.outcomes, kind: (ctx.state.session_id, WorkflowError("measure.cancelled", kind=kind))}
        ctx.changed(step="measure", proposal=None, error=None, live_value=None, device_state="cancelled",
                    measuring_kind=None, outcomes=outcomes, phase_started=None, phase_limit=None)

    def _propose(self, session_id: str, kind: str, reading: DeviceReading) -> Proposal:
        if kind == "thermometer":
            obs, decision = readings.temperature_values(reading.measurement, usual=self.ctx.baselines())
            proposal = Proposal(session_id=session_id, code=obs.code, value=obs.value, unit=obs.unit,
                                source="bluetooth", measured_at=readings.measured_at(reading),
                                received_at=reading.received_at, reading=reading, flag=decision.flag,
                                warnings=readings.warnings_of([decision]) + readings.battery_warning(reading))
        else:
            values, warnings = readings.vital_values(kind, reading.measurement, self.ctx.baselines())
            primary = values[0]
            proposal = Proposal(session_id=session_id, code=primary.code, value=primary.value, unit=primary.unit,
                                source="bluetooth", measured_at=readings.measured_at(reading),
                                received_at=reading.received_at, reading=reading,
                                warnings=warnings + readings.battery_warning(reading), kind=kind, values=values)
        self.ctx.changed(step="review", proposal=proposal, device_state="done", error=None, phase_started=None,
                         phase_limit=None)
        return proposal

    def enter_manual(self, kind: str, typed: dict[str, str]) -> Proposal:
        """Fallback when no device works: the values of one device kind typed by hand (temperature; SpO2 and pulse;
        systolic, diastolic and pulse), decided by the clinical rules and marked as manual (no device)."""
        ctx = self.ctx
        session_id = self._require_ready()
        if kind not in readings.MANUAL_KIND_FIELDS:
            raise WorkflowError("measure.no_device", kind=kind)
        values, warnings = readings.manual_values(kind, typed, ctx.baselines())
        primary, now = values[0], ctx.clock()
        proposal = Proposal(session_id=session_id, code=primary.code, value=primary.value, unit=primary.unit,
                            source="manual", measured_at=now, received_at=now, warnings=warnings, kind=kind,
                            values=values if kind != "thermometer" else (), flag=primary.flag)
        ctx.cancel_measurement()
        ctx.changed(step="review", proposal=proposal, error=None, device_state="idle", measuring_kind=None,
                    live_value=None, phase_started=None, phase_limit=None)
        return proposal

    def enter_manual_temperature(self, text: str) -> Proposal:
        """The temperature typed by hand (see enter_manual)."""
        return self.enter_manual("thermometer", {"temperature": text})

    def retake(self) -> None:
        self.ctx.changed(step="measure", proposal=None, error=None, live_value=None, device_state="idle")

    def _fail(self, session_id: str, error: WorkflowError, kind: str) -> None:
        state = self.ctx.state
        if state.session_id == session_id:
            self.ctx.changed(step="measure", proposal=None, device_state="error", error=error,
                             outcomes={**state.outcomes, kind: (session_id, error)}, phase_started=None,
                             phase_limit=None)

    def unmeasured(self, after: str | None = None, order: tuple[str, ...] | None = None) -> list[str]:
        """The device kinds with no accepted value yet in this session (the one on review counts as accepted), in
        `order` (default: the readers'), starting after `after`."""
        kinds = list(order or self.kinds)
        if after in kinds:
            start = kinds.index(after) + 1
            kinds = kinds[start:] + kinds[:start]
        state = self.ctx.state
        on_review = state.proposal.kind if state.proposal is not None else None
        return [k for k in kinds if k not in state.accepted and k != on_review]

    def accept(self) -> None:
        """Keep the proposed value for this session and go back to choose the next device."""
        ctx = self.ctx
        ctx.require_staff()
        proposal, session_id = ctx.state.proposal, ctx.state.session_id
        if proposal is None or session_id is None:
            raise WorkflowError("measure.nothing_to_confirm")
        if proposal.session_id != session_id:
            raise WorkflowError("measure.other_session")
        if proposal.reading is not None:
            ctx.claims.claim(proposal.reading.device.address, session_id)
        accepted = {**ctx.state.accepted, proposal.kind: proposal}
        outcomes = {k: v for k, v in ctx.state.outcomes.items() if k != proposal.kind}
        ctx.changed(step="measure", accepted=accepted, proposal=None, live_value=None, device_state="idle",
                    measuring_kind=None, outcomes=outcomes)
        if ctx.state.request_kind:  # a doctor follows this session: an accepted value goes to them at once
            self._store_fresh(session_id)

    def finish_measurements(self) -> None:
        """Store every accepted value (and the one on review) in the open session, then go on to what staff
        assess by hand (respiration rate, consciousness, oxygen) and the early-warning score."""
        ctx = self.ctx
        session_id = ctx.require_session()
        if ctx.state.proposal is not None:
            self.accept()
        if not ctx.state.accepted:
            raise WorkflowError("measure.nothing_to_save")
        ctx.cancel_measurement()
        self._store_fresh(session_id)
        ctx.changed(step="vitals", news2=news2_of(ctx.state.accepted, ctx.state.vitals), proposal=None,
                    device_state="idle")

    def _store_fresh(self, session_id: str) -> None:
        """Store the accepted values not stored yet (staff may come back to measure more during the call, and a
        value goes at once once a doctor follows the session), and queue them for the doctor."""
        ctx = self.ctx
        stored = {(m["code"], dt.datetime.fromisoformat(m["measured_at"]) if m["measured_at"] else None, m["value"])
                  for m in ctx.store.measurements(session_id)}
        fresh = [p for p in ctx.state.accepted.values()
                 if any((v.code, p.measured_at, str(v.value)) not in stored for v in p.stored_values)]
        for proposal in fresh:
            self._store(session_id, proposal)
        if fresh:
            ctx.send_live(session_id)

    def _store(self, session_id: str, proposal: Proposal) -> None:
        reading = proposal.reading
        status = list(reading.measurement.status) if reading else []
        if reading and reading.measurement.details.get("temperature_type"):
            status.append(f"site:{reading.measurement.details['temperature_type']}")
        panel_id = str(uuid.uuid4()) if proposal.kind == "blood_pressure" else None
        for value in proposal.stored_values:
            extra: dict[str, Any] = {"panel_id": panel_id} if panel_id and value.field in BP_PANEL_FIELDS else {}
            self.ctx.store.add_measurement(
                session_id, code=value.code, value=str(value.value), unit=value.unit, source=proposal.source,
                device=reading.device.as_dict() if reading else None, raw=reading.raw if reading else None,
                status=status, measured_at=proposal.measured_at.isoformat(),
                received_at=proposal.received_at.isoformat(), interpretation=value.flag, **extra)
