"""Where a report's documents are built: in this process, or in a short-lived child process of their own.

Building the PDF imports fpdf2 with fontTools, Pillow and cryptography behind it, and the CDA lxml: some 27 MiB
that a process keeps for the rest of the day once a first report is made (their modules, and the memory pages
their import and the font's parsing leave pinned), for documents made once a session. On the tablet the app
hands the build to a child process (`ChildProcessRenderer`): it imports those libraries, builds one report's
documents, writes them back and exits, and everything it held goes with it.

The child is started ahead of need (`prepare`, when staff reach the summary that precedes the close), so that a
close waits for the build alone and not for the child's imports. One child builds one report. Where no child can
run (no interpreter to start, as in a packaged Android app) or when it fails or runs over its time, the documents
are built in this process instead: a close never fails for want of a child, nor waits for one more than its time
limit (15 s; a build takes about 0.1 s here). Either way the bytes are the same (sync.delivery.documents is pure),
which the tests check.

The request and the answer cross the child's pipes as pickles: the child is this program's own code started by
it, and nothing else can write to those pipes. The child's error output is not logged: it may quote the report.
"""
from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Protocol

from sync.delivery.content import ReportContent
from sync.delivery.documents import ReportDocuments, build_documents

log = logging.getLogger(__name__)

WORKER_MODULE = "sync.delivery.render_worker"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `sync` package


def build_pdf(content: ReportContent, *, version: int, created_at: str) -> bytes:
    from sync.delivery.pdf import report_pdf  # fpdf2 only when a PDF is made (see sync.delivery.documents)

    return report_pdf(content, version=version, created_at=created_at)


JOBS = {"documents": build_documents, "pdf": build_pdf}


class ReportRenderer(Protocol):
    def documents(self, content: ReportContent, **ids: Any) -> ReportDocuments: ...

    def pdf(self, content: ReportContent, *, version: int, created_at: str) -> bytes: ...

    def prepare(self) -> None: ...

    def close(self) -> None: ...


class InProcessRenderer:
    """The documents built in the calling process (command-line tools, tests, platforms without a child)."""

    def documents(self, content: ReportContent, **ids: Any) -> ReportDocuments:
        return build_documents(content, **ids)

    def pdf(self, content: ReportContent, *, version: int, created_at: str) -> bytes:
        return build_pdf(content, version=version, created_at=created_at)

    def prepare(self) -> None:
        """Nothing to start ahead."""

    def close(self) -> None:
        """Nothing to stop."""


IN_PROCESS = InProcessRenderer()


class ChildProcessRenderer:
    """Each report built by a child process started for it (see the module's docstring)."""

    def __init__(self, *, python: str | None = None, timeout: float = 15.0) -> None:
        self.python = sys.executable if python is None else python
        self.timeout = timeout
        self._ready: subprocess.Popen | None = None  # a child started ahead, waiting for its job
        self._lock = threading.Lock()

    @staticmethod
    def available(python: str | None = None) -> bool:
        """True where an interpreter can be started as a child (not in a packaged Android app)."""
        python = sys.executable if python is None else python
        return bool(python) and os.access(python, os.X_OK) and "ANDROID_ARGUMENT" not in os.environ

    def prepare(self) -> None:
        """Start the next report's child now, unless one is already waiting."""
        with self._lock:
            if self._ready is None or self._ready.poll() is not None:
                self._ready = self._start()

    def documents(self, content: ReportContent, **ids: Any) -> ReportDocuments:
        return self._run("documents", content, ids)

    def pdf(self, content: ReportContent, *, version: int, created_at: str) -> bytes:
        return self._run("pdf", content, {"version": version, "created_at": created_at})

    def close(self) -> None:
        """Stop a child started ahead and not used (the app is quitting)."""
        with self._lock:
            child, self._ready = self._ready, None
        if child is not None:
            _stop(child)

    def _start(self) -> subprocess.Popen | None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p))
        try:
            return subprocess.Popen([self.python, "-m", WORKER_MODULE], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=PROJECT_ROOT)
        except OSError as exc:
            log.warning("report renderer: cannot start a child process (%s); building here",
                        type(exc).__name__)
            return None

    def _take_child(self) -> subprocess.Popen | None:
        with self._lock:
            child, self._ready = self._ready, None
        if child is None or child.poll() is not None:
            child = self._start()
        return child

    def _run(self, job: str, content: ReportContent, kwargs: dict[str, Any]) -> Any:
        child = self._take_child()
        result = self._ask(child, job, content, kwargs) if child is not None else None
        return JOBS[job](content, **kwargs) if result is None else result

    def _ask(self, child: subprocess.Popen, job: str, content: ReportContent, kwargs: dict[str, Any]) -> Any:
        """The child's answer, or None (said in the log, without the report) when it has none to give."""
        try:
            out, _err = child.communicate(pickle.dumps((job, content, kwargs)), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _stop(child)
            log.warning("report renderer: the child ran over %.0f s; building here", self.timeout)
            return None
        except OSError as exc:
            _stop(child)
            log.warning("report renderer: the child's pipes failed (%s); building here", type(exc).__name__)
            return None
        if child.returncode != 0 or not out:
            log.warning("report renderer: the child failed (exit code %s); building here", child.returncode)
            return None
        try:
            return pickle.loads(out)
        except Exception:  # noqa: BLE001 - whatever it wrote, the report is built here
            log.warning("report renderer: the child's answer is unreadable; building here")
            return None


def _stop(child: subprocess.Popen) -> None:
    child.kill()
    try:
        child.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        pass


def renderer_of(db: Any) -> ReportRenderer:
    """The renderer the store was given (the app's: a child process), else this process."""
    return getattr(db, "report_renderer", None) or IN_PROCESS
