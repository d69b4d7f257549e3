"""Helpers for the UI tests (tests/mobile/test_ui_*.py): run the real app on the test's asyncio loop, tap widgets
through the window, wait for states, save screenshots."""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.tests.common import UnitTestTouch

from mobile.app import RelaisApp
from mobile.i18n import tr
from mobile.runtime import AppRuntime, RuntimeConfig

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "_artifacts" / "screenshots"
LANDSCAPE = (1280, 800)
PORTRAIT = (800, 1280)


def make_runtime(tmp_path: Path, scenario: str = "normal", *, signed_in: bool = True, **config) -> AppRuntime:
    """The real runtime: real store in tmp_path, simulated Bluetooth devices, no server. `signed_in`: the tablet
    is set up (a site, a nursing aide with PIN 2468) and she is signed in, so the app opens on the patient list."""
    runtime = AppRuntime(RuntimeConfig(**{"store_path": tmp_path / "relais.db", "server_url": None,
                                          "simulated_devices": True, "thermometer_scenario": scenario, **config}))
    if signed_in:
        prepare(runtime)
    return runtime


def prepare(runtime: AppRuntime) -> None:
    from tests.support.workflow import sign_in

    sign_in(runtime.workflow)


def begin_session(runtime: AppRuntime, traits: dict) -> None:
    """Before the app starts: the patient created and the session started (consent, checklist) in plain Python."""
    from tests.support.workflow import start

    runtime.workflow.create_patient(**{k: v for k, v in traits.items()})
    start(runtime.workflow)


async def start_session_by_taps(app: RelaisApp, *, shot: str | None = None) -> None:
    """On the session-start screen: a quick reason, consent given by the patient, the three checklist items."""
    start = screen(app, "session_start")
    await wait_for(lambda: app.screen_manager.current == "session_start", what="the session start screen")
    await frames(2)
    chips = [w for w in start.walk() if type(w).__name__ == "ReasonChip"]
    await tap(chips[0])
    await tap(start.ids.consent_given)
    for key in ("room_closed", "device_hygiene", "accessibility"):
        await tap(start.ids[key])
    if shot:
        await screenshot(app, shot)
    await tap(start.ids.start)
    await wait_for(lambda: app.screen_manager.current == "measure", what="the measure screen")


async def finish_session_by_taps(app: RelaisApp, *, shots: str | None = None) -> None:
    """From the vitals screen to the saved one: respiration rate, alert, room air; the call; the summary."""
    sm = app.screen_manager
    await wait_for(lambda: sm.current == "vitals", what="the vitals screen")
    vitals = screen(app, "vitals")
    await frames(2)
    await type_into(vitals.ids.rr, "16")
    await tap(next(b for b in vitals.ids.acvpu.children if b.value == "A"))
    await tap(next(b for b in vitals.ids.oxygen.children if b.value == "no"))
    if shots:
        await screenshot(app, f"{shots}-vitals")
    await tap(vitals.ids.confirm)
    await wait_for(lambda: sm.current == "teleconsult", what="the teleconsultation screen")
    call = screen(app, "teleconsult")
    await frames(2)
    await type_into(call.ids.doctor, "Dr Marc Téléconsultant")
    await tap(call.ids.start_call)
    await frames(3)
    await type_into(call.ids.conclusion, "Pas de signe de gravité. Surveillance de la température.")
    await tap(next(w for w in call.walk() if getattr(w, "value", None) == "stay"))
    if shots:
        await screenshot(app, f"{shots}-teleconsult")
    await tap(call.ids.end_call)
    await wait_for(lambda: sm.current == "summary", what="the summary screen")
    if shots:
        await screenshot(app, f"{shots}-summary")
    await tap(screen(app, "summary").ids.no_gp)  # no médecin traitant: the report goes to no one by secure mail
    await tap(screen(app, "summary").ids.close)
    await wait_for(lambda: sm.current == "saved", what="the saved screen")


