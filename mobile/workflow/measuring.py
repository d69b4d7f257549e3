"""Measuring: read a device of the chosen kind, propose its values for review (accept or retake), or take a value
typed by hand; then store every accepted value in the session with the flag the clinical rules gave it when it was
proposed. A reading is bound to the session it was started
for: changing patient mid-measurement discards it; one device serves one open session of the tablet at a time."""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from devices.parsers.common import ParsedMeasurement
from devices.reading import DeviceReading
from devices.errors import DeviceError
from mobile.workflow import readings
from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import DeviceReader, Proposal, WorkflowError
from mobile.workflow.vitals import news2_of

log = logging.getLogger(__name__)

BP_PANEL_FIELDS = ("systolic", "diastolic", "mean_arterial_pressure")
KIT_REFUSALS = {"device.not_in_kit": "measure.not_in_kit", "device.none_paired": "measure.none_paired"}


def device_failure(kind: str, exc: DeviceError) -> WorkflowError:
    """A device's failure as the workflow's refusal: the device's code is passed on as the ``reason`` (the catalog
    words it), with its parameters; the kind measured names the device."""
    if exc.code in KIT_REFUSALS:  # the device is fine; it is not this tablet's
        return WorkflowError(KIT_REFUSALS[exc.code], **{**exc.params, "kind": kind})
    code = "measure.unreachable_or_manual" if kind == "thermometer" else "measure.unreachable"
    return WorkflowError(code, **{**exc.params, "kind": kind, "reason": exc.code})


class MeasuringStep:
    def __init__(self, ctx: WorkflowContext, readers: dict[str, DeviceReader]) -> None:
        self.ctx = ctx
        self.readers = readers

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
        ctx.changed(step="measure", proposal=None, error=None, live_value=None, device_state="scanning",
                    measuring_kind=kind)

        def on_state(device_state: str) -> None:
            if ctx.state.session_id == session_id:
                ctx.changed(device_state=device_state)

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
            self._fail(session_id, device_failure(kind, exc))
            return None
        finally:
            ctx.measure_task = None
        if ctx.state.session_id != session_id:
            log.info("reading discarded: the session changed during the measurement")
            return None
        holder = ctx.claims.holder(reading.device.address)
        if holder is not None and holder != session_id:
            self._fail(session_id, WorkflowError("device.serves_another_session"))
            return None
        try:
            return self._propose(session_id, kind, reading)
        except WorkflowError as exc:
            self._fail(session_id, exc)
            return None

    def _propose(self, session_id: str, kind: str, reading: DeviceReading) -> Proposal:
        if kind == "thermometer":
            obs, decision = readings.temperature_values(reading.measurement)
            proposal = Proposal(session_id=session_id, code=obs.code, value=obs.value, unit=obs.unit,
                                source="bluetooth", measured_at=readings.measured_at(reading),
                                received_at=reading.received_at, reading=reading, flag=decision.flag,
                                warnings=readings.warnings_of([decision]) + readings.battery_warning(reading))
        else:
            values, warnings = readings.vital_values(kind, reading.measurement)
            primary = values[0]
            proposal = Proposal(session_id=session_id, code=primary.code, value=primary.value, unit=primary.unit,
                                source="bluetooth", measured_at=readings.measured_at(reading),
                                received_at=reading.received_at, reading=reading,
                                warnings=warnings + readings.battery_warning(reading), kind=kind, values=values)
        self.ctx.changed(step="review", proposal=proposal, device_state="done", error=None)
        return proposal

    def enter_manual_temperature(self, text: str) -> Proposal:
        """Fallback when no device works: the value is typed and marked as manual."""
        ctx = self.ctx
        session_id = self._require_ready()
        value = readings.parse_manual_temperature(text)
        decision = readings.check_temperature(value, "Cel")
        now = ctx.clock()
        proposal = Proposal(session_id=session_id, code=readings.LOINC_BODY_TEMPERATURE, value=value,
                            unit="Cel", source="manual", measured_at=now, received_at=now, flag=decision.flag,
                            warnings=readings.warnings_of([decision]))
        ctx.cancel_measurement()
        ctx.changed(step="review", proposal=proposal, error=None, device_state="idle")
        return proposal

    def retake(self) -> None:
        self.ctx.changed(step="measure", proposal=None, error=None, live_value=None, device_state="idle")

    def _fail(self, session_id: str, error: WorkflowError) -> None:
        if self.ctx.state.session_id == session_id:
            self.ctx.changed(step="measure", proposal=None, device_state="error", error=error)

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
        ctx.changed(step="measure", accepted=accepted, proposal=None, live_value=None, device_state="idle",
                    measuring_kind=None)

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
        for proposal in ctx.state.accepted.values():
            self._store(session_id, proposal)
        ctx.changed(step="vitals", news2=news2_of(ctx.state.accepted, ctx.state.vitals), proposal=None,
                    device_state="idle")

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
