"""One uploader per store: an OS file lock beside the store file, taken by whatever claims outbox rows.

Why: the outbox's transitions are each atomic, but "put the in-flight rows back to pending" (after a crash) is only
right when no living process has rows in flight. If `python -m sync push` ran while the app's background loop was
uploading, it would put the app's in-flight batch back to pending and send it a second time. So every upload pass,
and the in-flight recovery, runs holding this lock; a second uploader waits a short bounded time, then gives up
("busy"), and the in-flight rows it sees are never its business.

How: `flock(LOCK_EX | LOCK_NB)` on `<store>.upload.lock`, created owner-only (0600), polled until the wait is over.
The kernel drops a flock when its descriptor is closed, which includes the process dying by any signal (SIGKILL
too): a crashed uploader never blocks the next one, and there is no stale lock file to clean (the file stays; only
the lock on it matters). A flock belongs to the open file description, so two uploaders inside one process also
exclude each other (flock(2), Linux man-pages).

Where `fcntl` does not exist: Android (python-for-android) is Linux and has it. On Windows `msvcrt.locking` locks
the first byte of the file instead (LK_NBLCK, the same non-blocking polling), which Windows also releases when the
process ends; that path is written to the same contract but not exercised by this project's tests, which run on
Linux. With neither module, the lock only excludes uploaders of the same process, and says so in the log.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Iterator

from sync.errors import RelaisError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:
    msvcrt = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".upload.lock"
POLL_SECONDS = 0.05
_process_locks: dict[str, threading.Lock] = {}  # only used without fcntl and msvcrt
_process_locks_guard = threading.Lock()


class UploaderBusy(RelaisError):
    """Another uploader holds this store's lock: code `upload.busy`."""


def lock_path(store_path: str | os.PathLike[str]) -> Path:
    store_path = Path(store_path)
    return store_path.with_name(store_path.name + LOCK_SUFFIX)


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:  # BlockingIOError with flock; PermissionError with msvcrt
        return False
    return True


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _open_lock_file(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    if hasattr(os, "fchmod"):
        with contextlib.suppress(OSError):  # a file of another account: its mode is not ours to set
            os.fchmod(fd, 0o600)
    return fd


@contextlib.contextmanager
def upload_lock(store_path: str | os.PathLike[str], *, wait: float = 0.0) -> Iterator[None]:
    """Hold the upload lock of the store at `store_path` for the `with` block. Waits at most `wait` seconds for
    another holder to finish, then raises UploaderBusy."""
    if fcntl is None and msvcrt is None:  # pragma: no cover - neither POSIX nor Windows
        with _in_process_lock(store_path, wait):
            yield
        return
    fd = _open_lock_file(lock_path(store_path))
    try:
        deadline = time.monotonic() + max(0.0, wait)
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise UploaderBusy("upload.busy")
            time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _in_process_lock(store_path: str | os.PathLike[str], wait: float) -> Iterator[None]:  # pragma: no cover
    log.warning("no OS file lock on this platform: only uploaders of this process exclude each other")
    with _process_locks_guard:
        lock = _process_locks.setdefault(str(Path(store_path).resolve()), threading.Lock())
    acquired = lock.acquire(timeout=wait) if wait > 0 else lock.acquire(blocking=False)
    if not acquired:
        raise UploaderBusy("upload.busy")
    try:
        yield
    finally:
        lock.release()

