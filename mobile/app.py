"""The Relais Kivy application: a top bar (sync state, language) over one screen per workflow step.

Run it on the asyncio loop — Kivy's main loop, the simulated/real Bluetooth stack and the store all share one
thread::

    run_app(RuntimeConfig(store_path=...))                                   # the product
    run_app(config, demo=True, screenshots_dir=Path("shots"))                # one scripted session, PNGs, exit

Screens never hold domain logic: they bind to :class:`mobile.screens.adapter.WorkflowAdapter`, which mirrors
``SessionWorkflow`` into Kivy properties.
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

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.uix.modalview import ModalView  # noqa: E402
from kivy.lang import Builder  # noqa: E402
from kivy.uix.recycleview import RecycleView  # noqa: E402
from kivy.utils import platform  # noqa: E402

from mobile.screens import theme  # noqa: E402
from mobile.screens.adapter import SyncMonitor, WorkflowAdapter  # noqa: E402
from mobile.screens.admin import AdminScreen  # noqa: E402
from mobile.screens.measure import MeasureScreen  # noqa: E402
from mobile.screens.patient import PatientScreen  # noqa: E402
from mobile.screens.patient_form import PatientFormScreen  # noqa: E402
from mobile.screens.review import ReviewScreen  # noqa: E402
from mobile.screens.saved import SavedScreen  # noqa: E402
from mobile.screens.session_start import SessionStartScreen  # noqa: E402
from mobile.screens.signin import SigninScreen  # noqa: E402
from mobile.screens.site_setup import SiteSetupScreen  # noqa: E402
from mobile.screens.summary import SummaryScreen  # noqa: E402
from mobile.screens.teleconsult import TeleconsultScreen  # noqa: E402
from mobile.screens.vitals import VitalsScreen  # noqa: E402
from mobile.screens.widgets import RelaisRoot  # noqa: E402

log = logging.getLogger(__name__)

TABLET_LANDSCAPE = (1280, 800)
SCREENS = (("signin", SigninScreen), ("site_setup", SiteSetupScreen), ("patient", PatientScreen),
           ("patient_form", PatientFormScreen), ("session_start", SessionStartScreen), ("measure", MeasureScreen),
           ("review", ReviewScreen), ("vitals", VitalsScreen), ("teleconsult", TeleconsultScreen),
           ("summary", SummaryScreen), ("saved", SavedScreen), ("admin", AdminScreen))
DEMO_SITE = dict(kind="ehpad", name="EHPAD de démonstration")
DEMO_STAFF = dict(name="Camille DÉMO", role="aide_soignant", pin="1234")
DEMO_PATIENT = dict(family_name="DÉMO", given_name="Jeanne", birth_date="02/04/1938", sex="F",
                    birth_place_insee="75056", identity_status="QUAL")


def demo_ins() -> str:
    """A well-formed INS (NIR key = 97 - NIR mod 97) for the demo resident. It is only ever written under the
    official DEMO authority OID 1.2.250.1.213.1.4.11 (the demo store is opened with fhir.INS_DEMO_SYSTEM), so it can
    never be taken for a real person's INS."""
    nir = "2380475056123"
    return nir + f"{97 - int(nir) % 97:02d}"


