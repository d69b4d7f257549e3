"""Helpers for the UI tests (tests/test_ui_*.py): run the real app on the test's asyncio loop, tap widgets
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

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "tests" / "_artifacts" / "screenshots"
LANDSCAPE = (1280, 800)
PORTRAIT = (800, 1280)


def make_runtime(tmp_path: Path, scenario: str = "normal") -> AppRuntime:
    """The real runtime: real store in tmp_path, simulated Bluetooth thermometer, no server."""
    return AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db", server_url=None, simulated_devices=True,
                                    thermometer_scenario=scenario))


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
                       and EventLoop.window is not None, what="app start")
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
