"""Benchmark (run by hand): how long Relais takes to show its first interactive screen, against a bare Kivy window
measured in the same run, and how much memory a morning of sessions holds against that same bare window.

Every figure is taken from a fresh child process (`sys.executable`, cwd = the project folder), with RELAIS_HOME and
RELAIS_KEYS (the store and its key file) made by tempfile.mkdtemp, and an offscreen window (SDL_VIDEODRIVER=offscreen)
when there is no display:
  - start to the first interactive frame: `python -m mobile --offline` with RELAIS_STARTUP_PROBE=1. The app prints
    `relais-first-interactive-frame <unix time>` when it draws its first frame with its first screen built (staff
    can act on it: the devices start behind it, and only a reading waits for them), and `relais-devices-ready
    <unix time>` when its Bluetooth devices (simulated: Bumble, imported in a worker thread) are ready; it quits
    once both are printed. Both are reported; the goal is on the first. The figure is that time minus time.time() taken
    just before Popen. Cases, interleaved launch by launch: a bare Kivy window (an App whose build() returns a
    Label, printing the same line at its first frame); the app's first run on an empty RELAIS_HOME (it creates the
    store and the install key); the app on a store of --store-sessions closed sessions (bench/seed_store.py: real
    sessions cloned with SQL; --store-state sent: confirmed by the server, as on a tablet that syncs, kept for the
    7-day retention; pending: all waiting for upload, as `python -m sync seed` leaves them), with simulated devices
    (the default, Bumble) and with --real-devices (bleak, imported at the first reading only). Ratios are
    app/bare on the medians;
  - each launch starts from a cold page cache when the machine allows it: as root, os.sync() then writing 3 to
    /proc/sys/vm/drop_caches (the whole machine's cache); else os.posix_fadvise(POSIX_FADV_DONTNEED) on every file
    under the virtualenv, the Python installation, the project and the store (only what this user can open). The
    header says which one ran (--warm: neither, after one uncounted warm-up round);
  - memory over a morning: `--sessions N` whole sessions one after the other in one process (the demo's script in
    process, no screenshots taken), its resident memory (VmRSS, /proc/self/status) 1 s after each, back on the
    patient list (where the app drops the session's screens and gives the freed memory back), and its own peak
    (ru_maxrss from os.wait4); the baseline is a bare Kivy window's VmRSS one second after its first frame, from
    the launches above (median, same run). The report's builder, a child process the app starts for each close
    (sync.delivery.renderer), is not in the app's figures: its own peak is printed beside them. Where it goes:
    both processes' largest mappings side by side (/proc/self/smaps), the modules each imported, what Python's
    object allocator holds against what its live objects use (CPython's allocator statistics) and what malloc has
    in use (glibc's mallinfo2); what each step of a morning's imports adds (IMPORT_STEPS, in a process of their
    own); what the renderer keeps of a frame drawing many new shapes, with and without the app's way of ending
    frames off screen (renderer_cost); with --traced N, Python's own memory
    (tracemalloc) in a bare window and after N sessions, each in a process of its own (tracing costs memory: no
    other figure is traced).
It fails (non-zero exit) when a launch never prints its line, exits with an error or runs over --timeout seconds.

    .venv/bin/python bench/startup.py [--runs 5] [--store-sessions 10000] [--store-state sent|pending]
                                      [--sessions 20] [--timeout 120] [--warm] [--traced N]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "relais-first-interactive-frame"
DEVICES_READY = "relais-devices-ready"
WINDOW = {"KCFG_GRAPHICS_WIDTH": "1280", "KCFG_GRAPHICS_HEIGHT": "800"}  # the app's own tablet size
RSS_UNIT = 1024 if sys.platform == "darwin" else 1  # ru_maxrss: bytes on macOS, KiB elsewhere
# Child side, shared by the bare window and the morning: resident KiB by mapping (/proc/self/smaps: the heap,
# anonymous maps, each library), the modules imported, and Python's own traced memory when tracemalloc is on.
MEMORY_LINES = """
def memory_lines(top=8):
    import gc, sys, tracemalloc
    by_map, name = {}, "?"
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if head and not head[0].endswith(":"):
                name = head[5].rsplit("/", 1)[-1] if len(head) > 5 else "[anonymous]"
            elif head and head[0] == "Rss:":
                by_map[name] = by_map.get(name, 0) + int(head[1])
    for name, kib in sorted(by_map.items(), key=lambda item: -item[1])[:top]:
        print("relais-map", kib, name, flush=True)
    print("relais-modules", len(sys.modules), flush=True)
    if tracemalloc.is_tracing():
        gc.collect()
        print("relais-traced", tracemalloc.get_traced_memory()[0] // 1024, flush=True)
    allocators()


def allocators():
    # Python's small-object allocator: KiB held in arenas, KiB in live blocks (CPython's allocator statistics,
    # written to the C stderr); then glibc's malloc: KiB in use and free in its arenas (mallinfo2, glibc >= 2.33)
    import ctypes, os, sys
    read, write = os.pipe()
    saved = os.dup(2)
    os.dup2(write, 2)
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(write)
        os.close(saved)
    with os.fdopen(read, errors="replace") as stats:
        lines = stats.read().splitlines()

    def figure(label):  # "label = 12,345,678" -> 12345678; the first "Total" is the arenas' bytes
        return next(int(line.split("=")[1].replace(",", "")) for line in lines if line.startswith(label))
    if any(line.startswith("# arenas allocated current") for line in lines):  # not under tracemalloc's hooks
        print("relais-pymalloc", figure("Total") // 1024, figure("# bytes in allocated blocks") // 1024, flush=True)

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                         "fsmblks", "uordblks", "fordblks", "keepcost")]
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        return
    mallinfo2.restype = MallInfo2
    info = mallinfo2()
    print("relais-malloc", (info.uordblks + info.hblkhd) // 1024, info.fordblks // 1024, flush=True)
"""
BARE_KIVY = MEMORY_LINES + f"""
import time
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.label import Label


class Bare(App):
    def load_kv(self, filename=None):
        return False  # no kv file; under -c there is no source file to look beside either

    def build(self):
        return Label(text="Relais")

    def on_start(self):
        Window.bind(on_flip=first_frame)


def first_frame(*_args):
    Window.unbind(on_flip=first_frame)
    print(f"{MARKER} {{time.time():.6f}}", flush=True)
    Clock.schedule_once(settled, 1.0)


def settled(_dt):
    with open("/proc/self/status") as status:
        print("relais-rss", next(line.split()[1] for line in status if line.startswith("VmRSS")), flush=True)
    memory_lines()
    app.stop()


app = Bare()
app.run()
"""


# The morning's last report built again by the app's builder (sync.delivery.renderer.ChildProcessRenderer), a child
# started on demand: the time the call takes (the child's imports, then the build), and a check that the build
# happened in the child, not in this process
REPORT_BUILD = """
import os, sys, time, uuid
from pathlib import Path
from sync.delivery.content import report_content
from sync.delivery.renderer import ChildProcessRenderer
from sync.store import open_app_store

with open_app_store(Path(os.environ["RELAIS_HOME"]) / "relais.db") as store:
    row = store.query("SELECT session_id, version, created_at FROM report_documents ORDER BY rowid DESC LIMIT 1")[0]
    content = report_content(store, row["session_id"])
start = time.perf_counter()
documents = ChildProcessRenderer().documents(content, document_id=str(uuid.uuid4()), set_id=str(uuid.uuid4()),
                                             version=row["version"], created_at=row["created_at"])
took = time.perf_counter() - start
assert documents.pdf.startswith(b"%PDF-") and "fpdf" not in sys.modules, "built in this process, not a child"
print("relais-report-build", took, flush=True)
"""


# Child side: a bare window drawing N new plain rectangles in one frame, as a screen being built does (Kivy uploads
# each new shape's vertices when it first draws it); the allocators' lines one second later, the window having
# drawn again since. argv[2] == "end-frames": each frame ended as the app ends it off screen (mobile.memory).
SHAPES = MEMORY_LINES + """
import ctypes, sys
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.graphics import Color, Rectangle
from kivy.uix.widget import Widget


class Shapes(App):
    def load_kv(self, filename=None):
        return False

    def build(self):
        if sys.argv[2] == "end-frames":
            from mobile.memory import end_frame
            Window.bind(on_flip=end_frame)
        self.widget = Widget()
        return self.widget

    def on_start(self):
        Clock.schedule_once(self.draw, 0.5)

    def draw(self, _dt):
        with self.widget.canvas:
            Color(0.2, 0.3, 0.8, 1)
            for i in range(int(sys.argv[1])):
                Rectangle(pos=(i % 6 * 210, i // 6 * 2), size=(200, 10))
        Clock.schedule_once(self.redraw, 0.5)

    def redraw(self, _dt):  # a later frame, as the clock or a blinking cursor would draw
        Window.canvas.ask_update()
        Clock.schedule_once(self.report, 0.5)

    def report(self, _dt):
        ctypes.CDLL(None).malloc_trim(0)
        allocators()
        self.stop()


Shapes().run()
"""


class LaunchFailed(RuntimeError):
    pass


@dataclass
class Launch:
    """One child process: when its marker line came (if it printed one), how long it lived, its peak RSS."""

    label: str
    first_frame: float | None  # seconds from just before Popen to the marker's timestamp
    lifetime: float  # seconds from just before Popen to its exit
    max_rss_kib: float
    returncode: int
    stderr_tail: str
    stdout_tail: str = ""
    devices_ready: float | None = None  # seconds from just before Popen to the app's devices being ready

    @property
    def rss_kib(self) -> float | None:
        """The VmRSS the child printed (`relais-rss <KiB>`), if it did."""
        found = [line.split()[1] for line in self.stdout_tail.splitlines() if line.startswith("relais-rss ")]
        return float(found[0]) if found else None


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


def headless() -> bool:
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def child_env(home: Path | None = None, keys: Path | None = None, **extra: str) -> dict[str, str]:
    """The caller's environment without its Relais/Kivy-size settings, plus Kivy quiet settings and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAIS_", "KCFG_"))}
    env.update(KIVY_NO_ARGS="1", KIVY_NO_FILELOG="1", **WINDOW)
    if headless():
        env.setdefault("SDL_VIDEODRIVER", "offscreen")
    if home is not None and keys is not None:
        env.update(RELAIS_HOME=str(home), RELAIS_KEYS=str(keys))
    env.update(extra)
    return env


def launch(label: str, argv: list[str], env: dict[str, str], work: Path, timeout: float) -> Launch:
    """Run `argv` to its end; its output goes to files (no pipe to drain), and os.wait4 reaps it so the rusage
    is this child's own. Killed after `timeout` seconds."""
    out_fd, out_name = tempfile.mkstemp(prefix="stdout-", dir=work)
    err_fd, err_name = tempfile.mkstemp(prefix="stderr-", dir=work)
    try:
        started, clock = time.time(), time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out_fd, stderr=err_fd)
        expired = threading.Event()

        def expire() -> None:  # os.kill, not proc.kill: Popen's poll() could reap the child before wait4 does
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)

        killer = threading.Timer(timeout, expire)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            lifetime = time.perf_counter() - clock
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        stdout = Path(out_name).read_text(errors="replace")
        stderr = Path(err_name).read_text(errors="replace")
    finally:
        os.close(out_fd)
        os.close(err_fd)
    stamps = [line.split()[1] for line in stdout.splitlines() if line.startswith(MARKER + " ")]
    first_frame = float(stamps[0]) - started if stamps else None
    ready = [line.split()[1] for line in stdout.splitlines() if line.startswith(DEVICES_READY + " ")]
    if expired.is_set():
        stderr += f"\n(killed after {timeout:g} s)"
    return Launch(label, first_frame, lifetime, usage.ru_maxrss / RSS_UNIT, proc.returncode, stderr[-3000:],
                  stdout[-20000:], float(ready[0]) - started if ready else None)


def checked(result: Launch, *, marker: bool = True) -> Launch:
    """`result`, or LaunchFailed when it exited with an error or (`marker`) never printed its line."""
    if result.returncode != 0 or (marker and result.first_frame is None):
        why = f"exit code {result.returncode}" if result.returncode != 0 else f"no '{MARKER}' line"
        raise LaunchFailed(f"{result.label}: {why}\n--- stderr (tail) ---\n{result.stderr_tail}")
    return result


def fresh_home(work: Path) -> tuple[Path, Path]:
    """A new, empty RELAIS_HOME and RELAIS_KEYS."""
    return Path(tempfile.mkdtemp(prefix="home-", dir=work)), Path(tempfile.mkdtemp(prefix="keys-", dir=work))


def cold_cache(roots: list[Path]) -> str:
    """Empty the page cache before a launch: the whole machine's when allowed (root), else this user's files under
    `roots`, one by one. Returns which way was used."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as control:
            control.write("3\n")
        return "drop_caches (whole machine)"
    except OSError:
        pass
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                with contextlib.suppress(OSError):
                    fd = os.open(os.path.join(folder, name), os.O_RDONLY)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    finally:
                        os.close(fd)
    return "posix_fadvise(DONTNEED) per file (no right to drop the machine's cache)"


@dataclass
class Bench:
    work: Path
    timeout: float
    store: tuple[Path, Path] | None  # RELAIS_HOME and RELAIS_KEYS of the seeded store
    warm: bool
    cache_mode: str = "warm"

    def cold(self) -> None:
        if not self.warm:
            roots = [ROOT, Path(sys.prefix), Path(sys.base_prefix), *(self.store or ())]
            self.cache_mode = cold_cache(roots)

    def launch(self, label: str, argv: list[str], env: dict[str, str]) -> Launch:
        self.cold()
        return checked(launch(label, argv, env, self.work, self.timeout))


CASES = ("bare Kivy window (baseline)", "app, first run (creates store and key)", "app, seeded store",
         "app, seeded store, --real-devices")


def start_round(bench: Bench) -> list[Launch]:
    """One launch of each case, in CASES order."""
    app = [sys.executable, "-m", "mobile", "--offline"]
    found = [bench.launch(CASES[0], [sys.executable, "-c", BARE_KIVY], child_env())]
    home, keys = fresh_home(bench.work)
    found.append(bench.launch(CASES[1], app, child_env(home, keys, RELAIS_STARTUP_PROBE="1")))
    if not (home / "relais.db").exists() or not any(keys.iterdir()):
        raise LaunchFailed(f"the first run left no store in {home} or no key in {keys}")
    if bench.store is not None:
        env = child_env(*bench.store, RELAIS_STARTUP_PROBE="1")
        found.append(bench.launch(CASES[2], app, env))
        found.append(bench.launch(CASES[3], [*app, "--real-devices"], env))
    return found


def seeded_store(work: Path, sessions: int, state: str, timeout: float) -> tuple[Path, Path]:
    """A RELAIS_HOME holding `sessions` closed sessions (bench/seed_store.py, in its own process)."""
    home, keys = fresh_home(work)
    argv = [sys.executable, str(ROOT / "bench" / "seed_store.py"), "--sessions", str(sessions)]
    result = launch("seeding the store", argv + (["--sent"] if state == "sent" else []), child_env(home, keys),
                    work, timeout)
    checked(result, marker=False)
    print(result.stdout_tail.strip().splitlines()[-1])
    return home, keys


SHIFT = MEMORY_LINES + """
import asyncio, gc, os, sys
from pathlib import Path
from mobile.app import TABLET_LANDSCAPE, RelaisApp, play_demo
from mobile.runtime import AppRuntime, RuntimeConfig


def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def alive(cls):  # the live objects of a Kivy graphics class (a weak proxy to a dead one raises ReferenceError)
    def instance(o):
        try:
            return isinstance(o, cls)
        except ReferenceError:
            return False
    return [o for o in gc.get_objects() if instance(o)]


def where():  # memory_lines, then the live Kivy textures and shapes (vertex instructions)
    memory_lines()
    from kivy.graphics.instructions import VertexInstruction
    from kivy.graphics.texture import Texture

    textures = alive(Texture)
    print("relais-textures", len(textures), sum(t.width * t.height * 4 for t in textures) // 1024, flush=True)
    print("relais-shapes", len(alive(VertexInstruction)), flush=True)


async def main(sessions):
    config = RuntimeConfig(store_path=Path(os.environ["RELAIS_HOME"]) / "relais.db", server_url=None, demo=True)
    runtime = AppRuntime(config)
    # the script presses buttons, it does not touch the window: on a loaded machine the idle lock would come first
    runtime.store.set_setting("idle_lock_seconds", "86400")
    app = RelaisApp(runtime, window_size=TABLET_LANDSCAPE)

    async def drive():
        try:
            for index in range(sessions):
                await play_demo(app, pause=0.05)
                app.models.saved.next_patient()
                await asyncio.sleep(1.0)   # settled on the patient list, as the bare window is measured 1 s after
                print("relais-session-rss", index + 1, rss_kib(), flush=True)
            where()
        finally:
            app.stop()

    task = asyncio.get_running_loop().create_task(drive())
    await app.run_async()
    await task

asyncio.run(main(int(sys.argv[1])))
"""

# What a morning imports, in the order it does, each step's resident memory and modules added on top of what a bare
# Kivy window imports (one process: a library shared by two steps counts in the first).
IMPORT_STEPS = (
    ("the encrypted store: SQLCipher, the store's modules (start)", ("sync.store", "sync.keys")),
    ("the app's other modules and Kivy's widgets (start)", ("mobile.app", "mobile.runtime")),
    ("every screen's module and kv file (first shown)", ("mobile.screens.lazy:SCREENS",)),
    ("simulated devices: Bumble, cryptography (after the first frame)", ("devices.simulated", "mobile.simulation")),
    # the app hands the report to a child process (sync.delivery.renderer): these two are that child's imports
    ("in the report's child only: fpdf2, fontTools (PDF)", ("sync.delivery.pdf",)),
    ("in the report's child only: lxml (CDA and archive)", ("sync.delivery.cda", "sync.delivery.xdm")),
)
IMPORTS = """
import gc, importlib, sys
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.label import Label


def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def load(name):  # "package.module" or "package.module:MAPPING" (every module the mapping names)
    module, _, mapping = name.partition(":")
    loaded = importlib.import_module(module)
    for target, _cls in (getattr(loaded, mapping).values() if mapping else ()):
        importlib.import_module(target)


gc.collect()
print("relais-import", 0, rss_kib(), len(sys.modules), flush=True)
for index, names in enumerate(sys.argv[1:], 1):
    for name in names.split(","):
        load(name)
    gc.collect()
    print("relais-import", index, rss_kib(), len(sys.modules), flush=True)
"""


@dataclass
class MemoryLines:
    """What a child's memory_lines() printed: resident KiB by mapping, modules imported, traced KiB (if tracing),
    Python's small-object allocator (KiB held in arenas, KiB in live blocks) and malloc's (KiB in use, free)."""

    maps: dict[str, float]
    modules: int | None
    traced_kib: float | None
    pymalloc: tuple[float, float] | None = None
    malloc: tuple[float, float] | None = None

    @classmethod
    def of(cls, stdout: str) -> "MemoryLines":
        lines = cls({}, None, None)
        for line in stdout.splitlines():
            head, *rest = line.split(maxsplit=2) or [""]
            if head == "relais-map":
                lines.maps[rest[1]] = float(rest[0])
            elif head == "relais-modules":
                lines.modules = int(rest[0])
            elif head == "relais-traced":
                lines.traced_kib = float(rest[0])
            elif head in ("relais-pymalloc", "relais-malloc"):
                setattr(lines, head.split("-")[1], tuple(float(v) for v in " ".join(rest).split()))
        return lines


def shift(work: Path, sessions: int, timeout: float, *, home: tuple[Path, Path] | None = None, **env: str
          ) -> tuple[list[tuple[int, float]], float, MemoryLines, str]:
    """A morning's round in one process: `sessions` whole sessions one after the other (the same resident, as the
    demo plays it, no screenshot), the resident memory after each (back on the patient list), the peak, what
    memory_lines() printed after the last one, and what is drawn (live textures and shapes) as a line to print.
    `home`: the store's folder and the key's (default: new ones)."""
    home, keys = home or fresh_home(work)
    result = checked(launch("sessions in one process", [sys.executable, "-c", SHIFT, str(sessions)],
                            child_env(home, keys, **env), work, timeout * sessions * 2), marker=False)
    rows = [line.split() for line in result.stdout_tail.splitlines() if line.startswith("relais-session-rss ")]
    if len(rows) != sessions:
        raise LaunchFailed(f"expected {sessions} sessions, saw {len(rows)}\n--- stderr ---\n{result.stderr_tail}")
    textures = ""
    for line in result.stdout_tail.splitlines():
        if line.startswith("relais-textures "):
            _, count, kib = line.split()
            textures = f"live Kivy textures: {count}, {mib(float(kib)):.0f} MiB of pixels (RGBA)" + textures
        if line.startswith("relais-shapes "):
            textures += f"; shapes (Kivy vertex instructions) alive: {line.split()[1]}"
    return ([(int(n), float(kib)) for _, n, kib in rows], result.max_rss_kib, MemoryLines.of(result.stdout_tail),
            textures)


def print_maps(bare: MemoryLines, app: MemoryLines) -> None:
    """The two processes' largest mappings side by side (MiB resident), largest difference first."""
    names = sorted(set(bare.maps) | set(app.maps), key=lambda n: -(app.maps.get(n, 0) - bare.maps.get(n, 0)))
    print(f"  {'mapping (/proc/self/smaps)':<34}{'bare':>8}{'app':>8}{'app - bare':>12}   (MiB resident; each "
          "process's 8 largest)")
    for name in names:
        b, a = bare.maps.get(name), app.maps.get(name)
        cells = "".join(f"{mib(v):>8.0f}" if v is not None else f"{'-':>8}" for v in (b, a))
        diff = f"{mib(a - b):>+12.0f}" if a is not None and b is not None else ""
        print(f"  {name[:34]:<34}{cells}{diff}")
    print(f"  modules imported: bare {bare.modules}, app {app.modules}")
    if bare.pymalloc and app.pymalloc:
        (b_held, b_live), (a_held, a_live) = bare.pymalloc, app.pymalloc
        print(f"  Python's object allocator: bare {mib(b_held):.0f} MiB of arenas, {mib(b_live):.0f} in live "
              f"objects; app {mib(a_held):.0f} MiB, {mib(a_live):.0f} live ({mib(a_held - a_live):.0f} free, kept "
              "by arenas a live object still uses)")
    if bare.malloc and app.malloc:
        (b_used, b_free), (a_used, a_free) = bare.malloc, app.malloc
        print(f"  C allocator (malloc): bare {mib(b_used):.0f} MiB in use, {mib(b_free):.0f} free in its arenas; "
              f"app {mib(a_used):.0f} MiB in use, {mib(a_free):.0f} free (not all of it resident)")


def print_trend(rows: list[tuple[int, float]]) -> None:
    """Flat or growing, from session 5 on: one reading alone can land on a passing peak, so the lowest and the
    highest of the six sessions from the fifth are compared with those of the last six."""
    early, late = [kib for _, kib in rows[4:10]], [kib for _, kib in rows[-6:]]
    low, high = mib(min(late) - min(early)), mib(max(late) - max(early))
    span = f"{rows[-6][0]}-{rows[-1][0]}"
    print(f"  sessions 5-10: {mib(min(early)):.0f} to {mib(max(early)):.0f} MiB; sessions {span}: "
          f"{mib(min(late)):.0f} to {mib(max(late)):.0f} MiB: the lowest {low:+.1f}, the highest {high:+.1f} "
          f"({max(low, high) / (len(rows) - 10):+.2f} MiB a session at most; goal: flat)")


def mib(kib: float) -> float:
    return kib / 1024


def run(args: argparse.Namespace, work: Path) -> None:
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; Python {platform.python_version()} "
          f"({sys.executable})")
    video = "offscreen (no display)" if headless() else "on screen"
    store = seeded_store(work, args.store_sessions, args.store_state, 1800) if args.store_sessions else None
    bench = Bench(work, args.timeout, store, args.warm)
    start_round(bench)  # uncounted: bytecode caches, the seeded store's first open
    rounds = [start_round(bench) for _ in range(args.runs)]
    print(f"window {WINDOW['KCFG_GRAPHICS_WIDTH']}x{WINDOW['KCFG_GRAPHICS_HEIGHT']}, {video}; {args.runs} launches "
          f"of each kind, interleaved, after one uncounted round; page cache before each launch: {bench.cache_mode}")
    if store is not None:
        print(f"seeded store: {args.store_sessions} closed sessions, {args.store_state}")
    by_case = [[r[i] for r in rounds] for i in range(len(rounds[0]))]
    frames = [[launch.first_frame for launch in case] for case in by_case]
    base = statistics.median(frames[0])
    print(f"\n{'start -> first interactive frame':<44}{'median':>9}{'p95':>9}{'app/bare':>10}   (goal: 2.00x)"
          f"{'devices ready (median)':>26}")
    for case, times in zip(by_case, frames):
        ratio = "" if case is by_case[0] else f"{statistics.median(times) / base:>9.2f}x"
        ready = [launch.devices_ready for launch in case if launch.devices_ready is not None]
        after = f"{statistics.median(ready) * 1e3:>23.0f} ms" if ready else ""
        print(f"{case[0].label:<44}{statistics.median(times) * 1e3:>6.0f} ms{p95(times) * 1e3:>6.0f} ms{ratio:<10}"
              f"   {after}")

    if args.sessions:
        bare_rss = statistics.median(launch.rss_kib for launch in by_case[0])
        home = fresh_home(work)
        rows, peak, lines, textures = shift(work, args.sessions, args.timeout, home=home)
        print(f"\nafter the last session, against the bare window (its last launch); {textures}:")
        print_maps(MemoryLines.of(by_case[0][-1].stdout_tail), lines)
        print(f"\n{args.sessions} whole sessions in one process (a morning's round, no screenshots), resident memory "
              "after each (MiB):")
        print("  " + "  ".join(f"#{n} {mib(kib):.0f}" for n, kib in rows))
        last = rows[-1][1]
        print(f"  bare Kivy window, 1 s after its first frame (median of {args.runs}): {mib(bare_rss):.0f} MiB")
        print(f"  after session {rows[-1][0]}: {mib(last):.0f} MiB, {mib(last - bare_rss):+.0f} MiB over the bare "
              f"window (goal: at most +100); peak {mib(peak):.0f} MiB")
        report_builder_cost(work, home, args.timeout)
        if len(rows) >= 12:
            print_trend(rows)
        import_costs(work, args.timeout)
        renderer_cost(work, args.timeout)
    if args.traced:
        traced_memory(work, args)


