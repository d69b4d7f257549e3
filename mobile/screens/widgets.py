"""Shared widgets (big buttons, choice rows, panels, drawn icons, top bar, patient banner) and kv loading.

Their look lives in assets/kv/common.kv, loaded once when this module is imported.
"""
from __future__ import annotations

import math
from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.graphics import Color, Ellipse, Line, RoundedRectangle
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import Screen
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from mobile.screens import theme
from mobile.screens.lazy import LazyScreenManager  # noqa: F401 - the root's screen manager in common.kv

KV_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "kv"


def load_kv(name: str) -> None:
    """Load assets/kv/<name> once per process (a second load would duplicate every rule)."""
    path = str(KV_DIR / name)
    if path not in Builder.files:
        Builder.load_file(path)


class BigButton(ButtonBehavior, Label):
    """A rounded, full-colour button: ≥ 72dp high, wrapping text, darker while pressed."""

    bg = ColorProperty(theme.PRIMARY)
    bg_down = ColorProperty(theme.PRIMARY_DOWN)
    fg = ColorProperty(theme.ON_DARK)
    border = ColorProperty([0, 0, 0, 0])


class ChoiceButton(ButtonBehavior, Label):
    """One option of a :class:`ChoiceRow` (sex, identity status, language)."""

    value = StringProperty("")
    selected = BooleanProperty(False)


class _ChoiceGroup:
    """Mutually exclusive :class:`ChoiceButton` children; `selected` holds the chosen value. Kept per instance
    (no global ToggleButton groups, which leak between app instances)."""

    selected = StringProperty("")

    def add_widget(self, widget, *args, **kwargs):
        if isinstance(widget, ChoiceButton):
            # kv sets a child's `value` after adding it: follow it
            widget.fbind("on_release", self._chosen)
            widget.fbind("value", self._refresh)
            widget.selected = widget.value == self.selected
        return super().add_widget(widget, *args, **kwargs)

    def _chosen(self, button: ChoiceButton) -> None:
        self.selected = button.value

    def _refresh(self, *_args) -> None:
        for child in self.children:
            if isinstance(child, ChoiceButton):
                child.selected = child.value == self.selected

    def on_selected(self, *_args) -> None:
        self._refresh()


class ChoiceRow(_ChoiceGroup, BoxLayout):
    """A row of mutually exclusive choices (sex, identity status, language)."""


class ChoiceGrid(_ChoiceGroup, GridLayout):
    """The same, on several lines when the options do not fit one (staff roles)."""


class BigInput(TextInput):
    """Single-line input with a large font; Enter moves to `next_focus` when set."""

    next_focus = ObjectProperty(None, allownone=True)

    def on_text_validate(self) -> None:
        if self.next_focus is not None:
            self.next_focus.focus = True


class Panel(BoxLayout):
    """A coloured box with a left accent stripe (error, warning, success, info)."""

    bg = ColorProperty(theme.SURFACE)
    accent = ColorProperty(theme.BORDER)


class Collapsible(BoxLayout):
    """Takes its content's height when `shown`, nothing (and no touches) otherwise."""

    shown = BooleanProperty(True)

    # Hidden content overflows a zero-height box and, being disabled, would swallow touches: ignore them.
    def on_touch_down(self, touch):
        return super().on_touch_down(touch) if self.shown else False

    def on_touch_move(self, touch):
        return super().on_touch_move(touch) if self.shown else False

    def on_touch_up(self, touch):
        return super().on_touch_up(touch) if self.shown else False


class WrapLabel(Label):
    """A label that wraps to its width and grows to its text's height."""


