"""Real processes started cheaply: one interpreter imports what they need once, then forks a child per job (os.fork,
POSIX). Each child is a real process — its own exit code, output streams, environment, and a real SIGKILL stops it
at any point — as a fresh interpreter would be, without paying Python's start and the project's imports every time
(over a second each on a loaded machine). Used for processes killed on purpose and for the `python -m sync` commands.

The forking interpreter runs nothing else (no thread, no open file or store), so every child starts clean; it reaps
each child and reports its exit code. Jobs run one at a time: start one, let it run or kill it, then wait for it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

FORKER = r"""
import json, os, sys, traceback
for name in json.loads(sys.argv[1]):
    __import__(name)

def run(job):
    for fd, name in ((1, "stdout"), (2, "stderr")):
        os.dup2(os.open(job[name] or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    sys.stdin = open(job["stdin"] or os.devnull, encoding="utf-8")
    if job["env"] is not None:
        os.environ.clear()
        os.environ.update(job["env"])
    sys.argv = ["-c", *job["argv"]]
    try:
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


SYNC_MAIN = "import sys\nfrom sync.__main__ import main\nsys.exit(main(sys.argv[1:]))\n"  # python -m sync
# What the sync commands import, loaded once by a forker that runs them.
SYNC_CLI_IMPORTS = ("sync.__main__", "sync.store", "sync.outbox", "sync.uploader", "sync.server_config",
                    "sync.cli_messages", "sync.seed", "sync.delivery.mail_outbox", "sync.delivery.mssante_cli",
                    "sync.transaction_limits", "sync.pull", "sync.audit_extracts", "requests")


class Forker:
    """`with Forker(["sync.store"], cwd=ROOT) as forker: pid = forker.start(code=..., argv=[...]); ...;
    os.kill(pid, SIGKILL); forker.wait()` → the child's exit code (-9 once killed)."""

    def __init__(self, preload: Iterable[str], *, cwd: Path) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="forker_")
        self._process = subprocess.Popen([sys.executable, "-c", FORKER, json.dumps(list(preload))], cwd=cwd,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def start(self, argv: Iterable[str] = (), *, code: str, output: Path | None = None, stderr: Path | None = None, stdin: Path | None = None,
              env: Mapping[str, str] | None = None) -> int:
        """Fork a child running `python -c code argv…`, its stdout (and its stderr,
        unless `stderr` is given) written to `output` (discarded when None), reading `stdin` (else nothing), with
        `env` as its whole environment (else the forker's); returns its pid."""
        job = {"argv": [str(a) for a in argv], "code": code, "env": dict(env) if env else None,
               "stdout": str(output) if output else None, "stderr": str(stderr or output) if output or stderr else None,
               "stdin": str(stdin) if stdin else None}
        self._process.stdin.write(json.dumps(job) + "\n")
        self._process.stdin.flush()
        return int(self._process.stdout.readline())

    def wait(self) -> int:
        """The exit code of the child started last, once it ended (negative: the signal that killed it)."""
        return int(self._process.stdout.readline())

    def close(self) -> None:
        self._scratch.cleanup()
        self._process.stdin.close()
        self._process.wait(timeout=30)

    def cli(self, *argv: object, env: Mapping[str, str] | None = None, input: str | None = None
            ) -> subprocess.CompletedProcess:
        """`python -m sync argv…` as `subprocess.run(..., capture_output=True, text=True)` would give it, from a
        child of this forker (preload "sync.__main__" and what the commands use). Without `env`, the child gets the
        caller's environment as it is now, as a subprocess would."""
        scratch = Path(self._scratch.name)
        stdin = None
        if input is not None:
            stdin = scratch / "stdin"
            stdin.write_text(input, encoding="utf-8")
        self.start(argv, code=SYNC_MAIN, output=scratch / "stdout", stderr=scratch / "stderr", stdin=stdin,
                   env=os.environ if env is None else env)
        code = self.wait()
        return subprocess.CompletedProcess(["-m", "sync", *map(str, argv)], code,
                                           (scratch / "stdout").read_text(), (scratch / "stderr").read_text())

    def __enter__(self) -> "Forker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
