"""Administration (administrators only): staff accounts, PIN resets, the audit log, the retention delay and the
probable duplicates among the residents."""
from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from mobile.screens.widgets import ModelScreen, load_kv


class StaffRow(BoxLayout):
    """One account in the administration list (RecycleView view class)."""

    vm = ObjectProperty(None, allownone=True)
    staff_id = StringProperty("")
    name = StringProperty("")
    role = StringProperty("")
    active = BooleanProperty(True)
    locked = BooleanProperty(False)
    is_me = BooleanProperty(False)
    is_admin = BooleanProperty(False)


class DuplicateRow(BoxLayout):
    """One probable duplicate pair in the administration list (RecycleView view class)."""

    vm = ObjectProperty(None, allownone=True)
    pair_id = StringProperty("")
    reason = StringProperty("")
    kept = ObjectProperty(None, allownone=True)
    merged = ObjectProperty(None, allownone=True)


class AdminScreen(ModelScreen):
    def add_staff(self) -> bool:
        ids = self.ids
        done = self.vm.add_staff(ids.new_name.text.strip(), ids.new_role.selected or "", ids.new_pin.text.strip(),
                                 ids.new_admin.active)
        if done:
            ids.new_name.text = ids.new_pin.text = ""
            ids.new_admin.active = False
        return done

    def reset_pin(self) -> bool:
        done = self.vm.reset_pin(self.ids.reset_pin.text.strip())
        self.ids.reset_pin.text = ""
        return done


load_kv("admin.kv")