class ThermometerIcon(Widget):
    """A drawn thermometer (canvas instructions, scales with the widget); `level` 0..1 fills the column."""

    level = NumericProperty(0.6)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, level=self._draw)

    def _draw(self, *_args) -> None:
        self.canvas.clear()
        w, h = self.size
        cx = self.center_x
        stem = min(w * 0.22, h * 0.17)          # stem width
        bulb = stem * 1.9                         # bulb diameter
        bottom = self.y + h * 0.04
        top = self.top - h * 0.04
        bulb_cy = bottom + bulb / 2
        stem_x = cx - stem / 2
        stem_y = bulb_cy
        stem_h = top - stem_y
        line = max(dp(2.5), stem * 0.12)
        inner = stem * 0.45
        column_top = stem_y + (stem_h - stem / 2) * max(0.0, min(1.0, self.level))
        with self.canvas:
            Color(*theme.SURFACE)
            RoundedRectangle(pos=(stem_x, stem_y), size=(stem, stem_h), radius=[stem / 2])
            Ellipse(pos=(cx - bulb / 2, bulb_cy - bulb / 2), size=(bulb, bulb))
            Color(*theme.THERMO_RED)
            Ellipse(pos=(cx - bulb * 0.34, bulb_cy - bulb * 0.34), size=(bulb * 0.68, bulb * 0.68))
            RoundedRectangle(pos=(cx - inner / 2, bulb_cy), size=(inner, column_top - bulb_cy), radius=[inner / 2])
            Color(*theme.TEXT)
            theta = math.degrees(math.asin(min(1.0, stem / bulb)))
            join_y = bulb_cy + (bulb / 2) * math.cos(math.radians(theta))
            cap_y = top - stem / 2
            Line(points=[stem_x, join_y, stem_x, cap_y], width=line)
            Line(points=[stem_x + stem, join_y, stem_x + stem, cap_y], width=line)
            Line(circle=(cx, cap_y, stem / 2, -90, 90), width=line)
            Line(circle=(cx, bulb_cy, bulb / 2, theta, 360 - theta), width=line)
            for i in range(1, 6):  # graduation marks
                y = stem_y + bulb * 0.45 + (stem_h - bulb * 0.6) * i / 6
                Line(points=[cx + stem / 2 + line * 1.5, y, cx + stem / 2 + line * 1.5 + stem * (0.6 if i % 2 else 0.35), y],
                     width=line * 0.6)


class DeviceIcon(ThermometerIcon):
    """A drawn device for the measure screen: `kind` thermometer (the thermometer above), oximeter (a clip on a
    finger with its screen) or blood_pressure (a cuff on an upper arm with its gauge)."""

    kind = StringProperty("thermometer")

    def __init__(self, **kwargs):
        self._redraw = Clock.create_trigger(lambda _dt: self._draw_now())
        super().__init__(**kwargs)
        self.bind(kind=self._draw)

    def _draw(self, *_args) -> None:
        self._redraw()  # once per frame, after the layout has settled (several properties change together)

    def _draw_now(self) -> None:
        if self.kind == "oximeter":
            self._draw_oximeter()
        elif self.kind == "blood_pressure":
            self._draw_cuff()
        else:
            super()._draw()

    def _draw_oximeter(self) -> None:
        self.canvas.clear()
        w, h = self.size
        side = min(w, h * 0.8)
        cx, x0, y0 = self.center_x, self.center_x - side / 2, self.center_y - h / 2
        line = max(dp(1.5), side * 0.03)
        finger_w = side * 0.34
        clip_w, clip_h = side * 0.78, h * 0.36
        clip_y = y0 + h * 0.18
        with self.canvas:
            Color(*theme.SKIN)
            RoundedRectangle(pos=(cx - finger_w / 2, clip_y + clip_h * 0.3), size=(finger_w, y0 + h - clip_y - clip_h * 0.3),
                             radius=[finger_w / 2, finger_w / 2, 0, 0])
            Color(*theme.TEXT)
            Line(points=[cx - finger_w / 2, clip_y + clip_h, cx - finger_w / 2, y0 + h],
                 width=line)
            Line(points=[cx + finger_w / 2, clip_y + clip_h, cx + finger_w / 2, y0 + h], width=line)
            Color(*theme.PRIMARY)
            RoundedRectangle(pos=(x0 + (side - clip_w) / 2, clip_y), size=(clip_w, clip_h), radius=[side * 0.12])
            Color(*theme.TOPBAR)
            sw, sh = clip_w * 0.7, clip_h * 0.42
            sx, sy = cx - sw / 2, clip_y + clip_h * 0.14
            RoundedRectangle(pos=(sx, sy), size=(sw, sh), radius=[side * 0.04])
            Color(*theme.PULSE_GREEN)
            mid = sy + sh / 2
            Line(points=[sx + sw * 0.08, mid, sx + sw * 0.35, mid, sx + sw * 0.45, mid + sh * 0.32,
                         sx + sw * 0.55, mid - sh * 0.32, sx + sw * 0.65, mid, sx + sw * 0.92, mid],
                 width=max(dp(1.2), line * 0.8), joint="round")

    def _draw_cuff(self) -> None:
        self.canvas.clear()
        w, h = self.size
        side = min(w, h * 0.8)
        x0, y0 = self.center_x - side / 2, self.center_y - h / 2
        line = max(dp(1.5), side * 0.03)
        arm_w = side * 0.34
        arm_x = x0 + side * 0.12
        cuff_w, cuff_h = arm_w * 1.45, h * 0.3
        cuff_x, cuff_y = arm_x + arm_w / 2 - cuff_w / 2, y0 + h * 0.45
        gauge = side * 0.42
        gx, gy = x0 + side - gauge / 2, y0 + h * 0.2
        with self.canvas:
            Color(*theme.SKIN)
            RoundedRectangle(pos=(arm_x, y0 + h * 0.06), size=(arm_w, h * 0.94), radius=[arm_w / 2, arm_w / 2, 0, 0])
            Color(*theme.TEXT)
            Line(points=[arm_x + arm_w * 0.15, y0 + h * 0.3, arm_x + arm_w * 0.85, y0 + h * 0.3], width=line * 0.7)
            Color(*theme.PRIMARY)
            RoundedRectangle(pos=(cuff_x, cuff_y), size=(cuff_w, cuff_h), radius=[side * 0.05])
            Color(*theme.TEXT)
            Line(bezier=[cuff_x + cuff_w, cuff_y + cuff_h * 0.3, gx, cuff_y, gx, gy + gauge * 0.8, gx, gy + gauge / 2],
                 width=line)
            Color(*theme.SURFACE)
            Ellipse(pos=(gx - gauge / 2, gy - gauge / 2), size=(gauge, gauge))
            Color(*theme.TEXT)
            Line(circle=(gx, gy, gauge / 2), width=line)
            Color(*theme.THERMO_RED)
            Line(points=[gx, gy, gx + gauge * 0.28, gy + gauge * 0.22], width=line, cap="round")


