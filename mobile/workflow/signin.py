"""Staff sign-in by PIN, the idle lock (the PIN pad covers the step, which is kept) and sign-out."""
from __future__ import annotations

import datetime as dt
from typing import Any

from mobile.workflow.context import WorkflowContext
from mobile.workflow.resume import CLEARED
from mobile.workflow.state import WorkflowError
from sync.store import PinLockedError

DEFAULT_IDLE_LOCK_SECONDS = 120.0
MIN_IDLE_LOCK_SECONDS = 15.0


def locked_out(remaining: dt.timedelta) -> WorkflowError:
    """Too many wrong PINs: how long to wait, in seconds under a minute, else in whole minutes (rounded up)."""
    seconds = max(1, int(remaining.total_seconds() + 0.999))
    if seconds < 60:
        return WorkflowError("signin.locked_out.seconds", "pin", n=seconds)
    return WorkflowError("signin.locked_out.minutes", "pin", n=(seconds + 59) // 60)


class SigninStep:
    def __init__(self, ctx: WorkflowContext) -> None:
        self.ctx = ctx

    def staff_members(self) -> list[dict[str, Any]]:
        """Who can sign in on this tablet: active staff with a PIN, without their PIN hashes."""
        return [{k: v for k, v in m.items() if k != "pin_hash"}
                for m in self.ctx.store.list_staff(active_only=True) if m.get("pin_hash")]

    def sign_in(self, staff_id: str, pin: str) -> None:
        """PIN sign-in (or unlock: the step and the session in progress are kept; another staff member may take
        over). Wrong PIN, locked account: WorkflowError with the reason."""
        ctx = self.ctx
        try:
            ok = ctx.store.verify_pin(staff_id, pin)
        except PinLockedError as exc:
            raise locked_out(exc.remaining) from exc
        except ValueError as exc:  # unknown or inactive account, no PIN
            raise WorkflowError.refused_by_store(exc) from exc
        if not ok:
            raise WorkflowError("signin.pin_wrong", "pin")
        ctx.store.actor = staff_id  # what they do from now on is traced under their name (audit log)
        member = ctx.staff_without_pin_hash(staff_id)
        ctx.last_activity = ctx.monotonic()
        ctx.load_site()
        if ctx.state.locked:
            ctx.changed(staff=member, locked=False, notice=None)
            return
        step = "site_setup" if ctx.state.site is None else "patient"
        ctx.changed(staff=member, locked=False, step=step, notice=None)

    def sign_out(self) -> None:
        """End of shift: back to the PIN screen. A session in progress stays open in the store."""
        ctx = self.ctx
        ctx.cancel_measurement()
        if ctx.state.staff is not None:
            ctx.store.record_sign_out(ctx.state.staff["id"])
        ctx.store.actor = None
        ctx.changed(step="signin", staff=None, locked=False, notice=None, **CLEARED)

    @property
    def idle_lock_seconds(self) -> float:
        try:
            return max(MIN_IDLE_LOCK_SECONDS, float(self.ctx.store.get_setting("idle_lock_seconds",
                                                                               str(int(DEFAULT_IDLE_LOCK_SECONDS)))))
        except ValueError:
            return DEFAULT_IDLE_LOCK_SECONDS

    def touch(self) -> None:
        """Staff did something: the idle timer starts again."""
        self.ctx.last_activity = self.ctx.monotonic()

    def lock(self) -> None:
        """Cover the screen with the PIN pad; the step, the patient and the session are kept."""
        ctx = self.ctx
        if ctx.state.staff is not None and not ctx.state.locked:
            ctx.store.record_sign_out(ctx.state.staff["id"], "locked")
            ctx.changed(locked=True)

    def call_running(self) -> bool:
        state = self.ctx.state
        return state.call_started_at is not None and state.call_ended_at is None and state.session_id is not None

    def idle_due(self) -> bool:
        """Nothing happened for `idle_lock_seconds`, and nothing is running that the lock would interrupt: a
        measurement, or the call with the remote doctor (staff talk and listen; they do not touch the tablet)."""
        ctx = self.ctx
        if ctx.state.staff is None or ctx.state.locked or ctx.measuring or self.call_running():
            return False
        return ctx.monotonic() - ctx.last_activity >= self.idle_lock_seconds

    def check_idle(self) -> bool:
        """Lock when idle (see idle_due). True if it locked."""
        if self.idle_due():
            self.lock()
            return True
        return False
