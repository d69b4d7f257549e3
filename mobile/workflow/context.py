"""What every step of the session workflow shares: the store, the state and its listeners, the clocks, the device
claims of the tablet, the measurement running, and the guards (signed in, a session open, an administrator)."""
from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Callable

from mobile.workflow.state import WorkflowError, WorkflowState
from sync.store import ADMIN_PIN_DIGITS


class DeviceClaims:
    """Which open session each device (by Bluetooth address) is serving on this tablet: one device, one patient.
    Shared by every workflow of the app (the runtime owns it)."""

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}

    def holder(self, address: str) -> str | None:
        return self._holders.get(address)

    def claim(self, address: str, session_id: str) -> None:
        held = self._holders.get(address)
        if held is not None and held != session_id:
            raise WorkflowError("device.serves_another_session")
        self._holders[address] = session_id

    def release_session(self, session_id: str) -> None:
        for address in [a for a, held in self._holders.items() if held == session_id]:
            del self._holders[address]


class WorkflowContext:
    def __init__(self, store: Any, *, clock: Callable[[], dt.datetime], monotonic: Callable[[], float],
                 claims: DeviceClaims, on_saved: Callable[[str], None]) -> None:
        self.store = store
        self.clock = clock
        self.monotonic = monotonic
        self.claims = claims
        self.on_saved = on_saved
        self.state = WorkflowState()
        self.measure_task: asyncio.Task[Any] | None = None
        self.last_activity = monotonic()

    # -- observation ------------------------------------------------------------------------------------------
    def changed(self, **updates: Any) -> None:
        """Update the state and tell every listener (the screens)."""
        for key, value in updates.items():
            setattr(self.state, key, value)
        for listener in list(self.state.listeners):
            listener(self.state)

    # -- guards -----------------------------------------------------------------------------------------------
    def require_staff(self) -> dict[str, Any]:
        if self.state.staff is None or self.state.locked:
            raise WorkflowError("auth.sign_in_first")
        return self.state.staff

    def require_session(self) -> str:
        self.require_staff()
        if self.state.session_id is None:
            raise WorkflowError("session.choose_patient_first")
        return self.state.session_id

    def require_admin(self, *, pin_ready: bool = True) -> dict[str, Any]:
        """The signed-in administrator; with `pin_ready`, one whose PIN has the digits an administrator's needs
        (sync.store.pins): until then they may only choose a new PIN."""
        staff = self.require_staff()
        if not staff.get("is_admin"):
            raise WorkflowError("auth.admin_only")
        if pin_ready and not staff.get("pin_admin_ready"):
            raise WorkflowError("pin.admin.choose_longer", "pin", digits=ADMIN_PIN_DIGITS)
        return staff

    # -- the measurement running and the session open ---------------------------------------------------------
    @property
    def measuring(self) -> bool:
        return self.measure_task is not None and not self.measure_task.done()

    def cancel_measurement(self) -> None:
        if self.measuring:
            self.measure_task.cancel()
        self.measure_task = None

    def abandon_current(self) -> None:
        """The open session of this tablet will not take place: kept in the store, never uploaded. A request a
        remote doctor may have seen is withdrawn (sync.store.live): the sync loop is woken to send that now."""
        session_id = self.state.session_id
        if session_id and self.store.get_session(session_id)["state"] == "open":
            self.store.abandon_session(session_id)
            self.claims.release_session(session_id)
            if self.state.request_kind:
                self.on_saved(session_id)

    # -- the session so far, to the remote doctor ---------------------------------------------------------------
    def send_live(self, session_id: str) -> None:
        """Once a request was sent for the session, what was just stored goes to the remote doctor: the session so
        far is queued (sync.live) and the sync loop woken, so it reaches the server within seconds while online."""
        queue = getattr(self.store, "queue_live_update", None)
        if queue is not None and queue(session_id) is not None:
            self.on_saved(session_id)

    # -- the resident's usual values --------------------------------------------------------------------------
    def usual_values(self) -> dict[str, Any]:
        """The selected resident's usual value per LOINC code (sync.store.history.Usual), the session in progress
        left out; empty without a resident or a store that keeps no history."""
        patient = self.state.patient
        if not patient or not hasattr(self.store, "usual_values"):
            return {}
        return self.store.usual_values(patient["id"], exclude_session=self.state.session_id)

    def baselines(self) -> dict[str, Any]:
        """What the clinical rules compare with: LOINC code → usual value (Decimal, the rules' unit)."""
        return {code: usual.value for code, usual in self.usual_values().items()}

    def load_site(self) -> None:
        site_id = self.store.get_setting("site_id")
        self.state.site = self.store.get_site(site_id) if site_id else None

    def staff_without_pin_hash(self, staff_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.store.get_staff(staff_id).items() if k != "pin_hash"}