class DeviceCard(ButtonBehavior, BoxLayout):
    """One device of the measure screen: its drawing, its name and its state in this session."""

    kind = StringProperty("thermometer")
    title = StringProperty("")
    state_text = StringProperty("")
    selected = BooleanProperty(False)
    done = BooleanProperty(False)      # a value is accepted for this session
    active = BooleanProperty(False)    # being measured


class CheckIcon(Widget):
    """A filled circle with a tick, drawn with canvas instructions."""

    colour = ColorProperty(theme.SUCCESS)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, colour=self._draw)

    def _draw(self, *_args) -> None:
        self.canvas.clear()
        d = min(self.size)
        x, y = self.center_x - d / 2, self.center_y - d / 2
        with self.canvas:
            Color(*self.colour)
            Ellipse(pos=(x, y), size=(d, d))
            Color(*theme.ON_DARK)
            Line(points=[x + d * 0.27, y + d * 0.52, x + d * 0.44, y + d * 0.34, x + d * 0.74, y + d * 0.66],
                 width=max(dp(3), d * 0.07), cap="round", joint="round")


class StatusBadge(Label):
    status = StringProperty("")


class CheckRow(ButtonBehavior, BoxLayout):
    """A whole-row checkbox (72dp high, the label is part of the target: gloves)."""

    active = BooleanProperty(False)
    text = StringProperty("")

    def on_release(self) -> None:
        self.active = not self.active


class BigText(TextInput):
    """A multi-line text field (notes, conclusions, summary)."""


class TopBar(BoxLayout):
    sync = ObjectProperty(None, rebind=True)
    shell = ObjectProperty(None, rebind=True)


class StaffMenuButton(ButtonBehavior, BoxLayout):
    """Who is signed in, in the top bar; a tap offers to lock the screen, sign out, or (administrators) manage
    the tablet."""

    shell = ObjectProperty(None, rebind=True)
    shown = BooleanProperty(False)
    menu = None

    def on_release(self) -> None:
        if self.shell is not None and self.shell.staff_name and not self.shell.locked:
            self.menu = StaffMenu(shell=self.shell)
            self.menu.open()


