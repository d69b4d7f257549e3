"""The administration screen: the accounts, the audit log's state, the retention delay, and what the last action
did (a key of texts.ADMIN_DONE) or why it was refused."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty

from mobile.screens.viewmodels.base import ScreenModel, attempt
from mobile.workflow import WorkflowError

EXPORTS_FOLDER = "exports"   # next to the store


class AdminModel(ScreenModel):
    staff = ListProperty([])             # RecycleView data: one dict per account
    error = ObjectProperty(None, allownone=True)
    message = StringProperty("")         # what the last action did: a key of texts.ADMIN_DONE
    export_path = StringProperty("")
    pin_for = StringProperty("")         # the account whose new PIN is being typed
    pin_for_name = StringProperty("")
    audit_ok = BooleanProperty(True)
    audit_rows = NumericProperty(0)
    audit_bad_seq = NumericProperty(0)
    retention_days = NumericProperty(7)
    duplicates = ListProperty([])        # RecycleView data: one dict per probable duplicate pair
    merge_pair = ObjectProperty(None, allownone=True)  # the pair whose merge waits for confirmation
    own_pin = BooleanProperty(False)     # the signed-in administrator must choose a longer PIN first

    def on_step(self, step: str, previous: str) -> None:
        if step == "admin":
            self.error, self.message, self.pin_for, self.pin_for_name, self.export_path = None, "", "", "", ""
            self.merge_pair = None
            self.own_pin = self.workflow.own_pin_needed()
            if self.own_pin:  # their own PIN first: the rest of the screen waits for it
                me = self.workflow.state.staff or {}
                self.pin_for, self.pin_for_name = me.get("id", ""), me.get("display_name", "")
                return
            self.refresh()

    def refresh(self) -> None:
        try:
            members = self.workflow.staff_overview()
            check = self.workflow.audit_check()
            pairs = self.workflow.duplicate_pairs()
        except WorkflowError as exc:
            self.error = exc
            return
        me = (self.workflow.state.staff or {}).get("id")
        self.staff = [{"staff_id": m["id"], "name": m["display_name"], "role": m["role"], "active": m["active"],
                       "locked": m["locked"], "is_me": m["id"] == me, "is_admin": m["is_admin"], "vm": self}
                      for m in members]
        self.audit_ok, self.audit_rows = check.ok, check.rows
        self.audit_bad_seq = check.first_bad_seq or 0
        self.retention_days = self.workflow.retention_days
        self.duplicates = [{"pair_id": p["id"], "reason": p["reason"], "kept": p["kept"], "merged": p["merged"],
                            "vm": self} for p in pairs]

    def _run(self, action: Callable[[], object], message: str) -> bool:
        self.message = ""
        if not attempt(self, "error", action):
            return False
        self.message = message
        self.refresh()
        return True

    def close(self) -> None:
        self.workflow.close_admin()

    def open_devices(self) -> bool:
        """The tablet's device kit, on its own screen."""
        return attempt(self, "error", self.workflow.open_devices)

    def add_staff(self, name: str, role: str, pin: str, is_admin: bool = False) -> bool:
        return self._run(lambda: self.workflow.add_staff_member(display_name=name, role=role, pin=pin,
                                                                is_admin=is_admin), "created")

    def set_admin(self, staff_id: str, is_admin: bool) -> bool:
        return self._run(lambda: self.workflow.set_staff_admin(staff_id, is_admin),
                         "admin_granted" if is_admin else "admin_withdrawn")

    def choose_pin_for(self, staff_id: str, name: str) -> None:
        self.pin_for, self.pin_for_name = staff_id, name
        self.error, self.message = None, ""

    def reset_pin(self, pin: str) -> bool:
        staff_id = self.pin_for
        if self.own_pin:
            done = self._run(lambda: self.workflow.change_own_pin(pin), "own_pin")
            self.own_pin = not done
        else:
            done = self._run(lambda: self.workflow.reset_staff_pin(staff_id, pin), "pin")
        if done:
            self.pin_for = self.pin_for_name = ""
        return done

    def set_active(self, staff_id: str, active: bool) -> bool:
        return self._run(lambda: self.workflow.set_staff_active(staff_id, active),
                         "reactivated" if active else "deactivated")

    def set_retention(self, days: int) -> bool:
        return self._run(lambda: self.workflow.set_retention_days(int(days)), "retention")

    def export(self) -> bool:
        folder = Path(self.workflow.store.path).parent / EXPORTS_FOLDER
        written: list[Path] = []
        done = self._run(lambda: written.append(self.workflow.export_audit(folder)), "exported")
        self.export_path = str(written[0]) if done else ""
        return done

    def ask_merge(self, pair_id: str) -> None:
        """Show the confirmation for merging this pair (nothing is merged before it)."""
        self.error, self.message = None, ""
        self.merge_pair = next((p for p in self.duplicates if p["pair_id"] == pair_id), None)

    def cancel_merge(self) -> None:
        self.merge_pair = None

    def confirm_merge(self) -> bool:
        pair = self.merge_pair
        if pair is None:
            return False
        self.merge_pair = None
        return self._run(lambda: self.workflow.merge_duplicates(pair["pair_id"]), "merged")
