"""The Relais Kivy application: a top bar (sync state, language) over one screen per workflow step.

Run it on the asyncio loop — Kivy's main loop, the simulated/real Bluetooth stack and the store all share one
thread::

    run_app(RuntimeConfig(store_path=...))                                   # the product
    run_app(config, scenario=SCENARIOS["fever"], screenshots_dir=Path("shots"))  # a training session, PNGs, exit

Screens never hold domain logic: each binds to its own view model (mobile.screens.viewmodels), which mirrors
``SessionWorkflow`` into Kivy properties, and to the shared one (``shell``).
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

if "kivy" not in sys.modules:  # must happen before the first Kivy import
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")   # Kivy logs through `logging`, as configured by the caller
    os.environ.setdefault("KIVY_NO_FILELOG", "1")      # no ~/.kivy/logs files
    os.environ.setdefault("KCFG_GRAPHICS_WIDTH", "1280")   # desktop/demo window: a 10-inch tablet in landscape
    os.environ.setdefault("KCFG_GRAPHICS_HEIGHT", "800")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or "ANDROID_ARGUMENT" in os.environ
            or sys.platform in ("win32", "darwin")):
        os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")  # headless machine: render off screen
# Mesa's software renderer (llvmpipe: a machine without a GPU) draws in this thread. With its rasterizer threads
# the main heap grew by some 250 MiB over a morning of sessions and stayed so (malloc_trim gave none of it back),
# for a UI that redraws little; without them it stays flat. Mesa documentation, "Environment Variables":
# LP_NUM_THREADS, 0 turns llvmpipe's threading off. Read when the window's GL context is made (below).
os.environ.setdefault("LP_NUM_THREADS", "0")

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.uix.modalview import ModalView  # noqa: E402
from kivy.lang import Builder  # noqa: E402
from kivy.uix.recycleview import RecycleView  # noqa: E402
from kivy.utils import platform  # noqa: E402

from mobile.memory import collect_between_sessions, end_frame, release_freed_memory, swap_does_not_flush  # noqa: E402
from mobile.screens import theme  # noqa: E402
from mobile.screens.lazy import SCREENS, screen_class, let_go  # noqa: E402
from mobile.screens.viewmodels import SyncMonitor, ViewModels  # noqa: E402
from mobile.screens.widgets import RelaisRoot  # noqa: E402

log = logging.getLogger(__name__)

TABLET_LANDSCAPE = (1280, 800)
TABLET_PORTRAIT = (800, 1280)
__all__ = ["SCREENS", "TABLET_LANDSCAPE", "TABLET_PORTRAIT", "RelaisApp", "play_demo", "run_app"]


class RelaisApp(App):
    """`runtime` is a :class:`mobile.runtime.AppRuntime` (or anything with start/stop/workflow/sync_counts)."""

    title = "Relais"

    def __init__(self, runtime: Any, *, window_size: tuple[int, int] | None = None,
                 sync_interval: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.window_size = window_size
        self.sync_interval = sync_interval
        self.models: ViewModels | None = None
        self.sync: SyncMonitor | None = None
        self.start_task: asyncio.Task | None = None
        self.stop_task: asyncio.Task | None = None
        self.start_error: str | None = None

    # -- building ---------------------------------------------------------------------------------------------
    def build(self) -> RelaisRoot:
        if self.window_size:
            Window.size = self.window_size
        Window.clearcolor = theme.BG
        Window.softinput_mode = "below_target"  # the on-screen keyboard must not hide the field being typed
        if swap_does_not_flush():  # no display: end each frame as a buffer swap would (mobile.memory)
            Window.bind(on_flip=end_frame)
        self.models = models = ViewModels(self.runtime.workflow)
        self.sync = SyncMonitor(self.runtime, interval=self.sync_interval)
        root = RelaisRoot(shell=models.shell, sync=self.sync)
        root.ids.sm.build_screen = self._build_screen  # each screen is built when first shown
        models.shell.bind(screen=self._show_step, locked=self._close_popups_when_locked)
        root.ids.sm.current = models.shell.screen
        Window.bind(on_touch_down=self._touched)
        self._tick = Clock.schedule_interval(models.tick, 1.0)  # call timer and idle lock
        return root

    def _build_screen(self, name: str) -> Any:
        screen = screen_class(name)(name=name, vm=self.models.for_screen(name), shell=self.models.shell)
        if name == "saved":
            screen.sync = self.sync
        return screen

    def _touched(self, *_args: Any) -> None:
        if self.models is not None:
            self.models.shell.touched()

    @staticmethod
    def _close_popups_when_locked(_shell: Any, locked: bool) -> None:
        """The PIN pad must cover everything: a pop-up left open (the staff menu, the refused sessions with patient
        names) closes when the tablet locks."""
        if locked:
            for child in list(Window.children):
                if isinstance(child, ModalView):
                    child.dismiss(animation=False)

    def _show_step(self, _shell: Any, step: str) -> None:
        self.root.ids.sm.current = step
        if self.sync is not None:
            self.sync.refresh()  # a save changes the counts: do not wait for the next tick
        if step == "patient":  # between two sessions
            Clock.schedule_once(self._between_sessions, 0)

    def _between_sessions(self, _dt: float | None = None) -> None:
        """Back on the patient list with no session left open: the screens the last session used are dropped (the
        next resident's are built afresh, with nothing of the last one's names and readings on them) and what they
        held goes back to the system. A session left open (staff called away) keeps its screens: it resumes where
        it was, with what was typed and not yet confirmed."""
        between = self.models.shell.screen == "patient" and not self._a_session_is_open()
        dropped = self.root.ids.sm.let_go_of_hidden() if between else []

        def collect(_dt: float) -> None:
            let_go(dropped)  # after their last scheduled callbacks, which may start an animation
            # back from the PIN pad alone (an unlock): no session's screens, not worth the cycle collector's pause
            session_ended = any(screen.name != "signin" for screen in dropped)
            dropped.clear()
            collect_between_sessions(cycles=session_ended)

        # collect once the dropped screens' last scheduled callbacks have run; Kivy deletes the collected widgets'
        # GL textures at the tick that follows, and the memory goes back after that
        Clock.schedule_once(collect, 0.2)
        Clock.schedule_once(lambda _dt: release_freed_memory(), 0.5)

    def _a_session_is_open(self) -> bool:
        try:
            return bool(self.runtime.workflow.open_sessions())
        except Exception:  # noqa: BLE001 - not signed in (nothing to resume either way): keep the screens
            log.exception("open sessions unreadable between sessions")
            return True

    @property
    def screen_manager(self):
        return self.root.ids.sm

    # -- lifecycle --------------------------------------------------------------------------------------------
    def on_start(self) -> None:
        self.sync.start()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.error("RelaisApp needs the asyncio loop: asyncio.run(app.async_run(async_lib='asyncio'))")
            return
        self.start_task = loop.create_task(self._start_runtime())
        self.models.measure.ready = self.start_task  # a reading waits for the devices, nothing else does
        if os.environ.get("RELAIS_STARTUP_PROBE"):
            # bench/startup.py: the first frame drawn with the first screen built is the first one staff can act
            # on (the devices start behind it); say when it was drawn, and when the devices were ready, then quit
            self._probe_lines: set[str] = set()
            Window.bind(on_flip=self._report_first_interactive_frame)
            Window.canvas.ask_update()

    async def _start_runtime(self) -> None:
        try:
            await self.runtime.start()
        except Exception as exc:  # noqa: BLE001 - the app stays usable (manual entry) without devices
            log.exception("runtime start failed")
            self.start_error = str(exc)
        if os.environ.get("RELAIS_STARTUP_PROBE"):
            self._probe_report("relais-devices-ready")

    def _report_first_interactive_frame(self, *_args: Any) -> None:
        Window.unbind(on_flip=self._report_first_interactive_frame)
        self._probe_report("relais-first-interactive-frame")

    def _probe_report(self, line: str) -> None:
        import time

        print(f"{line} {time.time():.6f}", flush=True)
        self._probe_lines.add(line)
        if len(self._probe_lines) == 2:
            Clock.schedule_once(lambda _dt: self.stop(), 0)

    def on_stop(self) -> None:
        if getattr(self, "_tick", None) is not None:
            self._tick.cancel()
            self._tick = None
        Window.unbind(on_touch_down=self._touched)
        Window.unbind(on_flip=end_frame)
        if self.sync is not None:
            self.sync.stop()
        if self.models is not None:
            self.models.measure.cancel_tasks()
            self.models.devices.cancel_tasks()
        self._unbind_rules()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self.stop_task is None:
            self.stop_task = loop.create_task(self._stop_runtime())

    def _unbind_rules(self) -> None:
        """Drop the kv bindings of this app's widgets, notably those held by the global translator `tr`, so a
        stopped app (tests run several per process) leaves nothing behind that a language switch would update.
        RecycleView rows are left alone: Kivy keeps them in a process-wide cache and may reuse them."""
        if self.root is None:
            return
        pending = [self.root, *self.root.ids.sm.screens]
        seen: set[int] = set()
        while pending:
            widget = pending.pop()
            if id(widget) in seen or isinstance(widget, RecycleView):
                continue
            seen.add(id(widget))
            Builder.unbind_widget(widget.uid)
            pending.extend(widget.children)

    async def _stop_runtime(self) -> None:
        if self.start_task is not None and not self.start_task.done():
            self.start_task.cancel()
            await asyncio.gather(self.start_task, return_exceptions=True)
        await self.runtime.stop()

    async def run_async(self) -> None:
        """Run until the app stops, then wait for the runtime to shut down."""
        await self.async_run(async_lib="asyncio")
        if self.stop_task is not None:
            await self.stop_task

    # -- screenshots ------------------------------------------------------------------------------------------
    @staticmethod
    def save_screenshot(path: str | Path) -> Path:
        """Save the window as displayed to exactly `path` (Window.screenshot appends a counter: rename)."""
        path = Path(path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        written = Window.screenshot(name=str(path.with_name(f".{path.stem}-shot.png")))
        os.replace(written, path)
        return path


async def play_demo(app: RelaisApp, screenshots_dir: Path | None = None, *, pause: float | None = None,
                    on_screen: Any = None, scenario: str = "normal") -> list[Path]:
    """One training scenario (mobile.training) played on a started app: the routine session by default."""
    from mobile.training.runner import play
    from mobile.training.scenarios import SCENARIOS

    return await play(app, SCENARIOS[scenario], screenshots_dir, pause=pause, on_screen=on_screen)


def run_app(runtime_config: Any, *, screenshots_dir: Path | str | None = None, scenario: Any = None,
            language: str | None = None, window_size: tuple[int, int] | None = None) -> list[Path]:
    """Run Relais until it is closed. With a training `scenario` (mobile.training.scenarios) the app plays it by
    itself; with `screenshots_dir` it saves a PNG per screen there and exits. `language` is the first language
    shown (fr, en), `window_size` the desktop window (default: a tablet in landscape). Returns the screenshots."""
    from mobile.i18n import tr
    from mobile.runtime import AppRuntime

    if language:
        tr.switch_lang(language)
    runtime = AppRuntime(runtime_config)
    desktop = platform not in ("android", "ios")
    app = RelaisApp(runtime, window_size=(window_size or TABLET_LANDSCAPE) if desktop else None)
    shots: list[Path] = []
    failed: list[BaseException] = []

    async def main() -> None:
        demo_task = None
        if scenario is not None:
            async def drive() -> None:
                try:
                    from mobile.training.runner import play

                    shots.extend(await play(app, scenario, Path(screenshots_dir) if screenshots_dir else None))
                except Exception as exc:  # noqa: BLE001
                    log.exception("training scenario %s failed", scenario.name)
                    failed.append(exc)
                finally:
                    if screenshots_dir is not None:
                        app.stop()
            demo_task = asyncio.get_running_loop().create_task(drive())
        await app.run_async()
        if demo_task is not None and not demo_task.done():
            demo_task.cancel()
            await asyncio.gather(demo_task, return_exceptions=True)

    asyncio.run(main())
    for path in shots:
        print(f"screenshot: {path}", flush=True)
    if failed:
        raise RuntimeError(f"the training scenario {scenario.name} did not play to its end") from failed[0]
    return shots
