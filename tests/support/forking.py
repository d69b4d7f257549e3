"""Real processes to kill, started cheaply: one interpreter imports what they need once, then forks a child per job
(os.fork, POSIX). Each child is a real process that a real SIGKILL stops at any point, as a fresh interpreter would
be, without paying Python's start and the project's imports every time (over a second each on a loaded machine).

The forking interpreter runs nothing else (no thread, no open file or store), so every child starts clean; it reaps
each child and reports its exit code. Jobs run one at a time: start one, let it run or kill it, then wait for it.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Iterable

FORKER = r"""
import json, os, runpy, sys, traceback
for name in json.loads(sys.argv[1]):
    __import__(name)

def run(job):
    out = os.open(job["output"] or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(out, 2)
    sys.argv = [job["module"] or "-c", *job["argv"]]
    try:
        if job["module"]:
            runpy.run_module(job["module"], run_name="__main__", alter_sys=True)
        else:
            exec(compile(job["code"], "<job>", "exec"), {"__name__": "__main__"})
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1

for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = run(job)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


class Forker:
    """`with Forker(["sync.store"], cwd=ROOT) as forker: pid = forker.start(code=..., argv=[...]); ...;
    os.kill(pid, SIGKILL); forker.wait()` → the child's exit code (-9 once killed)."""

    def __init__(self, preload: Iterable[str], *, cwd: Path) -> None:
        self._process = subprocess.Popen([sys.executable, "-c", FORKER, json.dumps(list(preload))], cwd=cwd,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def start(self, argv: Iterable[str] = (), *, module: str | None = None, code: str | None = None,
              output: Path | None = None) -> int:
        """Fork a child running `python -m module argv…` or `python -c code argv…`, its stdout and stderr written
        to `output` (discarded when None); returns its pid."""
        job = {"argv": [str(a) for a in argv], "module": module, "code": code,
               "output": str(output) if output else None}
        self._process.stdin.write(json.dumps(job) + "\n")
        self._process.stdin.flush()
        return int(self._process.stdout.readline())

    def wait(self) -> int:
        """The exit code of the child started last, once it ended (negative: the signal that killed it)."""
        return int(self._process.stdout.readline())

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=30)

    def __enter__(self) -> "Forker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
