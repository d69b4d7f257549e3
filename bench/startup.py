"""Benchmark (run by hand): how long Relais takes to start, and how much memory a full session holds.

Every figure is taken from a fresh child process (`sys.executable`, cwd = the project folder), with a fresh
RELAIS_HOME and RELAIS_KEYS (the store and its key file) made by tempfile.mkdtemp, and an offscreen window
(SDL_VIDEODRIVER=offscreen) when there is no display:
  - cold start to the first interactive frame: `python -m mobile --offline` with RELAIS_STARTUP_PROBE=1. The app
    prints `relais-first-interactive-frame <unix time>` when it draws its first frame after its screens and the
    simulated Bluetooth devices are ready, then quits by itself. The figure is that time minus time.time() taken
    just before Popen; the process lifetime (Popen to exit) is shown too. Two cases per run: the first run on an
    empty RELAIS_HOME (it creates the store and the install key), then a later start on that same RELAIS_HOME;
  - baseline, in the same run and interleaved with the app's launches: a bare Kivy window (an App whose build()
    returns a Label) that prints the same line on its first Window on_flip and stops; the ratio is app/bare on
    the medians. One uncounted warm-up launch of each comes first (disk cache);
  - peak resident memory: `python -m mobile --demo --offline --screenshots DIR` plays one full scripted session
    and exits; its own ru_maxrss comes from os.wait4 on its pid (RUSAGE_CHILDREN would mix the children). The
    baseline is the bare Kivy window's peak, from the launches above (median), with the ratio.
  - memory over a morning's round: `--sessions N` whole sessions one after the other in one process (the demo's
    script, in process), the resident memory (VmRSS) after each; growth that levels off is caches filling, growth
    that does not would be a leak.
It fails (non-zero exit) when a launch never prints its line, exits with an error, runs over --timeout seconds,
or when the demo writes no screenshot (it writes about 13).

    .venv/bin/python bench/startup.py [--runs 5] [--demo-runs 1] [--timeout 120]
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
WINDOW = {"KCFG_GRAPHICS_WIDTH": "1280", "KCFG_GRAPHICS_HEIGHT": "800"}  # the app's own tablet size
RSS_UNIT = 1024 if sys.platform == "darwin" else 1  # ru_maxrss: bytes on macOS, KiB elsewhere
BARE_KIVY = f"""
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
    Clock.schedule_once(lambda dt: app.stop(), 0)


app = Bare()
app.run()
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
    if expired.is_set():
        stderr += f"\n(killed after {timeout:g} s)"
    return Launch(label, first_frame, lifetime, usage.ru_maxrss / RSS_UNIT, proc.returncode, stderr[-3000:],
                  stdout[-20000:])


def checked(result: Launch, *, marker: bool = True) -> Launch:
    """`result`, or LaunchFailed when it exited with an error or (`marker`) never printed its line."""
    if result.returncode != 0 or (marker and result.first_frame is None):
        why = f"exit code {result.returncode}" if result.returncode != 0 else f"no '{MARKER}' line"
        raise LaunchFailed(f"{result.label}: {why}\n--- stderr (tail) ---\n{result.stderr_tail}")
    return result


def fresh_home(work: Path) -> tuple[Path, Path]:
    """A new, empty RELAIS_HOME and RELAIS_KEYS."""
    return Path(tempfile.mkdtemp(prefix="home-", dir=work)), Path(tempfile.mkdtemp(prefix="keys-", dir=work))


def start_round(work: Path, timeout: float) -> tuple[Launch, Launch, Launch]:
    """One launch of each: the bare Kivy window, the app on a new RELAIS_HOME, the app again on that home."""
    app = [sys.executable, "-m", "mobile", "--offline"]
    bare = checked(launch("bare Kivy window", [sys.executable, "-c", BARE_KIVY], child_env(), work, timeout))
    home, keys = fresh_home(work)
    env = child_env(home, keys, RELAIS_STARTUP_PROBE="1")
    first = checked(launch("app, first run", app, env, work, timeout))
    if not (home / "relais.db").exists() or not any(keys.iterdir()):
        raise LaunchFailed(f"the first run left no store in {home} or no key in {keys}")
    later = checked(launch("app, later start", app, env, work, timeout))
    return bare, first, later


def demo_session(work: Path, timeout: float) -> tuple[Launch, int]:
    """One full scripted session; returns the launch and how many screenshots it wrote."""
    home, keys = fresh_home(work)
    shots = Path(tempfile.mkdtemp(prefix="shots-", dir=work))
    argv = [sys.executable, "-m", "mobile", "--demo", "--offline", "--screenshots", str(shots)]
    result = checked(launch("demo session", argv, child_env(home, keys), work, timeout), marker=False)
    count = len(list(shots.glob("*.png")))
    if not count:
        raise LaunchFailed(f"the demo wrote no screenshot in {shots}\n--- stderr (tail) ---\n{result.stderr_tail}")
    return result, count


SHIFT = """
import asyncio, gc, os, sys
from pathlib import Path
from mobile.app import TABLET_LANDSCAPE, RelaisApp, play_demo
from mobile.runtime import AppRuntime, RuntimeConfig


def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


async def main(sessions):
    config = RuntimeConfig(store_path=Path(os.environ["RELAIS_HOME"]) / "relais.db", server_url=None, demo=True)
    app = RelaisApp(AppRuntime(config), window_size=TABLET_LANDSCAPE)

    async def drive():
        try:
            for index in range(sessions):
                await play_demo(app, pause=0.05)
                gc.collect()
                print("relais-session-rss", index + 1, rss_kib(), flush=True)
                app.models.saved.next_patient()
                await asyncio.sleep(0.2)
        finally:
            app.stop()

    task = asyncio.get_running_loop().create_task(drive())
    await app.run_async()
    await task

asyncio.run(main(int(sys.argv[1])))
"""


