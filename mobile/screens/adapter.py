"""The thin layer between the plain-Python workflow and the kv rules.

:class:`WorkflowAdapter` mirrors ``SessionWorkflow.state`` into Kivy properties (``workflow.subscribe``) and
forwards taps to the workflow, turning ``WorkflowError`` into a message property. :class:`SyncMonitor` polls the
outbox counts and the just-saved session's sync state once a second. No domain rule lives here.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, DictProperty, ListProperty, NumericProperty, StringProperty

from mobile.screens import texts
from mobile.workflow import DuplicateWarning, SessionWorkflow, WorkflowError, WorkflowState

log = logging.getLogger(__name__)


class WorkflowAdapter(EventDispatcher):
    step = StringProperty("signin")      # the workflow's step; the screen shown is `screen` (the PIN pad if locked)
    screen = StringProperty("signin")
    # staff, lock, site
    staff_list = ListProperty([])        # [{"id", "name", "role"}] of who may sign in
    chosen_staff = StringProperty("")    # the staff member whose PIN is being typed
    chosen_staff_name = StringProperty("")
    pin_length = NumericProperty(0)
    signin_error = StringProperty("")
    staff_name = StringProperty("")
    staff_role = StringProperty("")
    locked = BooleanProperty(False)
    first_run = BooleanProperty(False)   # no account yet: site setup also creates the first one
    site_name = StringProperty("")
    setup_error = StringProperty("")
    notice = StringProperty("")          # one-off message on the patient list (consent refused…)
    duplicates = ListProperty([])        # probable duplicates of the identity being created
    # session start
    start_error = StringProperty("")
    # vitals and NEWS2
    vitals_error = StringProperty("")
    news2_rows = ListProperty([])        # [(parameter, points)] in chart order
    news2_total = NumericProperty(0)
    news2_risk = StringProperty("low")
    news2_missing = ListProperty([])
    # teleconsultation
    call_running = BooleanProperty(False)
    call_time = StringProperty("00:00")
    doctor_name = StringProperty("")
    call_error = StringProperty("")
    # summary
    summary_draft = StringProperty("")
    summary_error = StringProperty("")
    # patient list and form
    query = StringProperty("")
    patients = ListProperty([])          # RecycleView data: one dict per resident
    form_error = StringProperty("")
    # the selected patient (banner)
    has_patient = BooleanProperty(False)
    patient_id = StringProperty("")
    patient_name = StringProperty("")
    patient_sex = StringProperty("")
    patient_birth_date = StringProperty("")
    patient_insee = StringProperty("")
    patient_status = StringProperty("")
    # measurement
    device_state = StringProperty("idle")
    busy = BooleanProperty(False)        # a measurement is running
    live_value = StringProperty("")
    error = StringProperty("")
    manual_mode = BooleanProperty(False)
    manual_error = StringProperty("")
    selected_kind = StringProperty("thermometer")   # the device card chosen on the measure screen
    measuring_kind = StringProperty("")             # the device being read, while busy
    accepted = DictProperty({})                     # kind -> display of the value accepted this session
    has_accepted = BooleanProperty(False)
    # review
    review_kind = StringProperty("thermometer")
    value_text = StringProperty("")
    warnings = ListProperty([])
    source = StringProperty("")
    device_label = StringProperty("")
    measured_time = StringProperty("")
    save_error = StringProperty("")
    # saved
    saved_session_id = StringProperty("")
    saved_value = StringProperty("")
    saved_values = ListProperty([])      # [(kind, display)] in the cards' order
    addendum_error = StringProperty("")
    addenda_saved = NumericProperty(0)   # addenda written for the session just saved
    # administration (administrators only)
    is_admin = BooleanProperty(False)
    admin_staff = ListProperty([])       # RecycleView data: one dict per account
    admin_error = StringProperty("")
    admin_message = StringProperty("")   # what the last action did: a key of texts.ADMIN_DONE
    admin_export_path = StringProperty("")
    admin_pin_for = StringProperty("")   # the account whose new PIN is being typed
    admin_pin_for_name = StringProperty("")
    audit_ok = BooleanProperty(True)
    audit_rows = NumericProperty(0)
    audit_bad_seq = NumericProperty(0)
    retention_days = NumericProperty(7)

    def __init__(self, workflow: SessionWorkflow, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workflow = workflow
        self._task: asyncio.Task | None = None
        self._pin = ""
        self.ready: asyncio.Future | None = None   # the app sets it to the runtime's start: devices come up
        self.refresh_staff()
        workflow.subscribe(self._on_state)

    # -- workflow → properties ---------------------------------------------------------------------------------
    def _on_state(self, state: WorkflowState) -> None:
        staff = state.staff or {}
        self.staff_name = staff.get("display_name") or ""
        self.staff_role = staff.get("role") or ""
        self.is_admin = bool(staff.get("is_admin")) and not state.locked
        self.locked = state.locked
        self.site_name = (state.site or {}).get("name") or ""
        self.notice = state.notice or ""
        self.duplicates = [{"patient_id": str(p["id"]),
                            "name": texts.display_name(p.get("family_name"), p.get("given_name")),
                            "birth_date": p.get("birth_date") or "", "sex": p.get("sex") or "",
                            "status": p.get("identity_status") or ""} for p in state.duplicates]
        score = state.news2
        if score is not None:
            self.news2_rows = [(name, score.parameters[name]) for name in texts.NEWS2_ORDER
                               if name in score.parameters]
            self.news2_total, self.news2_risk, self.news2_missing = score.score, score.risk, list(score.missing)
        self.call_running = state.call_started_at is not None and state.call_ended_at is None
        self.doctor_name = state.doctor_name or ""
        self.summary_draft = state.summary_draft or ""
        patient = state.patient or {}
        self.has_patient = bool(state.patient)
        self.patient_id = str(patient.get("id") or "")
        self.patient_name = texts.display_name(patient.get("family_name"), patient.get("given_name"))
        self.patient_sex = patient.get("sex") or ""
        self.patient_birth_date = patient.get("birth_date") or ""
        self.patient_insee = patient.get("birth_place_insee") or ""
        self.patient_status = patient.get("identity_status") or ""
        self.device_state = state.device_state
        self.busy = state.device_state in ("scanning", "connecting", "measuring")
        self.live_value = state.live_value or ""
        self.error = state.error or ""
        self.measuring_kind = (state.measuring_kind or "") if self.busy else ""
        self.accepted = {kind: p.display for kind, p in state.accepted.items()}
        self.has_accepted = bool(state.accepted)
        if state.step == "saved":
            self.saved_values = [(kind, self.accepted[kind]) for kind in texts.KINDS if kind in self.accepted] + \
                [(kind, text) for kind, text in self.accepted.items() if kind not in texts.KINDS]
        proposal = state.proposal
        if proposal is not None:
            self.value_text = proposal.display
            self.warnings = list(proposal.warnings)
            self.source = proposal.source
            self.device_label = self._device_label(proposal)
            self.measured_time = proposal.measured_at.astimezone().strftime("%H:%M")
            self.saved_value = proposal.display
            self.review_kind = proposal.kind
        elif state.step != "saved":
            self.value_text, self.warnings, self.source, self.device_label, self.measured_time = "", [], "", "", ""
        if (state.saved_session_id or "") != self.saved_session_id:
            self.addenda_saved, self.addendum_error = 0, ""
        self.saved_session_id = state.saved_session_id or ""
        self.first_run = not self.staff_list
        if state.step == "signin" or state.locked:
            self.refresh_staff()
        if state.step != self.step:
            self.start_error = self.vitals_error = self.call_error = self.summary_error = self.setup_error = ""
            self.manual_mode, self.manual_error, self.save_error = False, "", ""
            if state.step == "patient":
                self.refresh_patients()
            if state.step == "admin":
                self.admin_error = self.admin_message = self.admin_pin_for = self.admin_pin_for_name = ""
                self.admin_export_path = ""
                self.refresh_admin()
            if state.step == "measure" and self.step in ("patient", "patient_form", "saved"):
                self.selected_kind = "thermometer" if "thermometer" in self.workflow.kinds or \
                    not self.workflow.kinds else self.workflow.kinds[0]
        self.step = state.step
        self.screen = "signin" if state.locked else state.step

    @staticmethod
    def _device_label(proposal) -> str:
        reading = proposal.reading
        if reading is None:
            return ""
        device = reading.device
        name = device.name or device.address
        return f"{name} ({device.model})" if device.model else name

    # -- staff: sign-in, lock ---------------------------------------------------------------------------------
    def refresh_staff(self) -> None:
        self.staff_list = [{"staff_id": str(m["id"]), "name": m["display_name"], "role": m["role"], "wf": self}
                           for m in self.workflow.staff_members()]
        self.first_run = not self.staff_list

    def choose_staff(self, staff_id: str) -> None:
        self._pin, self.pin_length, self.signin_error = "", 0, ""
        self.chosen_staff = staff_id
        self.chosen_staff_name = next((m["name"] for m in self.staff_list if m["staff_id"] == staff_id), "")

    def pin_digit(self, digit: str) -> None:
        if not self.chosen_staff or len(self._pin) >= 8:
            return
        self._pin += digit
        self.pin_length = len(self._pin)
        self.signin_error = ""

    def pin_erase(self) -> None:
        self._pin = self._pin[:-1]
        self.pin_length = len(self._pin)

    def submit_pin(self) -> bool:
        pin, self._pin, self.pin_length = self._pin, "", 0
        if not self.chosen_staff:
            self.signin_error = "Choisissez d'abord votre nom."
            return False
        try:
            self.workflow.sign_in(self.chosen_staff, pin)
        except WorkflowError as exc:
            self.signin_error = str(exc)
            return False
        self.chosen_staff, self.chosen_staff_name, self.signin_error = "", "", ""
        return True

    def lock(self) -> None:
        self.workflow.lock()

    def sign_out(self) -> None:
        self.chosen_staff, self.chosen_staff_name = "", ""
        self.workflow.sign_out()

    def touched(self) -> None:
        self.workflow.touch()

    def add_addendum(self, text: str) -> bool:
        self.addendum_error = ""
        try:
            self.workflow.add_addendum(self.saved_session_id, text)
        except WorkflowError as exc:
            self.addendum_error = str(exc)
            return False
        self.addenda_saved += 1
        return True

    # -- administration ---------------------------------------------------------------------------------------
    def open_admin(self) -> bool:
        self.notice = ""
        try:
            self.workflow.open_admin()
        except WorkflowError as exc:
            self.notice = str(exc)
            return False
        return True

    def close_admin(self) -> None:
        self.workflow.close_admin()

    def refresh_admin(self) -> None:
        try:
            members = self.workflow.staff_overview()
            check = self.workflow.audit_check()
        except WorkflowError as exc:
            self.admin_error = str(exc)
            return
        me = (self.workflow.state.staff or {}).get("id")
        self.admin_staff = [{"staff_id": m["id"], "name": m["display_name"], "role": m["role"],
                             "active": m["active"], "locked": m["locked"], "is_me": m["id"] == me,
                             "is_admin": m["is_admin"], "wf": self}
                            for m in members]
        self.audit_ok, self.audit_rows = check.ok, check.rows
        self.audit_bad_seq = check.first_bad_seq or 0
        self.retention_days = self.workflow.retention_days

    def _admin(self, action, message: str) -> bool:
        self.admin_error = self.admin_message = ""
        try:
            action()
        except WorkflowError as exc:
            self.admin_error = str(exc)
            return False
        self.admin_message = message
        self.refresh_admin()
        return True

    def admin_add_staff(self, name: str, role: str, pin: str, is_admin: bool = False) -> bool:
        return self._admin(lambda: self.workflow.add_staff_member(display_name=name, role=role, pin=pin,
                                                                  is_admin=is_admin), "created")

    def admin_set_admin(self, staff_id: str, is_admin: bool) -> bool:
        return self._admin(lambda: self.workflow.set_staff_admin(staff_id, is_admin),
                           "admin_granted" if is_admin else "admin_withdrawn")

    def admin_choose_pin_for(self, staff_id: str, name: str) -> None:
        self.admin_pin_for, self.admin_pin_for_name = staff_id, name
        self.admin_error = self.admin_message = ""

    def admin_reset_pin(self, pin: str) -> bool:
        staff_id = self.admin_pin_for
        done = self._admin(lambda: self.workflow.reset_staff_pin(staff_id, pin), "pin")
        if done:
            self.admin_pin_for = self.admin_pin_for_name = ""
        return done

    def admin_set_active(self, staff_id: str, active: bool) -> bool:
        return self._admin(lambda: self.workflow.set_staff_active(staff_id, active),
                           "reactivated" if active else "deactivated")

    def admin_set_retention(self, days: int) -> bool:
        return self._admin(lambda: self.workflow.set_retention_days(int(days)), "retention")

    def admin_export(self) -> bool:
        folder = Path(self.workflow.store.path).parent / "exports"
        written: list[Path] = []
        done = self._admin(lambda: written.append(self.workflow.export_audit(folder)), "exported")
        self.admin_export_path = str(written[0]) if done else ""
        return done

    def tick(self, *_args: Any) -> None:
        """Once a second: the call's timer, and the idle lock."""
        seconds = self.workflow.call_seconds()
        self.call_time = f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
            else f"{seconds // 60:02d}:{seconds % 60:02d}"
        self.workflow.check_idle()

    def setup_site(self, **values: Any) -> bool:
        self.setup_error = ""
        try:
            self.workflow.setup_site(**values)
        except WorkflowError as exc:
            self.setup_error = str(exc)
            return False
        self.refresh_staff()
        return True

    # -- patient ----------------------------------------------------------------------------------------------
    def search(self, text: str) -> None:
        self.query = text
        self.refresh_patients()

    def refresh_patients(self) -> None:
        rows = self.workflow.patients(self.query.strip())  # the store matches dd/mm/yyyy and name prefixes
        self.patients = [{
            "patient_id": str(p["id"]),
            "name": texts.display_name(p.get("family_name"), p.get("given_name")),
            "sex": p.get("sex") or "",
            "birth_date": p.get("birth_date") or "",
            "insee": p.get("birth_place_insee") or "",
            "status": p.get("identity_status") or "",
            "wf": self,
        } for p in rows]

    def select_patient(self, patient_id: str) -> None:
        self.workflow.select_patient(patient_id)

    def create_patient(self, *, family_name: str, given_name: str, birth_date: str, sex: str,
                       birth_place_insee: str, identity_status: str, identity_method: str | None = None,
                       allow_duplicate: bool = False, ins: str | None = None) -> bool:
        """The form's submit. Returns True when the patient was created (and selected); a probable duplicate
        fills `duplicates` and returns False until staff pick one or create anyway."""
        self.form_error = ""
        try:
            iso = texts.parse_date(birth_date)
            extra = {"identity_method": identity_method} if identity_method else {}
            if ins:
                extra["ins"] = ins
            self.workflow.create_patient(family_name=family_name.strip(), given_name=given_name.strip(),
                                         birth_date=iso, sex=sex, birth_place_insee=birth_place_insee.strip(),
                                         identity_status=identity_status, allow_duplicate=allow_duplicate, **extra)
        except DuplicateWarning as exc:
            self.form_error = str(exc)
            return False
        except WorkflowError as exc:
            self.form_error = str(exc)
            return False
        return True

    def dismiss_duplicates(self) -> None:
        self.workflow._changed(duplicates=[])

    # -- session start ------------------------------------------------------------------------------------------
    def start_session(self, **values: Any) -> bool:
        self.start_error = ""
        try:
            self.workflow.start_session(**values)
        except WorkflowError as exc:
            self.start_error = str(exc)
            return False
        return True

    def abandon(self) -> None:
        try:
            self.workflow.abandon()
        except WorkflowError as exc:
            self.start_error = str(exc)

    # -- after the measurements -------------------------------------------------------------------------------
    def finish_measurements(self) -> bool:
        self.save_error = ""
        try:
            self.workflow.finish_measurements()
        except WorkflowError as exc:
            self.save_error = str(exc)
            return False
        return True

    def preview_vitals(self, **values: Any) -> None:
        self.vitals_error = ""
        try:
            score = self.workflow.preview_news2(**values)
        except WorkflowError as exc:
            self.vitals_error = str(exc)
            return
        self.news2_rows = [(name, score.parameters[name]) for name in texts.NEWS2_ORDER if name in score.parameters]
        self.news2_total, self.news2_risk, self.news2_missing = score.score, score.risk, list(score.missing)

    def confirm_vitals(self, **values: Any) -> bool:
        self.vitals_error = ""
        try:
            self.workflow.confirm_vitals(**values)
        except WorkflowError as exc:
            self.vitals_error = str(exc)
            return False
        return True

    def start_call(self, doctor_name: str, doctor_rpps: str = "") -> bool:
        self.call_error = ""
        try:
            self.workflow.start_call(doctor_name=doctor_name, doctor_rpps=doctor_rpps or None)
        except WorkflowError as exc:
            self.call_error = str(exc)
            return False
        self.tick()
        return True

    def end_call(self, **values: Any) -> bool:
        self.call_error = ""
        try:
            self.workflow.end_call(**values)
        except WorkflowError as exc:
            self.call_error = str(exc)
            return False
        return True

    def close_session(self, summary: str, recipient_name: str = "") -> bool:
        self.summary_error = ""
        try:
            self.workflow.close(summary=summary, recipient_name=recipient_name or None)
        except WorkflowError as exc:
            self.summary_error = str(exc)
            return False
        return True

    def change_patient(self) -> None:
        self.workflow.new_session()

    # -- measurement ------------------------------------------------------------------------------------------
    def select_kind(self, kind: str) -> None:
        """A device card was tapped: show its instructions; an old error belongs to the previous device."""
        if self.busy or kind == self.selected_kind:
            return
        self.manual_mode, self.manual_error = False, ""
        if self.workflow.state.error and self.workflow.state.step == "measure":
            self.workflow.retake()
        self.error = ""
        self.selected_kind = kind

    def measure(self) -> None:
        if self.busy or (self._task is not None and not self._task.done()):
            return
        self.manual_mode, self.manual_error = False, ""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.error("measure() needs the asyncio loop: run the app with async_run(async_lib='asyncio')")
            return
        self._task = loop.create_task(self._measure())

    async def _measure(self) -> None:
        if self.ready is not None and not self.ready.done():
            await asyncio.wait({self.ready})  # a tap in the first split second waits for the devices
        try:
            await self.workflow.measure(self.selected_kind)
        except WorkflowError as exc:
            self.error = str(exc)
        except Exception:  # noqa: BLE001 - never let a device bug kill the UI; show it as a failure
            log.exception("measurement crashed")
            self.error = "Mesure impossible : erreur inattendue. Reprenez, ou saisissez la valeur à la main."
            self.device_state = "error"
            self.busy = False

    def show_manual(self) -> None:
        self.manual_mode, self.manual_error = True, ""

    def enter_manual(self, text: str) -> bool:
        self.manual_error = ""
        try:
            self.workflow.enter_manual_temperature(text)
        except WorkflowError as exc:
            self.manual_error = str(exc)
            return False
        return True

    def retake(self) -> None:
        self.workflow.retake()

    def accept(self) -> None:
        """Keep the value on review and go back to the devices."""
        self.save_error = ""
        try:
            self.workflow.accept()
        except WorkflowError as exc:
            self.save_error = str(exc)


    def next_patient(self) -> None:
        self.query = ""
        self.workflow.new_session()

    def cancel_tasks(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None


class SyncMonitor(EventDispatcher):
    """Outbox counts and the last saved session's state, polled from the runtime every `interval` seconds."""

    waiting = NumericProperty(0)      # pending + in flight
    rejected = NumericProperty(0)
    sent = NumericProperty(0)
    session_state = StringProperty("")
    level = StringProperty("ok")      # ok | pending | rejected
    simulated = BooleanProperty(False)
    last_sync = StringProperty("")    # "HH:MM" of the last session the server confirmed
    offline = BooleanProperty(False)  # the last sync pass could not reach the server
    rejected_list = ListProperty([])  # [{name, date, reason}] for the staff panel

    def __init__(self, runtime: Any, interval: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.interval = interval
        self._event = None
        self._failed = False
        config = getattr(runtime, "config", None)
        self.simulated = bool(getattr(config, "simulated_devices", False))

    def start(self) -> None:
        self.refresh()
        if self._event is None:
            self._event = Clock.schedule_interval(self.refresh, self.interval)

    def stop(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def refresh(self, *_args: Any) -> None:
        try:
            counts = self.runtime.sync_counts()
            state = self.runtime.workflow.sync_state() or ""
        except Exception:  # noqa: BLE001 - the indicator must never crash the app
            if not self._failed:
                log.exception("sync indicator: cannot read the outbox")
            self._failed = True
            return
        self._failed = False
        self.waiting = int(counts.get("pending", 0)) + int(counts.get("in_flight", 0))
        self.rejected = int(counts.get("rejected", 0))
        self.sent = int(counts.get("sent", 0))
        self.session_state = state
        self.level = texts.sync_level(self.waiting, self.rejected)
        try:
            last = self.runtime.last_sync() if hasattr(self.runtime, "last_sync") else None
            self.last_sync = last.astimezone().strftime("%H:%M") if last else ""
            self.offline = getattr(self.runtime, "online", None) is False
            if self.rejected:
                self.rejected_list = [{
                    "name": texts.display_name(r["family_name"], r["given_name"]),
                    "date": texts.format_date((r["opened_at"] or "")[:10]),
                    "reason": r["reason"] or ""} for r in self.runtime.rejected_sessions()]
            else:
                self.rejected_list = []
        except Exception:  # noqa: BLE001 - the indicator must never crash the app
            log.exception("sync indicator: cannot read the last sync")