def report_builder_cost(work: Path, home: tuple[Path, Path], timeout: float) -> None:
    """The report's builder on its own: the morning's last report built again by the child process the app starts
    for a close (sync.delivery.renderer), here on demand; its peak resident memory (os.wait4 on the small process
    that starts it reports its largest child's peak, above its own) and how long the build took."""
    built = checked(launch("report builder", [sys.executable, "-c", REPORT_BUILD], child_env(*home), work, timeout),
                    marker=False)
    took = [float(line.split()[1]) for line in built.stdout_tail.splitlines() if line.startswith("relais-report-build")]
    if not took:
        raise LaunchFailed(f"report builder: no time printed\n{built.stderr_tail}")
    print(f"  the report's builder, a child process the app starts at the summary and that exits after the close: "
          f"peak {mib(built.max_rss_kib):.0f} MiB; {took[0]:.2f} s when started on demand (its imports, then the "
          "build; started at the summary, the close waits for the build alone)")


def renderer_cost(work: Path, timeout: float, shapes: int = 400) -> None:
    """What the renderer keeps of a frame that draws many new shapes, as building a screen does: a bare window
    drawing `shapes` new plain rectangles in one frame against one drawing a single one, the C heap in use one
    second later (the window drawn again since); as Kivy leaves it, then with each frame ended as the app ends it
    without a display (mobile.memory.end_frame). Off screen, the buffer swap does not end the renderer's frame."""
    held = {}
    for mode in ("as-kivy", "end-frames"):
        for count in (1, shapes):
            env = child_env(LP_NUM_THREADS="0")  # as the app sets it (mobile.app)
            result = checked(launch(f"{count} shapes, {mode}", [sys.executable, "-c", SHAPES, str(count), mode],
                                    env, work, timeout), marker=False)
            in_use = [int(line.split()[1]) for line in result.stdout_tail.splitlines()
                      if line.startswith("relais-malloc ")]
            if len(in_use) != 1:
                raise LaunchFailed(f"shapes: expected one malloc line\n{result.stderr_tail}")
            held[mode, count] = in_use[0]
    kept, ended = (held[mode, shapes] - held[mode, 1] for mode in ("as-kivy", "end-frames"))
    video = "off screen" if headless() else "on screen"
    print(f"\nthe renderer ({video}): a frame drawing {shapes} new plain rectangles leaves {mib(kept):+.1f} MiB of C "
          f"heap in use one second later as Kivy draws ({kept / (shapes - 1):.0f} KiB a shape: Mesa's llvmpipe keeps "
          f"the frame's commands until something ends the frame), {mib(ended):+.1f} MiB with each frame ended as "
          "the app ends it without a display")