class RelaisApp(App):
    """`runtime` is a :class:`mobile.runtime.AppRuntime` (or anything with start/stop/workflow/sync_counts)."""

    title = "Relais"

    def __init__(self, runtime: Any, *, window_size: tuple[int, int] | None = None,
                 sync_interval: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.window_size = window_size
        self.sync_interval = sync_interval
        self.adapter: WorkflowAdapter | None = None
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
        self.adapter = WorkflowAdapter(self.runtime.workflow)
        self.sync = SyncMonitor(self.runtime, interval=self.sync_interval)
        root = RelaisRoot(wf=self.adapter, sync=self.sync)
        for name, cls in SCREENS:
            screen = cls(name=name, wf=self.adapter)
            if isinstance(screen, SavedScreen):
                screen.sync = self.sync
            root.ids.sm.add_widget(screen)
        self.adapter.bind(screen=self._show_step, locked=self._close_popups_when_locked)
        root.ids.sm.current = self.adapter.screen
        Window.bind(on_touch_down=self._touched)
        self._tick = Clock.schedule_interval(self.adapter.tick, 1.0)  # call timer and idle lock
        return root

    def _touched(self, *_args: Any) -> None:
        if self.adapter is not None:
            self.adapter.touched()

    @staticmethod
    def _close_popups_when_locked(_adapter: WorkflowAdapter, locked: bool) -> None:
        """The PIN pad must cover everything: a pop-up left open (the staff menu, the refused sessions with patient
        names) closes when the tablet locks."""
        if locked:
            for child in list(Window.children):
                if isinstance(child, ModalView):
                    child.dismiss(animation=False)

    def _show_step(self, _adapter: WorkflowAdapter, step: str) -> None:
        self.root.ids.sm.current = step
        if self.sync is not None:
            self.sync.refresh()  # a save changes the counts: do not wait for the next tick

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
        self.adapter.ready = self.start_task

    async def _start_runtime(self) -> None:
        try:
            await self.runtime.start()
        except Exception as exc:  # noqa: BLE001 - the app stays usable (manual entry) without devices
            log.exception("runtime start failed")
            self.start_error = str(exc)
        if os.environ.get("RELAIS_STARTUP_PROBE"):
            # bench/startup.py: the first frame drawn once the screens and the devices are ready is the first
            # frame a user can act on; say when it was drawn and quit
            Window.bind(on_flip=self._report_first_interactive_frame)
            Window.canvas.ask_update()

    def _report_first_interactive_frame(self, *_args: Any) -> None:
        import time

        Window.unbind(on_flip=self._report_first_interactive_frame)
        print(f"relais-first-interactive-frame {time.time():.6f}", flush=True)
        Clock.schedule_once(lambda _dt: self.stop(), 0)

    def on_stop(self) -> None:
        if getattr(self, "_tick", None) is not None:
            self._tick.cancel()
            self._tick = None
        Window.unbind(on_touch_down=self._touched)
        if self.sync is not None:
            self.sync.stop()
        if self.adapter is not None:
            self.adapter.cancel_tasks()
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


# -- demo ---------------------------------------------------------------------------------------------------------
async def _wait_for(condition, timeout: float = 20.0, step: float = 0.03) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("the demo did not reach the expected state")
        await asyncio.sleep(step)


def _press(button) -> None:
    """Demo taps (tests use real touches through the window instead)."""
    button.dispatch("on_press")
    button.dispatch("on_release")


async def play_demo(app: RelaisApp, screenshots_dir: Path | None = None, *, pause: float | None = None,
                    on_screen: Any = None) -> list[Path]:
    """Drive one whole session by itself (training and demo mode): first-run set-up or PIN sign-in → patient list
    → new qualified patient (demo INS) → reason, consent and room checklist → oximeter, blood pressure and
    temperature (measure, review, confirm each) → respiration rate, consciousness, air/oxygen and NEWS2 → the call
    with the remote doctor → the summary for the patient's own doctor → closed. Returns the screenshots.
    `on_screen(name)` is called on every screen shown (tests)."""
    pause = (0.25 if screenshots_dir else 1.5) if pause is None else pause
    shots: list[Path] = []
    index = 0

    async def show(name: str) -> None:
        nonlocal index
        await asyncio.sleep(pause)  # let a few frames render (and a person watch)
        if screenshots_dir is not None:
            index += 1
            shots.append(app.save_screenshot(Path(screenshots_dir) / f"{index:02d}-{name}.png"))
        if on_screen is not None:  # tests look at every screen the demo shows
            on_screen(name)

    await _wait_for(lambda: app.root is not None and app.start_task is not None)
    sm, wf = app.screen_manager, app.adapter
    if sm.current == "site_setup":  # first run on this store: the site and the demo account
        setup = sm.get_screen("site_setup")
        setup.ids.kind.selected = DEMO_SITE["kind"]
        setup.ids.site_name.text = DEMO_SITE["name"]
        setup.ids.staff_name.text = DEMO_STAFF["name"]
        setup.ids.role.selected = DEMO_STAFF["role"]
        setup.ids.pin.text = DEMO_STAFF["pin"]
        await show("site-setup")
        _press(setup.ids.save)
    else:
        signin = sm.get_screen("signin")
        member = next((m for m in wf.staff_list if m["name"] == DEMO_STAFF["name"]), None)
        if member is None:
            raise RuntimeError("this store has staff but no demo account: use a fresh --store for the demo")
        _press(signin.staff_buttons[member["staff_id"]])
        for digit in DEMO_STAFF["pin"]:
            _press(signin.ids[f"key_{digit}"])
        await show("sign-in")
        _press(signin.ids.ok)
    await _wait_for(lambda: sm.current == "patient")
    await show("patients")
    patient = sm.get_screen("patient")
    _press(patient.ids.new_patient)
    form = sm.get_screen("patient_form")
    for key, value in (("family", DEMO_PATIENT["family_name"]), ("given", DEMO_PATIENT["given_name"]),
                       ("birth", DEMO_PATIENT["birth_date"]), ("insee", DEMO_PATIENT["birth_place_insee"])):
        form.ids[key].text = value
    form.ids.sex.selected = DEMO_PATIENT["sex"]
    form.ids.status.selected = DEMO_PATIENT["identity_status"]
    form.method = "INSI"
    form.ids.ins.text = demo_ins()
    await show("new-patient")
    existing = [p for p in app.runtime.workflow.patients("DÉMO")
                if p.get("given_name") == DEMO_PATIENT["given_name"]]
    if existing:  # a previous demo created her: pick her from the list instead of a duplicate
        _press(form.ids.cancel)
        wf.select_patient(str(existing[0]["id"]))
    else:
        _press(form.ids.create)
    await _wait_for(lambda: sm.current == "session_start")
    start = sm.get_screen("session_start")
    start.ids.reason.text = "Fièvre et toux depuis hier"
    start.ids.consent.selected = "given"
    for key in ("room_closed", "device_hygiene", "accessibility", "companion"):
        start.ids[key].active = True
    start.ids.callback.text = "01 23 45 67 89"
    await show("session-start")
    _press(start.ids.start)
    await _wait_for(lambda: sm.current == "measure")
    await show("measure")
    measure, review = sm.get_screen("measure"), sm.get_screen("review")
    for kind in ("oximeter", "blood_pressure", "thermometer"):  # the three devices, one after the other
        _press(measure.ids[f"card_{kind}"])
        _press(measure.ids.measure)
        await _wait_for(lambda: sm.current == "review" or wf.error != "", timeout=40)
        if sm.current != "review":
            await show(f"measure-error-{kind}")
            continue
        await show(f"review-{kind}".replace("_", "-"))
        _press(review.ids.accept)
        await _wait_for(lambda: sm.current == "measure")
    await show("measure-done")
    if not wf.has_accepted:
        return shots
    _press(measure.ids.finish)
    await _wait_for(lambda: sm.current == "vitals")
    vitals = sm.get_screen("vitals")
    vitals.ids.rr.text = "18"
    vitals.ids.acvpu.selected = "A"
    vitals.ids.oxygen.selected = "no"
    await show("vitals-news2")
    _press(vitals.ids.confirm)
    await _wait_for(lambda: sm.current == "teleconsult")
    call = sm.get_screen("teleconsult")
    call.ids.doctor.text = "Dr DÉMO Téléconsultant"
    _press(call.ids.start_call)
    await _wait_for(lambda: wf.call_running)
    call.ids.conclusion.text = "Virose probable, pas de signe de gravité. Hydratation, surveillance de la température."
    call.orientation = "stay"
    call.ids.prescriptions.text = "Paracétamol 1 g si fièvre > 38,5 °C, 3 fois par jour au plus."
    await show("teleconsult")
    _press(call.ids.end_call)
    await _wait_for(lambda: sm.current == "summary")
    summary = sm.get_screen("summary")
    summary.ids.recipient.text = "Dr DÉMO Traitant"
    await show("summary")
    _press(summary.ids.close)
    await _wait_for(lambda: sm.current == "saved")
    await show("saved")
    if getattr(getattr(app.runtime, "config", None), "server_url", None):
        try:  # with a server, show the session leaving the tablet
            await _wait_for(lambda: app.sync.session_state == "sent", timeout=10)
            await show("saved-sent")
        except TimeoutError:
            log.info("demo: the session was not sent within 10 s")
    return shots


def run_app(runtime_config: Any, *, screenshots_dir: Path | str | None = None, demo: bool = False) -> list[Path]:
    """Run Relais until it is closed. `demo=True` plays one session by itself; with `screenshots_dir` it saves a
    PNG per screen there and exits. Returns the screenshots written."""
    from mobile.runtime import AppRuntime

    runtime = AppRuntime(runtime_config)
    desktop = platform not in ("android", "ios")
    app = RelaisApp(runtime, window_size=TABLET_LANDSCAPE if desktop else None)
    shots: list[Path] = []

    async def main() -> None:
        demo_task = None
        if demo:
            async def drive() -> None:
                try:
                    shots.extend(await play_demo(app, Path(screenshots_dir) if screenshots_dir else None))
                except Exception:  # noqa: BLE001
                    log.exception("demo failed")
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
    return shots
