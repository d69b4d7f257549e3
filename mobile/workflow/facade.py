"""SessionWorkflow: one object for the screens, the runtime and the tests, composing the steps of an assisted
teleconsultation (sign-in, site set-up, patient, session start, measuring, vitals, call, closing, administration).
Each method hands over to the step that owns it; the rules live in the steps."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any, Callable

from devices.limits import DEFAULT_LIMITS, WaitLimits
from sync.clinical.news2 import News2
from sync.delivery.recipients import MesDecision
from mobile.workflow.admin import AdminStep
from mobile.workflow.call import CallStep
from mobile.workflow.closing import ClosingStep
from mobile.workflow.context import DeviceClaims, WorkflowContext
from mobile.workflow.history import HistoryStep
from mobile.workflow.kit import DeviceKitStep, DeviceSetup
from mobile.workflow.measuring import MeasuringStep
from mobile.workflow.patient_edit import PatientEditStep
from mobile.workflow.patients import PatientsStep
from mobile.workflow.resume import ResumeStep
from mobile.workflow.recipients import RecipientsStep
from mobile.workflow.session_start import SessionStartStep
from mobile.workflow.signin import SigninStep
from mobile.workflow.site import SiteStep
from mobile.workflow.state import DeviceReader, Proposal, StoreLike, WorkflowState
from mobile.workflow.vitals import VitalsStep


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class SessionWorkflow:
    def __init__(self, store: StoreLike, read_thermometer: DeviceReader | None = None, *,
                 readers: dict[str, DeviceReader] | None = None, clock: Callable[[], dt.datetime] = _utc_now,
                 on_saved: Callable[[str], None] | None = None, device_claims: DeviceClaims | None = None,
                 monotonic: Callable[[], float] = time.monotonic, device_setup: DeviceSetup | None = None,
                 limits: WaitLimits = DEFAULT_LIMITS, report_opener: Callable[[Path], None] | None = None) -> None:
        """`readers` maps a device kind (thermometer, blood_pressure, oximeter) to a coroutine function
        (on_state, on_live) -> DeviceReading; `read_thermometer` is the thermometer's, kept for brevity.
        `device_claims` is shared by the workflows of one tablet; `monotonic` is the idle-lock clock (tests), also
        timing the device phases shown while measuring; `device_setup` searches for and pairs devices for the
        tablet's kit (mobile.workflow.kit); `limits` are the readers' wait limits (devices.limits);
        `report_opener` opens the report's PDF copy (default: the system's viewer or printer)."""
        self.context = ctx = WorkflowContext(store, clock=clock, monotonic=monotonic,
                                             claims=device_claims or DeviceClaims(),
                                             on_saved=on_saved or (lambda _sid: None))
        self.signin = SigninStep(ctx)
        self.site = SiteStep(ctx, self.signin)
        self.resume = ResumeStep(ctx)
        self.patient = PatientsStep(ctx, self.resume)
        self.patient_edit = PatientEditStep(ctx, self.patient)
        self.session_start = SessionStartStep(ctx)
        self.measuring = MeasuringStep(ctx, {**({"thermometer": read_thermometer} if read_thermometer else {}),
                                             **(readers or {})}, limits)
        self.vitals = VitalsStep(ctx)
        self.recipients = RecipientsStep(ctx, report_opener)
        self.closing = ClosingStep(ctx, self.recipients.record)
        self.call = CallStep(ctx, self.closing.draft_summary)
        self.admin = AdminStep(ctx)
        self.kit = DeviceKitStep(ctx, device_setup)
        self.history = HistoryStep(ctx)
        ctx.load_site()
        ctx.state.step = "signin" if self.signin.staff_members() else "site_setup"

    @property
    def store(self) -> Any:
        return self.context.store

    @property
    def state(self) -> WorkflowState:
        return self.context.state

    @property
    def claims(self) -> DeviceClaims:
        return self.context.claims

    # -- observation ------------------------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[WorkflowState], None]) -> None:
        self.state.listeners.append(listener)
        listener(self.state)

    # -- sign-in, idle lock, first run ------------------------------------------------------------------------
    def staff_members(self) -> list[dict[str, Any]]:
        return self.signin.staff_members()

    def sign_in(self, staff_id: str, pin: str) -> None:
        self.signin.sign_in(staff_id, pin)

    def sign_out(self) -> None:
        self.resume.save()
        self.signin.sign_out()

    @property
    def idle_lock_seconds(self) -> float:
        return self.signin.idle_lock_seconds

    def touch(self) -> None:
        self.signin.touch()

    def lock(self) -> None:
        self.resume.save()
        self.signin.lock()

    def check_idle(self) -> bool:
        """Lock when idle — never during a measurement or the call. True if it locked."""
        if self.signin.idle_due():
            self.lock()
            return True
        return False

    def setup_site(self, **values: Any) -> str:
        return self.site.setup_site(**values)

    # -- patient and session start ----------------------------------------------------------------------------
    def patients(self, query: str = "", limit: int | None = None) -> list[dict[str, Any]]:
        return self.patient.patients(query, limit)

    def probable_duplicates(self, **traits: Any) -> list[dict[str, Any]]:
        return self.patient.probable_duplicates(**traits)

    def check_duplicates(self, **traits: Any) -> list[dict[str, Any]]:
        return self.patient.check_duplicates(**traits)

    def identity_documents(self) -> tuple[str, ...]:
        return self.patient.identity_documents()

    def create_patient(self, *, allow_duplicate: bool = False, **traits: Any) -> str:
        return self.patient.create_patient(allow_duplicate=allow_duplicate, **traits)

    def dismiss_duplicates(self) -> None:
        self.patient.dismiss_duplicates()

    def select_patient(self, patient_id: str) -> None:
        self.patient.select_patient(patient_id)

    def open_patient_edit(self, patient_id: str) -> dict[str, Any]:
        return self.patient_edit.open_patient_edit(patient_id)

    def save_patient_edit(self, *, allow_duplicate: bool = False, **values: Any) -> list[str]:
        return self.patient_edit.save_patient_edit(allow_duplicate=allow_duplicate, **values)

    def cancel_patient_edit(self) -> None:
        self.patient_edit.cancel_patient_edit()

    def start_session(self, **values: Any) -> bool:
        return self.session_start.start_session(**values)

    def abandon(self) -> None:
        self.session_start.abandon()

    def asks_mes(self) -> bool:
        return self.session_start.asks_mes()

    def new_session(self) -> None:
        """Back to the patient list: an open session is parked (kept open, offered back by the list)."""
        self.resume.leave()

    def leave_session(self) -> None:
        self.resume.leave()

    def open_sessions(self) -> list[dict[str, Any]]:
        return self.resume.open_sessions()

    def resume_session(self, session_id: str) -> None:
        self.resume.resume(session_id)

    def keep_call_notes(self, *, save: bool = False, **notes: str) -> None:
        self.resume.keep_call_notes(save=save, **notes)

    # -- measuring --------------------------------------------------------------------------------------------
    @property
    def kinds(self) -> tuple[str, ...]:
        return self.measuring.kinds

    async def measure(self, kind: str) -> Proposal | None:
        return await self.measuring.measure(kind)

    async def measure_temperature(self) -> Proposal | None:
        return await self.measuring.measure("thermometer")

    def enter_manual(self, kind: str, typed: dict[str, str]) -> Proposal:
        return self.measuring.enter_manual(kind, typed)

    def enter_manual_temperature(self, text: str) -> Proposal:
        return self.measuring.enter_manual_temperature(text)

    def cancel_measurement(self) -> None:
        self.measuring.cancel()

    def unmeasured(self, after: str | None = None, order: tuple[str, ...] | None = None) -> list[str]:
        return self.measuring.unmeasured(after, order)

    def retake(self) -> None:
        self.measuring.retake()

    def accept(self) -> None:
        self.measuring.accept()

    def finish_measurements(self) -> None:
        self.measuring.finish_measurements()

    # -- the resident's history (trends) and usual values --------------------------------------------------------
    def open_history(self, patient_id: str | None = None) -> None:
        self.history.open_history(patient_id)

    def close_history(self) -> None:
        self.history.close_history()

    def resident_history(self) -> Any:
        return self.history.resident_history()

    def history_usual_values(self) -> dict[str, Any]:
        return self.history.usual_values()

    def usual_values(self) -> dict[str, Any]:
        """The selected resident's usual values (LOINC code → sync.store.history.Usual), this session left out."""
        return self.context.usual_values()

    # -- vitals, the call, closing ----------------------------------------------------------------------------
    def preview_news2(self, **values: Any) -> News2:
        return self.vitals.preview_news2(**values)

    def confirm_vitals(self, **values: Any) -> News2:
        return self.vitals.confirm_vitals(**values)

    def record_emergency_call(self) -> dict[str, Any]:
        return self.vitals.record_emergency_call()

    def start_call(self, *, doctor_name: str, doctor_rpps: str | None = None) -> None:
        self.call.start_call(doctor_name=doctor_name, doctor_rpps=doctor_rpps)

    def request_advice(self) -> None:
        self.call.request_advice()

    def call_seconds(self) -> int:
        return self.call.call_seconds()

    def briefing(self) -> dict[str, Any]:
        return self.call.briefing()

    def end_call(self, **values: Any) -> None:
        self.call.end_call(**values)

    def received_conclusions(self) -> dict[str, Any]:
        return self.call.received_conclusions()

    def accept_conclusions(self) -> None:
        self.call.accept_conclusions()

    def waiting_for_answer(self) -> bool:
        return self.call.waiting_for_answer()

    def conclusions_arrived(self) -> None:
        self.call.conclusions_arrived()

    def conclusions_waiting_by_patient(self) -> dict[str, str]:
        """Residents whose open session has the doctor's answer waiting for staff (the list's "Avis reçu")."""
        return self.store.conclusions_waiting_by_patient()

    def draft_summary(self) -> str:
        return self.closing.draft_summary()

    def close(self, *, summary: str, recipient_name: str | None = None, gp: dict[str, Any] | None = None) -> str:
        return self.closing.close(summary=summary, recipient_name=recipient_name, gp=gp)

    # -- the report's recipients by secure mail, its delivery, its PDF copy --------------------------------------
    def directory_available(self) -> bool:
        return self.recipients.directory_available()

    def search_directory(self, text: str) -> list[dict[str, Any]]:
        return self.recipients.search_directory(text)

    def remembered_gp(self) -> dict[str, Any] | None:
        return self.recipients.remembered_gp()

    def check_address(self, text: str) -> str:
        return self.recipients.check_address(text)

    def mes(self) -> MesDecision:
        return self.recipients.mes()

    def mssante_configured(self) -> bool:
        return self.recipients.mssante_configured()

    def recipient_states(self, session_id: str) -> list[dict[str, Any]]:
        return self.recipients.recipient_states(session_id)

    def report_pdf(self, session_id: str) -> bytes | None:
        return self.recipients.report_pdf(session_id)

    def hand_out_report(self, session_id: str) -> Path:
        return self.recipients.hand_out_report(session_id)

    def add_addendum(self, session_id: str, text: str) -> str:
        return self.closing.add_addendum(session_id, text)

    def sync_state(self, session_id: str | None = None) -> str | None:
        return self.closing.sync_state(session_id)

    # -- administration ---------------------------------------------------------------------------------------
    def open_admin(self) -> None:
        self.admin.open_admin()

    def close_admin(self) -> None:
        self.admin.close_admin()

    def staff_overview(self) -> list[dict[str, Any]]:
        return self.admin.staff_overview()

    def own_pin_needed(self) -> bool:
        return self.admin.own_pin_needed()

    def change_own_pin(self, pin: str) -> None:
        self.admin.change_own_pin(pin)

    def duplicate_pairs(self) -> list[dict[str, Any]]:
        return self.admin.duplicate_pairs()

    def merge_duplicates(self, pair_id: str) -> str:
        return self.admin.merge_duplicates(pair_id)

    def add_staff_member(self, **values: Any) -> str:
        return self.admin.add_staff_member(**values)

    def reset_staff_pin(self, staff_id: str, pin: str) -> None:
        self.admin.reset_staff_pin(staff_id, pin)

    def set_staff_active(self, staff_id: str, active: bool) -> None:
        self.admin.set_staff_active(staff_id, active)

    def set_staff_admin(self, staff_id: str, is_admin: bool) -> None:
        self.admin.set_staff_admin(staff_id, is_admin)

    def audit_check(self):
        return self.admin.audit_check()

    def export_audit(self, directory: str | Path) -> Path:
        return self.admin.export_audit(directory)

    @property
    def retention_days(self) -> int:
        return self.admin.retention_days

    def set_retention_days(self, days: int) -> None:
        self.admin.set_retention_days(days)

    # -- the tablet's device kit (administrators) -------------------------------------------------------------
    def open_devices(self) -> None:
        self.kit.open_devices()

    def close_devices(self) -> None:
        self.kit.close_devices()

    def device_kit(self) -> list[dict[str, Any]]:
        return self.kit.device_kit()

    async def scan_devices(self) -> list[dict[str, Any]]:
        return await self.kit.scan_devices()

    async def pair_device(self, address: str) -> dict[str, Any]:
        return await self.kit.pair_device(address)

    def remove_from_kit(self, address: str) -> None:
        self.kit.remove_from_kit(address)