def import_costs(work: Path, timeout: float) -> None:
    """IMPORT_STEPS in one process of its own: what each step adds to the resident memory and the modules."""
    argv = [sys.executable, "-c", IMPORTS, *(",".join(names) for _, names in IMPORT_STEPS)]
    result = checked(launch("imports", argv, child_env(), work, timeout), marker=False)
    rows = [[int(v) for v in line.split()[1:]] for line in result.stdout_tail.splitlines()
            if line.startswith("relais-import ")]
    if len(rows) != len(IMPORT_STEPS) + 1:
        raise LaunchFailed(f"imports: expected {len(IMPORT_STEPS) + 1} lines\n{result.stderr_tail}")
    print("\nwhat a morning imports, in its order, on top of a bare Kivy window's imports (one process; a library "
          "two steps share counts in the first):")
    for (label, _), (_, before, mods_before), (_, after, mods_after) in zip(IMPORT_STEPS, rows, rows[1:]):
        print(f"  {label:<66}{mib(after - before):>+7.1f} MiB{mods_after - mods_before:>+6} modules")
    print(f"  {'all of them':<66}{mib(rows[-1][1] - rows[0][1]):>+7.1f} MiB{rows[-1][2] - rows[0][2]:>+6} modules")


def traced_memory(work: Path, args: argparse.Namespace) -> None:
    """Python's own memory (tracemalloc from the interpreter's start), in separate processes: tracing costs time
    and memory of its own, so none of the figures above come from a traced process."""
    sessions = args.traced
    bare = checked(launch("bare Kivy window, traced", [sys.executable, "-c", BARE_KIVY],
                          child_env(PYTHONTRACEMALLOC="1"), work, args.timeout))
    _, _, app, _ = shift(work, sessions, args.timeout, PYTHONTRACEMALLOC="1")
    bare_lines = MemoryLines.of(bare.stdout_tail)
    if bare_lines.traced_kib is None or app.traced_kib is None:
        raise LaunchFailed("a traced process printed no traced memory")
    bare_mib, app_mib = mib(bare_lines.traced_kib), mib(app.traced_kib)
    print(f"\nPython's own memory (tracemalloc, separate traced processes): bare window {bare_mib:.0f} MiB; app "
          f"after {sessions} sessions {app_mib:.0f} MiB ({app_mib - bare_mib:+.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="launches of each kind")
    parser.add_argument("--store-sessions", type=int, default=10000,
                        help="closed sessions in the seeded store (a multiple of 100; 0: skip those cases)")
    parser.add_argument("--store-state", choices=("sent", "pending"), default="sent",
                        help="the seeded sessions confirmed by the server, or all waiting for upload")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a launch is killed")
    parser.add_argument("--sessions", type=int, default=20,
                        help="whole sessions in one process for the memory figures (0: skip)")
    parser.add_argument("--warm", action="store_true", help="leave the page cache as it is")
    parser.add_argument("--traced", type=int, default=0, metavar="N",
                        help="also measure Python's own memory (tracemalloc) over N sessions, in separate processes")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (homes, keys, outputs)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.store_sessions < 0 or args.store_sessions % 100:
        parser.error("--store-sessions must be a multiple of 100")

    work = Path(tempfile.mkdtemp(prefix="relais-bench-startup-"))
    try:
        run(args, work)
    except LaunchFailed as failure:
        sys.exit(f"FAILED: {failure}")
    finally:
        if args.keep:
            print(f"(work files kept in {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