def unbind_tree(widget) -> None:
    """Drop the kv bindings of a widget and its children (those the global translator holds included): for pop-ups,
    which live outside the app's root and would otherwise stay bound after they close."""
    for child in widget.walk(restrict=True):
        Builder.unbind_widget(child.uid)


class TransientModal(ModalView):
    """A pop-up that drops its kv bindings once closed (see unbind_tree)."""

    def on_dismiss(self) -> None:
        Clock.schedule_once(lambda _dt: unbind_tree(self), 0)


class StaffMenu(TransientModal):
    shell = ObjectProperty(None, rebind=True)

    def run(self, action: str) -> None:
        self.dismiss()
        getattr(self.shell, action)()


class SyncPill(ButtonBehavior, BoxLayout):
    """The sync state in the top bar; when sessions were refused, a tap lists them with the server's reason."""

    roomy = BooleanProperty(True)   # landscape sizes; a narrow (portrait) window uses smaller type
    sync = ObjectProperty(None, rebind=True)
    shell = ObjectProperty(None, rebind=True)
    panel = None

    def on_release(self) -> None:
        # the list names patients: only for a signed-in, unlocked staff member, never over the PIN pad
        signed_in = self.shell is not None and bool(self.shell.staff_name) and not self.shell.locked
        if self.sync is not None and self.sync.rejected and signed_in:
            self.panel = RejectedPanel(sync=self.sync)
            self.panel.open()


class RejectedPanel(TransientModal):
    sync = ObjectProperty(None, rebind=True)


class PatientBanner(BoxLayout):
    """Who the readings are for, on every clinical screen: the whole name (never shortened), age, room, identity
    status. The name takes at most two lines: the largest of NAME_SIZES that fits them is used."""

    NAME_SIZES = ("32sp", "28sp", "24sp", "20sp")
    NAME_LINES = 2
    shell = ObjectProperty(None, rebind=True)
    show_change = BooleanProperty(True)
    name_font_size = StringProperty(NAME_SIZES[0])

    def fit_name(self) -> None:
        label = self.ids.get("banner_name")
        if label is None or label.width <= 1 or not label.text:
            return
        from kivy.core.text import Label as CoreLabel
        from kivy.metrics import sp

        def height(text: str, size: str, width) -> int:
            core = CoreLabel(text=text, font_size=sp(float(size.removesuffix("sp"))), bold=True,
                             font_name=label.font_name, text_size=(width, None), halign="left")
            core.refresh()
            return core.texture.size[1]

        for size in self.NAME_SIZES:
            if height(label.text, size, label.width) <= self.NAME_LINES * height("Ag", size, None) + 1:
                break
        self.name_font_size = size
    popup = None

    def ask_leave(self) -> None:
        """"Change patient" never drops an open session in one tap: a pop-up says it stays open (and the call
        goes on), "Stay" being the safe choice."""
        if self.shell is None:
            return
        if not self.shell.session_open:
            self.shell.change_patient()
            return
        self.popup = LeavePopup(shell=self.shell, call_time=self.shell.call_time())
        self.popup.open()


class LeavePopup(TransientModal):
    shell = ObjectProperty(None, rebind=True)
    call_time = StringProperty("")
    abandon_popup = None

    def leave(self) -> None:
        self.dismiss()
        self.shell.change_patient()

    def ask_abandon(self) -> None:
        self.dismiss()
        self.abandon_popup = AbandonPopup(shell=self.shell)
        self.abandon_popup.open()


class AbandonPopup(TransientModal):
    """Abandoning a session is its own act, confirmed here: it ends, nothing of it is sent, it cannot be resumed."""

    shell = ObjectProperty(None, rebind=True)

    def abandon(self) -> None:
        self.dismiss()
        self.shell.abandon()


class RelaisRoot(BoxLayout):
    shell = ObjectProperty(None, rebind=True)
    sync = ObjectProperty(None, rebind=True)


class ModelScreen(Screen):
    """A screen bound to its own view model (`vm`, mobile.screens.viewmodels) and the shared one (`shell`)."""

    vm = ObjectProperty(None, rebind=True)
    shell = ObjectProperty(None, rebind=True)


load_kv("common.kv")
