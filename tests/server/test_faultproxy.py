"""The fault-injecting proxy itself: seeded draws replay, loopback targets only, a pass-through relays keep-alive
exchanges with the added latency and counts them, and `python -m sync proxy` runs it from the command line."""
from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from sync.server.faultproxy import FAULT_KINDS, KINDS, FaultProxy, parse_target
from tests.support.servers import PROJECT_ROOT


# -- the proxy itself ------------------------------------------------------------------------------------------------

def test_same_seed_same_faults():
    def draws(seed):
        proxy = FaultProxy("127.0.0.1:9", fault_rate=0.3, seed=seed)
        return [proxy.next_kind() for _ in range(500)]

    assert draws(42) == draws(42) != draws(43)
    kinds = collections.Counter(draws(42))
    assert set(kinds) == set(KINDS) and 100 < sum(kinds[k] for k in FAULT_KINDS) < 200
    only = FaultProxy("127.0.0.1:9", fault_rate=1.0, kinds={"lost_ack": 1}, seed=1)
    assert {only.next_kind() for _ in range(50)} == {"lost_ack"}


def test_loopback_only():
    assert parse_target("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_target("http://localhost:80/fhir") == ("localhost", 80)
    for bad in ("10.0.0.5:80", "example.org:443", "192.168.1.1:8080", "8080"):
        with pytest.raises(ValueError):
            parse_target(bad)


def test_pass_through_relays_requests_and_counts_them(server):
    with FaultProxy(server.url, latency_ms=30) as proxy:
        http = requests.Session()
        started = time.monotonic()
        for _ in range(3):  # one keep-alive connection, three exchanges
            reply = http.get(f"{proxy.url_for(server.url)}/metadata", timeout=10)
            assert reply.status_code == 200 and reply.json()["resourceType"] == "CapabilityStatement"
        assert time.monotonic() - started >= 0.09  # the added latency, once per exchange
        stats = proxy.stats()
    assert stats["counts"]["pass"] == 3 and stats["faults"] == 0 and stats["connections"] == 1
    assert stats["bytes_up"] > 0 and stats["bytes_down"] > 0


# -- the command line ------------------------------------------------------------------------------------------------

def test_proxy_command_line(server):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    host_port = server.url.split("//")[1].split("/")[0]
    proc = subprocess.Popen([sys.executable, "-m", "sync", "proxy", "--listen", "0", "--target", host_port,
                             "--fault-rate", "1", "--kinds", "http503", "--seed", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT)
    try:
        banner = proc.stdout.readline()
        assert banner.startswith("proxying on http://127.0.0.1:"), banner + proc.stderr.read()
        address = banner.split()[2]
        reply = requests.get(f"{address}/fhir/metadata", timeout=10)
        assert reply.status_code == 503 and reply.headers["Retry-After"] == "1"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["counts"]["http503"] == 1 and stats["seed"] == 5
    bad = subprocess.run([sys.executable, "-m", "sync", "proxy", "--listen", "0", "--target", "10.1.2.3:80"],
                         capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=30)
    assert bad.returncode == 2 and "loopback" in bad.stderr
