"""Crash safety with real processes killed by SIGKILL at many moments: while the store is written, and while
sessions are uploaded (including after the server committed but before its reply reached the tablet).
Nothing may be lost, half-written or duplicated once the work is restarted. The writers killed are forked from one
interpreter that imported the store once (tests.support.forking): the kills land in the writing, not in Python's
start."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sync import audit, outbox
from sync.server.process import LocalServer
from sync.seed import seed_sessions
from sync.store import Store
from tests.support.forking import Forker

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]

# A tablet that records sessions as fast as it can: patient, session, temperature, close (which enqueues).
WRITER = r"""
import datetime as dt, sys
from sync.store import Store
from sync import closing
path, base = sys.argv[1], int(sys.argv[2])
store = Store(path)
for i in range(10_000):
    born = dt.date(1920, 1, 1) + dt.timedelta(days=base + i)
    pid = store.add_patient(family_name="Kill", given_name="Test", birth_date=born.isoformat(), sex="F",
                            birth_place_insee="75056")
    sid = store.open_session(pid)
    store.add_measurement(sid, code="8310-5", value="37.60", unit="Cel", received_at="2026-11-22T07:00:00+00:00",
                          measured_at="2026-11-22T07:00:00+00:00")
    closing.close_session(store, sid)
    print(i, flush=True)
"""


def check_store_invariants(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    with Store(path) as store:
        db = store.db
        closed = {r["id"] for r in db.query("SELECT id FROM sessions WHERE state = 'closed'")}
        queued = [r["session_id"] for r in db.query("SELECT session_id FROM outbox")]
        assert sorted(queued) == sorted(closed)              # closed <=> exactly one outbox row
        for row in db.query("SELECT s.id, count(m.id) AS n FROM sessions s LEFT JOIN measurements m "
                            "ON m.session_id = s.id WHERE s.state = 'closed' GROUP BY s.id"):
            assert row["n"] == 1                             # a closed session holds its whole measurement
        for entry in outbox.entries(store):
            json.loads(entry.payload)                        # every frozen payload is whole JSON
        assert audit.verify(store).ok                        # the audit chain is whole: trace and act commit together
        traced = {r["subject_id"] for r in db.query("SELECT subject_id FROM audit_log WHERE action = 'close'")}
        assert traced == closed                              # every close traced, no trace of a close that did not happen
        return len(closed), db.conn.execute("SELECT count(*) FROM sessions").fetchone()[0]


def wait_for_output(path: Path, timeout: float = 60.0) -> None:
    """Until the child wrote its first line (or died, leaving a traceback there)."""
    deadline = time.monotonic() + timeout
    while not path.read_text().endswith("\n"):
        assert time.monotonic() < deadline, "the child never wrote"
        time.sleep(0.005)


def test_store_survives_sigkill_at_many_points(tmp_path):
    path, output = tmp_path / "tablet.db", tmp_path / "writer.out"
    rng = random.Random(20261122)
    kills, last_closed = 0, 0
    with Forker(["sync.store", "sync.closing"], cwd=ROOT) as forker:
        for run in range(12):
            output.write_text("")
            pid = forker.start([path, run * 2_000], code=WRITER, output=output)  # birth dates up to 1985
            wait_for_output(output)                          # the store is open and writing
            time.sleep(rng.uniform(0.0, 0.25))
            os.kill(pid, signal.SIGKILL)
            assert forker.wait() == -signal.SIGKILL, output.read_text()[-2000:]
            kills += 1
            closed, _ = check_store_invariants(path)
            assert closed >= last_closed                     # nothing committed is ever lost
            last_closed = closed
    assert kills == 12 and last_closed > 12


def _why(done: subprocess.CompletedProcess, tablet: Path, server_log: Path) -> str:
    """What a failed final push said, why its sessions were put back, and the end of the server's log."""
    with Store(tablet) as store:
        errors = sorted({e.last_error or "" for e in outbox.entries(store, "pending")})
    log = server_log.read_text(errors="replace")[-3000:] if server_log.exists() else ""
    return f"{done.stdout}{done.stderr}\nlast errors: {errors}\nserver log:\n{log}"


def test_upload_survives_sigkill_at_many_points(tmp_path):
    tablet = tmp_path / "tablet.db"
    with Store(tablet) as store:
        seed_sessions(store, 30, seed=3)
    expected = set()
    with Store(tablet) as store:
        for entry in outbox.entries(store):
            for e in json.loads(entry.payload)["entry"]:
                if e["resource"]["resourceType"] == "Observation":
                    expected.add(e["request"]["ifNoneExist"])
    rng = random.Random(7)
    with LocalServer(tmp_path / "server.db", log_path=tmp_path / "server.log") as server:
        host_port = server.url.split("//")[1].split("/")[0]
        proxy = subprocess.Popen([sys.executable, "-m", "sync", "proxy", "--listen", "0", "--target", host_port,
                                  "--latency-ms", "120"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            address = proxy.stdout.readline().split()[2]
            push = [sys.executable, "-m", "sync", "push", "--server", f"{address}/fhir", "--db", str(tablet),
                    "--batch-size", "2"]
            # how long a push takes to start on this machine now (a loaded CI box is slower): the kills are spread
            # from just before its first request to well into the upload, whatever the load
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "sync", "status", "--db", str(tablet)], capture_output=True,
                           cwd=ROOT, timeout=60)
            startup = time.monotonic() - started
            for _ in range(18):                              # killed mid-write, mid-upload, before/after commit
                proc = subprocess.Popen(push, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
                time.sleep(rng.uniform(0.8 * startup, startup + 0.9))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            # then the network stays up until all is sent: straight to the server, nothing in between
            direct = [*push[:push.index("--server") + 1], server.url, *push[push.index("--server") + 2:]]
            for _ in range(10):
                done = subprocess.run(direct, capture_output=True, text=True, cwd=ROOT, timeout=60)
                if done.returncode == 0:
                    break
            assert done.returncode == 0, _why(done, tablet, tmp_path / "server.log")
        finally:
            proxy.send_signal(signal.SIGTERM)
            out, _ = proxy.communicate(timeout=10)
        passed = json.loads(out.strip().splitlines()[-1])["counts"].get("pass", 0)
        answered = len(re.findall(r"POST /fhir 200 ", (tmp_path / "server.log").read_text()))
        # 30 sessions in pairs need 15 transactions; how many of the kills landed mid-upload depends on the machine's
        # load (the proxy's passes say), so it is not asserted
        assert answered >= 15, (answered, passed)
        held = requests.get(f"{server.url}/Observation", timeout=30).json()
    identifiers = [f"identifier={i['system']}|{i['value']}" for e in held.get("entry", [])
                   for i in e["resource"].get("identifier", [])]
    assert sorted(identifiers) == sorted(expected)           # every observation exactly once
    with Store(tablet) as store:
        assert store.outbox_counts()["sent"] == 30 and store.outbox_counts()["in_flight"] == 0
