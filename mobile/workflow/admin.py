"""Administration of the tablet, for its administrators only: staff accounts (create, new PIN, deactivate,
administration rights), the audit log (chain check, CSV export), how long sent sessions stay on the tablet, and the
probable duplicates among the residents (two records of one person, created apart) to merge."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import WorkflowError
from sync import audit, retention
from sync.store.duplicates import survivor_of

RETENTION_RANGE = (1, 30)
ADMIN_REACHABLE_FROM = ("patient", "saved", "admin")


class AdminStep:
    def __init__(self, ctx: WorkflowContext) -> None:
        self.ctx = ctx

    def open_admin(self) -> None:
        """The administration screen, from the patient list only: never in the middle of someone's session. An
        administrator whose PIN is too short opens it too, to choose a longer one first."""
        self.ctx.require_admin(pin_ready=False)
        if self.ctx.state.step not in ADMIN_REACHABLE_FROM:
            raise WorkflowError("session.finish_or_abandon_first")
        self.ctx.changed(step="admin", notice=None)

    def own_pin_needed(self) -> bool:
        """The signed-in administrator must choose a longer PIN before administering."""
        staff = self.ctx.require_admin(pin_ready=False)
        return not staff.get("pin_admin_ready")

    def change_own_pin(self, pin: str) -> None:
        """The signed-in administrator's own new PIN (ADMIN_PIN_DIGITS digits at least)."""
        staff = self.ctx.require_admin(pin_ready=False)
        try:
            self.ctx.store.set_pin(staff["id"], pin)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        self.ctx.state.staff = self.ctx.staff_without_pin_hash(staff["id"])

    def close_admin(self) -> None:
        if self.ctx.state.step == "admin":
            self.ctx.changed(step="patient")

    def staff_overview(self) -> list[dict[str, Any]]:
        """Every account with its state (active, locked out until, PIN set), never the PIN hash."""
        self.ctx.require_admin()
        rows = []
        for member in self.ctx.store.list_staff():
            locked = self.ctx.store.pin_locked(member["id"])
            rows.append({"id": member["id"], "display_name": member["display_name"], "role": member["role"],
                         "active": bool(member["active"]), "locked": locked, "has_pin": bool(member["pin_hash"]),
                         "is_admin": bool(member["is_admin"])})
        return rows

    def add_staff_member(self, *, display_name: str, role: str, pin: str, is_admin: bool = False) -> str:
        self.ctx.require_admin()
        try:
            return self.ctx.store.add_staff(display_name=display_name, role=role, pin=pin, is_admin=is_admin)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc

    def reset_staff_pin(self, staff_id: str, pin: str) -> None:
        """A new PIN for a colleague who forgot theirs or is locked out (the lock-out ends with it)."""
        admin = self.ctx.require_admin()
        try:
            self.ctx.store.reset_pin(admin["id"], staff_id, pin)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc

    def _only_admin(self, staff_id: str) -> bool:
        admins = [m["id"] for m in self.ctx.store.list_staff(active_only=True) if m["is_admin"]]
        return admins == [staff_id]

    def set_staff_active(self, staff_id: str, active: bool) -> None:
        """Deactivate someone who left (their past sessions keep their name), or bring them back. The last active
        administrator cannot be deactivated: nobody could manage the tablet any more."""
        admin = self.ctx.require_admin()
        if not active:
            if self._only_admin(staff_id):
                raise WorkflowError("admin.last_administrator")
            if staff_id == admin["id"]:
                raise WorkflowError("admin.own_account")
        try:
            self.ctx.store.set_staff_active(staff_id, active)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc

    def set_staff_admin(self, staff_id: str, is_admin: bool) -> None:
        """Grant or withdraw the right to manage the tablet (never from the last administrator, nor oneself)."""
        admin = self.ctx.require_admin()
        if not is_admin:
            if staff_id == admin["id"]:
                raise WorkflowError("admin.own_rights")
            if self._only_admin(staff_id):
                raise WorkflowError("admin.last_administrator")
        try:
            self.ctx.store.set_staff_admin(staff_id, is_admin)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc

    def audit_check(self) -> audit.ChainCheck:
        """Whether the audit log's hash chain is whole."""
        self.ctx.require_admin()
        return audit.verify(self.ctx.store)

    def export_audit(self, directory: str | Path) -> Path:
        """Write the audit log as CSV into `directory` (owner-only file) and return its path."""
        admin = self.ctx.require_admin()
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"journal-audit-{self.ctx.clock().astimezone():%Y%m%d-%H%M%S}.csv"
        try:
            self.ctx.store.export_audit_csv(admin["id"], path)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc
        return path

    def duplicate_pairs(self) -> list[dict[str, Any]]:
        """The probable duplicates waiting for a decision: {id, reason, kept, merged} where `kept` is the record a
        merge keeps (the qualified one, else the older) and `merged` the one it marks merged into it."""
        self.ctx.require_admin()
        pairs = []
        for pair in self.ctx.store.open_duplicates():
            kept, merged = survivor_of(pair["a"], pair["b"])
            pairs.append({"id": pair["id"], "reason": pair["reason"], "kept": kept, "merged": merged})
        return pairs

    def merge_duplicates(self, pair_id: str) -> str:
        """Merge a pair (after staff confirmed): returns the id of the record kept."""
        self.ctx.require_admin()
        try:
            return self.ctx.store.merge_duplicates(pair_id)
        except ValueError as exc:
            raise WorkflowError.refused_by_store(exc) from exc

    @property
    def retention_days(self) -> int:
        return retention.retention_days(self.ctx.store)

    def set_retention_days(self, days: int) -> None:
        """How long a session stays on the tablet once the server confirmed it (1 to 30 days)."""
        self.ctx.require_admin()
        low, high = RETENTION_RANGE
        if not isinstance(days, int) or not low <= days <= high:
            raise WorkflowError("admin.retention_range", "retention_days", min=low, max=high)
        self.ctx.store.set_setting("retention_days", str(days))
