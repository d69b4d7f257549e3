"""The app's start pays only for what its first screen needs: the other screens are built when first shown, Bumble
is imported only for simulated devices, and with --offline nothing network-related is imported. The imports are
read from a fresh process that runs the real start (`python -m mobile`) with the start-up probe, which quits after
the first interactive frame."""
from __future__ import annotations

import asyncio
import os
import weakref
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ui import frames, make_runtime, running_app, screen, type_into, wait_for

ROOT = Path(__file__).resolve().parents[2]
MARKER = "relais-first-interactive-frame"
# networking that --offline never needs: HTTP clients, the upload and its sync loop, the conclusions' search, the
# development server, mail. (`ssl` and `socket` are not listed: the standard library's asyncio, which the app runs
# on, imports them itself.)
NETWORK = ("requests", "httpx", "urllib3", "http.client", "smtplib", "sync.uploader", "sync.upload_pass",
           "sync.background", "sync.pull", "sync.conclusions_watch", "sync.server", "sync.delivery.smtp_client")
# at close only: the report's PDF/A and CDA
CLOSE_ONLY = ("fpdf", "lxml", "fontTools")
PROBE = """
import atexit, sys
atexit.register(lambda: print("relais-modules", *sorted(sys.modules), flush=True))
from mobile.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def started_modules(tmp_path: Path, *args: str) -> set[str]:
    """The modules loaded by `python -m mobile ARGS` up to its first interactive frame (and its quick exit)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCFG_", "RELAIS_"))}
    env.update(PYTHONPATH=str(ROOT), RELAIS_HOME=str(tmp_path / "home"), RELAIS_KEYS=str(tmp_path / "keys"),
               RELAIS_STARTUP_PROBE="1", KIVY_NO_ARGS="1", KIVY_NO_FILELOG="1")
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    assert MARKER in done.stdout, done.stderr[-3000:]
    assert "relais-devices-ready" in done.stdout, done.stderr[-3000:]   # the probe waits for both
    line = next(line for line in done.stdout.splitlines() if line.startswith("relais-modules "))
    return set(line.split()[1:])


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Those of `names` loaded, a package counting when any of its submodules is."""
    return sorted(name for name in names if any(m == name or m.startswith(name + ".") for m in modules))


@pytest.mark.timeout(120)
def test_an_offline_start_with_real_devices_imports_neither_bumble_nor_any_network_client(tmp_path):
    modules = started_modules(tmp_path, "--offline", "--real-devices")
    assert loaded(modules, ("bumble", "bleak", "devices.simulated")) == []  # bleak: at the first reading
    assert loaded(modules, NETWORK) == []
    assert loaded(modules, CLOSE_ONLY) == []
    assert "mobile.screens.history" not in modules  # screens not shown are not even imported


@pytest.mark.timeout(120)
def test_an_offline_start_with_simulated_devices_imports_bumble_and_still_no_network_client(tmp_path):
    modules = started_modules(tmp_path, "--offline")
    assert "bumble.device" in modules and "devices.simulated" in modules
    assert loaded(modules, NETWORK) == []


@pytest.mark.timeout(60)
async def test_screens_are_built_when_first_shown_or_looked_up(tmp_path):
    async with running_app(make_runtime(tmp_path)) as app:
        sm = app.screen_manager
        assert sm.current == "patient" and sm.built() == ["patient"]
        assert sm.has_screen("history") and "history" not in sm.built()
        assert screen(app, "history").vm is app.models.history  # built on demand, bound to its view model
        sm.current = "patient_form"  # a screen's own navigation builds its target too
        assert sm.current_screen.name == "patient_form" and sm.built() == ["patient", "history", "patient_form"]
        assert not sm.has_screen("no_such_screen")


@pytest.mark.timeout(60)
async def test_back_on_the_patient_list_the_sessions_screens_are_dropped_then_memory_given_back(tmp_path,
                                                                                            monkeypatch):
    import mobile.app

    given_back: list[tuple[list[str], list[str]]] = []
    async with running_app(make_runtime(tmp_path)) as app:
        sm = app.screen_manager
        built = {}
        monkeypatch.setattr(mobile.app, "release_freed_memory", lambda: given_back.append(
            (sm.built(), [name for name, ref in built.items() if ref() is not None])))
        app.models.shell.screen = "vitals"    # a session's screens: a text field typed in, a scroll view
        await type_into(screen(app, "vitals").ids.rr, "18")
        app.models.shell.screen = "saved"     # its last step
        await frames(2)
        built = {name: weakref.ref(screen(app, name)) for name in sm.built()}
        assert sorted(built) == ["patient", "saved", "vitals"]
        app.models.shell.screen = "patient"   # the next resident
        await wait_for(lambda: given_back, timeout=5, what="the memory given back")
        # dropped, and collected (Kivy's running animations and its last moved text field no longer hold them)
        assert given_back == [(["patient"], ["patient"])]
        vitals = screen(app, "vitals")
        assert vitals.ids.rr.text == ""   # built afresh for the next resident


@pytest.mark.timeout(60)
async def test_an_unlock_back_to_the_patient_list_does_not_pause_for_the_cycle_collector(tmp_path, monkeypatch):
    import mobile.app
    import mobile.memory

    collections, given_back = [], []
    monkeypatch.setattr(mobile.memory.gc, "collect", lambda *args: collections.append(args) or 0)
    monkeypatch.setattr(mobile.app, "release_freed_memory", lambda: given_back.append(len(collections)))
    async with running_app(make_runtime(tmp_path)) as app:
        given_back.clear()
        collections.clear()
        app.models.shell.screen = "signin"    # the tablet locked on the patient list
        await frames(2)
        app.models.shell.screen = "patient"   # unlocked: the PIN pad is dropped, no session ended
        await wait_for(lambda: given_back, timeout=5, what="the memory given back")
        assert given_back == [0] and app.screen_manager.built() == ["patient"]
        app.models.shell.screen = "saved"     # a session's last step
        await frames(2)
        app.models.shell.screen = "patient"
        await wait_for(lambda: len(given_back) == 2, timeout=5, what="the memory given back")
        assert given_back == [0, 1]


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_the_memory_a_session_freed_goes_back_to_the_system_on_glibc():
    from mobile.memory import release_freed_memory

    assert release_freed_memory() is True


def thread_names() -> list[str]:
    names = []
    for task in Path("/proc/self/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # the thread ended meanwhile
            pass
    return names


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux /proc only")
@pytest.mark.timeout(60)
async def test_a_software_renderer_draws_in_the_apps_own_thread(tmp_path):
    """On a machine without a GPU, Mesa's llvmpipe would start rasterizer threads whose buffers grew the heap by
    hundreds of MiB over a morning; the app asks it to draw in the main thread (a GPU driver ignores this)."""
    async with running_app(make_runtime(tmp_path)) as app:
        app.screen_manager.current = "history"
        assert [name for name in thread_names() if name.startswith("llvmpipe")] == []


@pytest.mark.timeout(60)
async def test_between_sessions_the_texture_caches_are_emptied(tmp_path):
    from kivy.cache import Cache

    async with running_app(make_runtime(tmp_path)) as app:
        app.models.shell.screen = "saved"
        Cache.append("textinput.label", "a resident's name", object())
        app.models.shell.screen = "patient"   # back to the patient list: a session ended
        for _ in range(20):
            await asyncio.sleep(0.05)
            if Cache.get("textinput.label", "a resident's name") is None:
                break
        assert Cache.get("textinput.label", "a resident's name") is None


@pytest.mark.timeout(60)
async def test_the_simulators_are_imported_off_the_loops_thread(tmp_path, monkeypatch):
    """Bumble takes most of a second to import: the first screen must answer meanwhile."""
    import threading

    import mobile.runtime as runtime_module

    importing = []
    real_import = runtime_module._import_simulators
    monkeypatch.setattr(runtime_module, "_import_simulators",
                        lambda: (importing.append(threading.current_thread()), real_import()))
    runtime = make_runtime(tmp_path)
    await runtime.start()
    try:
        assert importing and importing[0] is not threading.main_thread()
        assert len(runtime.simulated) == 3   # and the devices are up once start returns
    finally:
        await runtime.stop()


@pytest.mark.timeout(60)
async def test_without_a_display_every_frame_is_ended_as_a_buffer_swap_would(tmp_path, monkeypatch):
    """Off screen, the swap does not end the renderer's frame, and Mesa's llvmpipe kept every frame's draw commands
    (some 35 MiB over a morning); the app ends each frame itself, once, and stops when it stops."""
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.graphics import opengl

    flushed = []
    real_flush = opengl.glFlush
    monkeypatch.setattr(opengl, "glFlush", lambda: flushed.append(Clock.frames_displayed) or real_flush())
    assert os.environ.get("SDL_VIDEODRIVER") == "offscreen"
    async with running_app(make_runtime(tmp_path)):
        flushed.clear()
        for _ in range(4):
            Window.canvas.ask_update()
            await frames(1)
        assert len(flushed) >= 4 and len(flushed) == len(set(flushed))  # every frame drawn, once each
    flushed.clear()
    Window.dispatch("on_flip")
    assert flushed == []
