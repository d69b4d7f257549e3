"""One uploader per store (sync.upload_lock): a second `python -m sync push` exits busy while the first is held
mid-upload, the in-flight rows of a living uploader are never put back to pending (so never sent twice), the
app's loop skips a round instead of waiting, and a process killed by SIGKILL while holding the lock does not block
the next one."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from sync import outbox
from sync.background import SyncLoop
from sync.seed import seed_sessions
from sync.store import Store
from sync.upload_lock import UploaderBusy, lock_path, upload_lock
from sync.uploader import Uploader
from tests.support.http_stub import RecordedRequest, StubResponse, StubServer
from tests.support.servers import PROJECT_ROOT

pytestmark = pytest.mark.timeout(120)
EXIT_BUSY = 3


def answer(request: RecordedRequest) -> StubResponse:
    count = len(json.loads(request.body)["entry"])
    return StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                              "entry": [{"response": {"status": "201 Created"}} for _ in range(count)]})


class HeldReplies:
    """A FHIR stub that holds every reply until `release()`: an upload blocked mid-request."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.stub = StubServer(self._respond)

    def _respond(self, request: RecordedRequest) -> StubResponse:
        self.gate.wait(60)
        return answer(request)

    def release(self) -> None:
        self.gate.set()

    def __enter__(self) -> "HeldReplies":
        self.stub.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.stub.__exit__(*exc)


def cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "sync", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=PROJECT_ROOT, **kw)


def wait_until(predicate, timeout=30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def sessions_received(requests: list[RecordedRequest]) -> list[str]:
    """The Encounter identifiers of every request, one per session sent (a resend counts again)."""
    return [e["request"]["url"] for r in requests for e in json.loads(r.body)["entry"]
            if e["resource"]["resourceType"] == "Encounter"]


def test_the_lock_is_owner_only_beside_the_store_and_a_second_holder_waits_then_gives_up(tmp_path):
    store_path = tmp_path / "relais.db"
    with upload_lock(store_path):
        assert stat.S_IMODE(os.stat(lock_path(store_path)).st_mode) == 0o600
        assert lock_path(store_path).parent == tmp_path
        started = time.monotonic()
        with pytest.raises(UploaderBusy) as busy:  # another descriptor, even in this process: excluded
            with upload_lock(store_path, wait=0.3):
                pass
        assert 0.3 <= time.monotonic() - started < 2 and busy.value.code == "upload.busy"
    with upload_lock(store_path):  # released: taken again at once
        pass


def test_a_push_while_another_uploader_holds_the_store_does_nothing_and_says_busy(store):
    seed_sessions(store, 2, complete=False)
    claimed = outbox.claim_batch(store, limit=1)  # as another uploader would, before its request
    with StubServer(answer) as stub, upload_lock(store.path):
        result = Uploader(stub.url).push(store, lock_wait=0.1)
        with Store(store.path):  # opening the store meanwhile recovers nothing either
            pass
        assert (result.stopped, result.sent, result.requests, stub.requests) == ("busy", 0, 0, [])
        assert outbox.get_entry(store, claimed[0].id).state == "in_flight"  # still the other uploader's
    with Store(store.path) as reopened:  # the lock is free: the row left in flight is a dead uploader's
        assert outbox.get_entry(reopened, claimed[0].id).state == "pending"


def test_a_second_push_exits_busy_while_the_first_is_held_mid_upload_and_each_session_lands_once(tmp_path):
    db = tmp_path / "tablet.db"
    with Store(db) as store:
        seed_sessions(store, 3, complete=False)
    with HeldReplies() as server:
        first = cli("push", "--db", str(db), "--server", server.stub.url)
        try:
            wait_until(lambda: len(server.stub.requests) == 1)  # the first push is mid-request, lock held
            second = cli("push", "--db", str(db), "--server", server.stub.url, "--wait", "0.3")
            out, err = second.communicate(timeout=60)
            assert second.returncode == EXIT_BUSY, err
            assert "busy" in err and out == ""
            with Store(db, recover_in_flight=False) as peek:  # the first push's batch is still its own
                assert peek.outbox_counts()["in_flight"] == 3
        finally:
            server.release()
            out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        assert json.loads(out)["sent"] == 3
        received = sessions_received(server.stub.requests)
        assert len(received) == 3 and len(set(received)) == 3  # each session once: nothing was sent twice


def test_an_uploader_killed_while_holding_the_lock_does_not_block_the_next_one(tmp_path):
    db = tmp_path / "tablet.db"
    with Store(db) as store:
        seed_sessions(store, 2, complete=False)
    with HeldReplies() as server:
        doomed = cli("push", "--db", str(db), "--server", server.stub.url)
        wait_until(lambda: len(server.stub.requests) == 1)
        doomed.send_signal(signal.SIGKILL)  # no cleanup code runs: only the kernel can drop the flock
        doomed.communicate(timeout=30)
        server.release()
        started = time.monotonic()
        after = cli("push", "--db", str(db), "--server", server.stub.url, "--wait", "0")
        out, err = after.communicate(timeout=60)
        assert after.returncode == 0, err
        assert json.loads(out)["sent"] == 2 and time.monotonic() - started < 30
    with Store(db) as store:
        assert store.outbox_counts() == {"pending": 0, "in_flight": 0, "sent": 2, "rejected": 0}


async def test_the_app_loop_skips_a_round_while_the_store_is_busy(tmp_path):
    path = tmp_path / "tablet.db"
    with Store(path) as store:
        seed_sessions(store, 1, complete=False)
    with StubServer(answer) as stub:
        loop = SyncLoop(path, stub.url, interval_seconds=60)
        with upload_lock(path):
            loop.start()
            try:
                deadline = time.monotonic() + 20
                while loop.passes < 1:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.02)
                assert (loop.busy_rounds, loop.last_result, stub.requests) == (1, None, [])
            except BaseException:
                await loop.stop()
                raise
        try:
            loop.trigger()  # the other uploader is gone: the next round sends
            deadline = time.monotonic() + 20
            while loop.last_result is None:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            assert loop.last_result.sent == 1
        finally:
            await loop.stop()


def test_the_busy_exit_status_is_documented_in_the_help():
    done = cli("push", "--help")
    out, _ = done.communicate(timeout=60)
    assert done.returncode == 0 and "3 busy" in out and "--wait" in out