def shift(work: Path, sessions: int, timeout: float) -> list[tuple[int, float]]:
    """A morning's round in one process: `sessions` whole sessions one after the other (the same resident, as the
    demo plays it), the resident memory after each. Growth that does not level off would be a leak."""
    home, keys = fresh_home(work)
    result = checked(launch("sessions in one process", [sys.executable, "-c", SHIFT, str(sessions)],
                            child_env(home, keys), work, timeout * sessions), marker=False)
    rows = [line.split() for line in result.stdout_tail.splitlines() if line.startswith("relais-session-rss ")]
    if len(rows) != sessions:
        raise LaunchFailed(f"expected {sessions} sessions, saw {len(rows)}\n--- stderr ---\n{result.stderr_tail}")
    return [(int(n), float(kib)) for _, n, kib in rows]


def mib(kib: float) -> float:
    return kib / 1024


def run(args: argparse.Namespace, work: Path) -> None:
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; Python {platform.python_version()} "
          f"({sys.executable})")
    video = "offscreen (no display)" if headless() else "on screen"
    print(f"window {WINDOW['KCFG_GRAPHICS_WIDTH']}x{WINDOW['KCFG_GRAPHICS_HEIGHT']}, {video}; "
          f"{args.runs} launches of each kind, interleaved, after one uncounted warm-up round\n")

    start_round(work, args.timeout)  # warm-up: the disk cache, the bytecode caches
    rounds = [start_round(work, args.timeout) for _ in range(args.runs)]
    bare, first, later = ([r[i] for r in rounds] for i in range(3))

    def frame(launches: list[Launch]) -> list[float]:
        return [launch.first_frame for launch in launches if launch.first_frame is not None]

    base = statistics.median(frame(bare))
    print(f"{'start -> first interactive frame':<42}{'median':>9}{'p95':>9}{'lifetime (p95)':>21}{'app/bare':>10}")
    for label, launches in (("app, first run (creates store and key)", first), ("app, later start", later),
                            ("bare Kivy window (baseline)", bare)):
        times, lives = frame(launches), [launch.lifetime for launch in launches]
        ratio = statistics.median(times) / base
        print(f"{label:<42}{statistics.median(times) * 1e3:>6.0f} ms{p95(times) * 1e3:>6.0f} ms"
              f"{statistics.median(lives) * 1e3:>11.0f} ms ({p95(lives) * 1e3:4.0f})"
              f"{'' if launches is bare else f'{ratio:>9.2f}x'}")

    demos = [demo_session(work, args.timeout) for _ in range(args.demo_runs)]
    demo_rss = statistics.median(d.max_rss_kib for d, _ in demos)
    bare_rss = statistics.median(b.max_rss_kib for b in bare)
    later_rss = statistics.median(b.max_rss_kib for b in later)
    print(f"\n{'peak resident memory (own ru_maxrss)':<42}{'median':>13}{'':>26}{'x bare':>10}")
    print(f"{'full demo session (--demo --offline)':<42}{mib(demo_rss):>9.1f} MiB{'':>26}{demo_rss / bare_rss:>9.2f}x")
    print(f"{'app, later start (probe, quits at once)':<42}{mib(later_rss):>9.1f} MiB{'':>26}"
          f"{later_rss / bare_rss:>9.2f}x")
    print(f"{'bare Kivy window (baseline)':<42}{mib(bare_rss):>9.1f} MiB")
    shots = ", ".join(str(count) for _, count in demos)
    seconds = ", ".join(f"{d.lifetime:.1f}" for d, _ in demos)
    print(f"\ndemo: {len(demos)} session(s), {shots} screenshots (expected ~13), {seconds} s each")

    if args.sessions:
        rows = shift(work, args.sessions, args.timeout)
        print(f"\n{args.sessions} whole sessions in one process (a morning's round), resident memory after each:")
        print("  " + "  ".join(f"#{n} {mib(kib):.0f}" for n, kib in rows) + " MiB")
        half = len(rows) // 2
        if half >= 2:
            early = (rows[half - 1][1] - rows[0][1]) / (half - 1)
            late = (rows[-1][1] - rows[half][1]) / (len(rows) - 1 - half)
            print(f"  growth per session: {mib(early):.1f} MiB over sessions 1-{half}, {mib(late):.1f} MiB over "
                  f"sessions {half + 1}-{len(rows)} (levelling off means caches filling, not a leak); last "
                  f"{mib(rows[-1][1]) / mib(bare_rss):.2f}x the bare window")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="launches of each kind: app first run, later, bare")
    parser.add_argument("--demo-runs", type=int, default=1, help="full demo sessions for the memory figure")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a launch is killed")
    parser.add_argument("--sessions", type=int, default=8,
                        help="whole sessions in one process for the memory-growth figure (0: skip)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (homes, keys, outputs)")
    args = parser.parse_args()
    if args.runs < 1 or args.demo_runs < 1:
        parser.error("--runs and --demo-runs must be at least 1")

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