async def wait_for(condition, timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def frames(n: int = 3) -> None:
    """Let the app's main loop (a task on this loop) render `n` more frames."""
    target = Clock.frames_displayed + n
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while Clock.frames_displayed < target and loop.time() < deadline:
        await asyncio.sleep(0.004)


async def tap(widget, *, settle: int = 2) -> None:
    """A real touch at the widget's centre: Window → widget tree → collide_point → on_press/on_release."""
    assert widget.get_root_window() is not None, f"{widget} is not on screen"
    assert not widget.disabled, f"{widget} is disabled"
    from kivy.uix.scrollview import ScrollView
    parent = widget.parent
    while parent is not None and parent is not parent.parent:
        if isinstance(parent, ScrollView):  # a finger scrolls first: bring the widget into view
            await _scroll_into_view(parent, widget)
            break
        parent = parent.parent
    # a screen that just changed may still be laying out (texts growing, cards resizing): touch where the widget
    # settles, not where it was a frame ago, or the touch lands on its neighbour
    x, y = widget.to_window(*widget.center)
    for _ in range(20):
        await frames(1)
        settled = widget.to_window(*widget.center)
        if settled == (x, y):
            break
        x, y = settled
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    await frames(1)
    touch.touch_up()
    await frames(settle)


async def _scroll_into_view(view, widget) -> None:
    for _ in range(4):
        await frames(1)
        _, wy = widget.to_window(*widget.center)
        _, bottom = view.parent.to_window(view.x, view.y)
        top = bottom + view.height
        if bottom + widget.height / 2 <= wy <= top - widget.height / 2:
            return
        extra = view.children[0].height - view.height if view.children else 0
        if extra <= 0:
            return
        view.scroll_y = min(1.0, max(0.0, view.scroll_y + (wy - (bottom + top) / 2) / extra))
        await frames(2)


async def type_into(text_input, text: str) -> None:
    """Focus the field by touching it, then type as a keyboard would (insert_text goes through input_filter)."""
    await tap(text_input, settle=1)
    text_input.select_all()
    text_input.delete_selection()
    text_input.insert_text(text)
    await frames(1)


@contextlib.asynccontextmanager
async def running_app(runtime: AppRuntime, size=LANDSCAPE, lang: str = "fr"):
    """Start RelaisApp.run_async() as a task of the test's loop; stop it (and the runtime) on exit."""
    tr.switch_lang(lang)
    app = RelaisApp(runtime, window_size=size)
    task = asyncio.get_running_loop().create_task(app.run_async())
    try:
        await wait_for(lambda: app.root is not None and app.start_task is not None and app.start_task.done()
                       and EventLoop.window is not None, timeout=30, what="app start")
        await frames(3)
        yield app
    finally:
        if not task.done():
            app.stop()
        await asyncio.wait_for(task, timeout=10)
        tr.switch_lang("fr")


def screen(app: RelaisApp, name: str):
    return app.screen_manager.get_screen(name)


async def screenshot(app: RelaisApp, name: str) -> Path:
    await frames(3)
    return app.save_screenshot(SHOTS / f"{name}.png")


def small_touch_targets(app: RelaisApp, minimum: str = "72dp") -> list[str]:
    """Visible, enabled buttons and inputs of the top bar and the current screen smaller than `minimum`."""
    from kivy.metrics import dp
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.textinput import TextInput

    limit = dp(float(minimum.removesuffix("dp"))) - 0.5
    widgets = [*app.root.ids.topbar.walk(restrict=True), *app.screen_manager.current_screen.walk(restrict=True)]
    too_small = []
    for w in widgets:
        if isinstance(w, (ButtonBehavior, TextInput)) and not w.disabled and w.opacity > 0 and w.height > 0:
            if w.height < limit or w.width < limit:
                too_small.append(f"{type(w).__name__} {getattr(w, 'text', '')!r} {w.size}")
    return too_small


def clipped_texts(app: RelaisApp) -> list[str]:
    """Visible texts of the top bar and the current screen that do not fit their widget: a one-line label wider
    than its box, or a wrapped text taller than its box (measured by laying it out again at the box's width).
    Labels that shorten on purpose (a long name ends with "…") are left out, and so is what a ScrollView scrolls."""
    from kivy.core.text import Label as CoreLabel
    from kivy.uix.label import Label

    def hidden(widget) -> bool:
        node = widget
        while node is not None and node is not app.root:
            if node.opacity == 0 or node.height <= 1 or node.width <= 1:
                return True
            node = node.parent
        return False

    found = []
    for w in [*app.root.ids.topbar.walk(restrict=True), *app.screen_manager.current_screen.walk(restrict=True)]:
        if not isinstance(w, Label) or not w.text.strip() or w.shorten or hidden(w):
            continue
        name = f"{type(w).__name__} {w.text[:40]!r}"
        if w.text_size[0] is None:
            if w.texture_size[0] > w.width + 2 or w.texture_size[1] > w.height + 2:
                found.append(f"{name}: needs {w.texture_size}, has {tuple(w.size)}")
            continue
        core = CoreLabel(text=w.text, font_size=w.font_size, bold=w.bold, italic=w.italic, font_name=w.font_name,
                         text_size=(w.text_size[0], None), padding=w.padding, line_height=w.line_height,
                         halign=w.halign, markup=w.markup)
        core.refresh()
        need = core.texture.size[1]
        room = w.text_size[1] if w.text_size[1] is not None else w.height
        if need > min(room, w.height) + 2:
            found.append(f"{name}: needs {need:.0f} px high, has {min(room, w.height):.0f}")
    found += [f"{type(w).__name__} {getattr(w, 'text', '')[:40]!r}: outside the window"
              for w in app.root.ids.topbar.children if _outside_window(w)]
    return found


def _outside_window(widget) -> bool:
    """A top-bar control pushed (partly) off the screen: its box leaves the window."""
    from kivy.core.window import Window

    left, bottom = widget.to_window(widget.x, widget.y)
    return widget.width > 1 and (left < -1 or bottom < -1 or left + widget.width > Window.width + 1
                                 or bottom + widget.height > Window.height + 1)
