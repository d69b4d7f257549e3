"""`python -m sync pull` and the app's background loop: a JSON summary of what came down; a server that cannot
be reached is one plain line and exit 1, with nothing lost; the loop pulls after an upload pass that reached the
server, never while offline, and a failing pull never stops it."""
from __future__ import annotations

import asyncio
import json
import time

import pytest

from sync.background import SyncLoop
from sync.seed import DEMO_SITE, seed_sessions
from sync.store import Store
from sync.uploader import Uploader
from tests.support.http_stub import RecordedRequest, StubResponse, StubServer
from tests.support.samples import closed_session
from tests.support.servers import DevServer, free_port

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A development server holding four sessions of the demo site, pushed by another tablet."""
    work = tmp_path_factory.mktemp("pull-cli")
    with DevServer(work / "server.db") as srv:
        with Store(work / "a.db") as a:
            seed_sessions(a, 4, seed=7, doctors=True)
            assert Uploader(srv.url).push(a).remaining == 0
        srv.tablet_a = work / "a.db"
        yield srv


@pytest.fixture
def run_cli(sync_cli):
    """`python -m sync …`, forked from an interpreter that imported the commands once (tests/conftest.py)."""
    return sync_cli


def tablet_b(path) -> None:
    with Store(path) as b:
        b.add_site(**DEMO_SITE)


def test_pull_prints_what_came_down_and_a_second_pull_finds_nothing_new(server, tmp_path, run_cli):
    tablet_b(tmp_path / "b.db")
    first = run_cli("pull", "--server", server.url, "--db", str(tmp_path / "b.db"))
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["counts"]["sessions"]["created"] == 4 and summary["counts"]["residents"]["created"] >= 1
    assert summary["pages"] >= 5 and summary["requests"] == summary["pages"] + 1
    again = json.loads(run_cli("pull", "--server", server.url, "--db", str(tmp_path / "b.db")).stdout)
    assert all(c["created"] == c["updated"] == 0 for c in again["counts"].values())


def test_pull_on_a_new_path_creates_the_store(server, tmp_path, run_cli):
    done = run_cli("pull", "--server", server.url, "--db", str(tmp_path / "new.db"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new.db").exists() and json.loads(done.stdout)["requests"] == 0  # no site yet


def test_a_new_tablet_joins_its_site_by_finess_and_gets_everything(server, tmp_path, run_cli):
    done = run_cli("pull", "--server", server.url, "--db", str(tmp_path / "new.db"), "--site", DEMO_SITE["finess"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"]["sessions"]["created"] == 4
    with Store(tmp_path / "new.db") as b, Store(server.tablet_a) as a:
        (site,) = b.list_sites()
        (origin,) = a.list_sites()  # the same place under the same id as on the tablet that created it
        assert {k: site[k] for k in ("id", "kind", "name", "finess")} == {k: origin[k] for k in
                                                                         ("id", "kind", "name", "finess")}
        assert b.query("SELECT count(*) AS n FROM patients")[0]["n"] == a.query(
            "SELECT count(*) AS n FROM patients")[0]["n"]


def test_a_site_the_server_does_not_know_is_refused_and_nothing_is_added(server, tmp_path, run_cli):
    tablet_b(tmp_path / "b.db")
    done = run_cli("pull", "--server", server.url, "--db", str(tmp_path / "b.db"), "--site", "000000026")
    assert done.returncode == 2 and "no site '000000026' on this tablet nor on the server" in done.stderr
    with Store(tmp_path / "b.db") as b:
        assert len(b.list_sites()) == 1


def test_a_server_out_of_reach_is_one_plain_line_and_nothing_moves(tmp_path, run_cli):
    tablet_b(tmp_path / "b.db")
    done = run_cli("pull", "--server", f"http://127.0.0.1:{free_port()}/fhir", "--db", str(tmp_path / "b.db"))
    assert done.returncode == 1
    assert "could not be reached" in done.stderr and "Traceback" not in done.stderr
    with Store(tmp_path / "b.db") as b:
        assert b.query("SELECT count(*) AS n FROM pull_cursors") == [{"n": 0}]


async def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


async def test_the_background_loop_pulls_after_pushing(server, tmp_path):
    tablet_b(tmp_path / "b.db")
    loop = SyncLoop(tmp_path / "b.db", server.url, interval_seconds=60)
    loop.start()
    try:
        await wait_for(lambda: loop.last_pull is not None)
    finally:
        await loop.stop()
    assert loop.last_pull.counts["sessions"]["created"] == 4 and loop.last_pull_error is None
    with Store(tmp_path / "b.db") as b:
        assert len(b.query("SELECT id FROM history_sessions")) == 4


async def test_the_loop_does_not_pull_while_offline(tmp_path):
    tablet_b(tmp_path / "b.db")
    with Store(tmp_path / "b.db") as b:  # something to upload, so the pass finds out the server is out of reach
        closed_session(b)
    loop = SyncLoop(tmp_path / "b.db", f"http://127.0.0.1:{free_port()}/fhir", interval_seconds=60)
    loop.start()
    try:
        await wait_for(lambda: loop.passes >= 1)
    finally:
        await loop.stop()
    assert loop.last_result.stopped == "transient" and loop.last_pull is None and loop.last_pull_error is None


async def test_a_failing_pull_never_stops_the_loop(tmp_path):
    tablet_b(tmp_path / "b.db")

    def answer(request: RecordedRequest) -> StubResponse:
        if request.method == "POST":  # uploads go through (the audit trail's extract)
            count = len(json.loads(request.body)["entry"])
            return StubResponse(200, {"resourceType": "Bundle", "type": "transaction-response",
                                      "entry": [{"response": {"status": "201 Created"}}] * count})
        return StubResponse(500, {"resourceType": "OperationOutcome", "issue": []})  # every search fails

    with StubServer(answer) as stub:
        loop = SyncLoop(tmp_path / "b.db", stub.url, interval_seconds=0.05)
        loop.start()
        try:
            await wait_for(lambda: loop.passes >= 2)
        finally:
            await loop.stop()
    assert loop.last_pull_error == "pull.http" and loop.last_error is None
