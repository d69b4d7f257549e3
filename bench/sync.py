"""Benchmark (run by hand): draining a backlog of closed sessions to the development FHIR server.

A store is seeded with N complete closed demo sessions (default 1,000; sync.seed: three devices each, i.e. SpO2,
pulse, a blood pressure panel and a temperature, with consent, encounter and summary). Then, each side --runs times
(default 3), each run against a fresh development server run as a subprocess (timed once it has fully started)
and reached through sync.server.faultproxy, in a process of its own like the network, with added latency (default
50 ms per request, faults off), in the same process run:
  - batched: the Relais uploader, up to --batch-size sessions merged per transaction Bundle, gzipped bodies;
  - per session: the same uploader sending one session per request (batch size 1), the fair baseline;
  - naive: one resource per request, the way a generic FHIR client does it: each session's resources in
    dependency order (Patient, Organization, Practitioner, Encounter, Devices, Observations, Consent,
    Composition), every reference rewritten to the server id created before it, POSTed one by one as conditional
    creates (`If-None-Exist`) with plain requests, decimals sent as written. It is slow, so it uploads the first
    --naive-sessions sessions (default 100) and is compared per session.
After every run the server is checked for every resource type the bundles hold: each identifier a bundle creates
or updates by (its ifNoneExist or conditional update) is held by exactly one resource (no loss, no duplicate), no
resource of the type is left over, and every quantity kept its decimals ("36.90"). Any mismatch stops the bench.
It prints each run, then per side the minimum and median time, sessions per second, requests and bytes on the wire
per session (both directions, HTTP headers included, as counted by the proxy), and the ratios between the sides.
Goal: the batched upload of 1,000 sessions at 50 ms at least 200 sessions/s.

--scale K also uploads a backlog K times larger (batched, --runs times, each run right after one of the N backlog,
so that both sizes see the same minutes of the machine) and prints the time ratio against the N backlog (goal for
K = 10: at most 10.5, i.e. linear); seeding 10,000 sessions takes minutes, hence an option.

    .venv/bin/python bench/sync.py [--sessions 1000] [--latency-ms 50] [--batch-size 20] [--runs 3] [--scale 10]
                                   [--naive-sessions 100] [--no-naive] [--no-per-session] [--keep]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

# this file is named sync.py: run as a script, its folder comes first on sys.path and would shadow the sync package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import requests  # noqa: E402

from sync import batching, fhir, outbox  # noqa: E402
from sync.server.process import PROJECT_ROOT, LocalServer  # noqa: E402
from sync.seed import seed_sessions  # noqa: E402
from sync.store import Store  # noqa: E402
from sync.uploader import Uploader  # noqa: E402


# -- what the server must hold --------------------------------------------------------------------------------------

def matched_identifier(entry: dict[str, Any]) -> tuple[str, str]:
    """(type, "system|value") an entry is created or updated by: its ifNoneExist, or its conditional update's URL."""
    request = entry["request"]
    query = request.get("ifNoneExist") or str(request["url"]).partition("?")[2]
    return entry["resource"]["resourceType"], unquote(query.removeprefix("identifier="))


def expected_of(payloads: list[str]) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Per resource type, the identifiers the server must hold once each; per Observation identifier, the decimal
    text of its quantity."""
    idents: dict[str, set[str]] = {}
    values: dict[str, str] = {}
    for payload in payloads:
        for entry in fhir.loads(payload)["entry"]:
            rtype, ident = matched_identifier(entry)
            idents.setdefault(rtype, set()).add(ident)
            resource = entry["resource"]
            if rtype == "Observation" and "valueQuantity" in resource:
                values[resource["identifier"][0]["value"]] = format(resource["valueQuantity"]["value"], "f")
    return idents, values


def server_check(url: str, expected: dict[str, set[str]], values: dict[str, str]) -> dict[str, Any]:
    """Every expected identifier held by exactly one resource of its type, nothing more; quantities exact. Raises
    SystemExit (with the counts) on any loss, duplicate or lost decimal."""
    problems, kept = {}, 0
    for rtype, wanted in sorted(expected.items()):
        found = fhir.loads(requests.get(f"{url}/{rtype}", timeout=600).content).get("entry") or []
        holders = Counter(f"{i['system']}|{i['value']}" for e in found
                          for i in _identifiers(e["resource"]) if f"{i['system']}|{i['value']}" in wanted)
        missing = len(wanted - set(holders))
        duplicated = sum(1 for n in holders.values() if n > 1)
        if missing or duplicated or len(found) != len(wanted):
            problems[rtype] = {"expected": len(wanted), "found": len(found), "missing": missing,
                               "duplicated": duplicated}
        if rtype == "Observation":
            kept = sum(1 for e in found if "valueQuantity" in e["resource"]
                       and format(e["resource"]["valueQuantity"]["value"], "f")
                       == values.get(e["resource"]["identifier"][0]["value"]))
    if kept != sum(1 for i in expected.get("Observation", ()) if i.partition("|")[2] in values):
        problems["decimals"] = {"kept": kept, "expected": len(values)}
    if problems:
        raise SystemExit(f"FAILED: the server does not hold each resource exactly once: {json.dumps(problems)}")
    return {"types": len(expected), "resources": sum(len(w) for w in expected.values()), "decimals_kept": kept}


def _identifiers(resource: dict[str, Any]) -> list[dict[str, str]]:
    idents = resource.get("identifier") or []
    return [idents] if isinstance(idents, dict) else idents  # Composition.identifier is 0..1


# -- the three ways to upload ----------------------------------------------------------------------------------------

def run_uploader(store_path: Path, url: str, batch_size: int) -> dict[str, Any]:
    with Store(store_path) as store:
        with store.transaction():  # the same backlog for every run
            store.conn.execute("UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = NULL, "
                               "sent_at = NULL, last_error = NULL")
        uploader = Uploader(url, batch_size=batch_size, read_timeout=120)
        started = time.perf_counter()
        while outbox.remaining(store):
            result = uploader.push(store, ignore_backoff=True)
            if result.stopped is not None:
                raise SystemExit(f"FAILED: upload stopped: {result.stopped}")
        return {"seconds": time.perf_counter() - started}


def run_naive(payloads: list[str], url: str) -> dict[str, Any]:
    """Each session's resources one per request, in dependency order, every reference rewritten to the server id
    of the resource created before it (what a client without transactions must do); decimals sent as written."""
    http = requests.Session()
    started = time.perf_counter()
    for payload in payloads:
        entries = fhir.loads(payload)["entry"]
        created: dict[str, str] = {}  # fullUrl → "Type/id"
        for (index,) in batching.dependency_parts(entries, 1):
            entry = entries[index]
            resource = batching.rewrite_references(entry["resource"], created)
            rtype, ident = matched_identifier(entry)
            system, _, value = ident.partition("|")
            headers = {"Content-Type": "application/fhir+json", "If-None-Exist": fhir.if_none_exist(system, value)}
            reply = http.post(f"{url}/{rtype}", data=fhir.dumps(resource).encode(), timeout=60, headers=headers)
            reply.raise_for_status()
            created[entry["fullUrl"]] = f"{rtype}/{reply.json()['id']}"
    return {"seconds": time.perf_counter() - started}


class LatencyProxy:
    """`python -m sync proxy` (sync.server.faultproxy, faults off) in a process of its own, as the network is: in
    the uploader's process its event loop would wait for the interpreter lock while the uploader works, and
    charge that wait to the latency. `url`: the server's URL through it; `stop()` returns its counts."""

    def __init__(self, server_url: str, latency_ms: float) -> None:
        self.server_url, self.latency_ms = server_url, latency_ms
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> "LatencyProxy":
        parts = urlsplit(self.server_url)
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sync", "proxy", "--listen", "0", "--target", parts.netloc, "--fault-rate", "0",
             "--latency-ms", str(self.latency_ms)], stdout=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT)
        assert self.process.stdout is not None
        banner = self.process.stdout.readline()  # "proxying on http://127.0.0.1:PORT to …"
        if not banner.startswith("proxying on "):
            raise SystemExit(f"FAILED: the latency proxy did not start ({banner!r})")
        self.url = banner.split()[2] + parts.path
        return self

    def stop(self) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        self.process.send_signal(signal.SIGTERM)
        counts = json.loads(self.process.stdout.read().strip().splitlines()[-1])
        self.process.wait(10)
        return counts

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def wait_for_whole_start(url: str, timeout: float = 30.0) -> None:
    """Until the doctors' application the server loads in the background after its banner answers too: its start
    is not the upload's time (it took the first requests' processor time otherwise)."""
    deadline = time.monotonic() + timeout
    root = requests.get(url.removesuffix("/fhir") + "/", timeout=10, allow_redirects=False)
    while time.monotonic() < deadline:
        try:
            if requests.get(root.headers["Location"], timeout=10).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise SystemExit("FAILED: the server's doctors' application did not come up")


# -- runs, figures ---------------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work, self.runs = args, work, 0

    def once(self, label: str, upload: Callable[[str], dict[str, Any]], payloads: list[str]) -> dict[str, Any]:
        """One run against a fresh server behind the latency proxy, checked afterwards."""
        self.runs += 1
        db = self.work / f"server-{self.runs}.db"
        expected, values = expected_of(payloads)
        with LocalServer(db, log_path=self.work / f"server-{self.runs}.log") as server, \
                LatencyProxy(server.url, self.args.latency_ms) as proxy:
            wait_for_whole_start(server.url)
            figures = upload(proxy.url)
            stats = proxy.stop()
            check = server_check(server.url, expected, values)
        n = len(payloads)
        figures.update(sessions=n, requests=stats["counts"]["pass"], wire=stats["bytes_up"] + stats["bytes_down"])
        print(f"  {label:<34} {n:6d} sessions {figures['seconds']:8.2f} s {n / figures['seconds']:8.1f} sessions/s "
              f"{figures['requests'] / n:6.2f} requests/session {figures['wire'] / n:7.0f} B/session on the wire; "
              f"server: {check['resources']} resources of {check['types']} types each exactly once, "
              f"{check['decimals_kept']} quantities with their decimals", flush=True)
        return figures

    def side(self, label: str, upload: Callable[[str], dict[str, Any]], payloads: list[str]) -> dict[str, Any]:
        return self.summary(label, [self.once(label, upload, payloads) for _ in range(self.args.runs)], payloads)

    def alternating(self, *sides: tuple[str, Callable[[str], dict[str, Any]], list[str]]) -> list[dict[str, Any]]:
        """Several sides run in turn (one run of each, --runs times), so that a slower minute of the machine does
        not fall on one side only; then each side's summary."""
        rows: list[list[dict[str, Any]]] = [[] for _ in sides]
        for _ in range(self.args.runs):
            for side_rows, (label, upload, payloads) in zip(rows, sides):
                side_rows.append(self.once(label, upload, payloads))
        print()
        return [self.summary(label, side_rows, payloads) for side_rows, (label, _, payloads) in zip(rows, sides)]

    def summary(self, label: str, rows: list[dict[str, Any]], payloads: list[str]) -> dict[str, Any]:
        seconds = sorted(r["seconds"] for r in rows)
        n = len(payloads)
        summary = {"label": label, "sessions": n, "min": seconds[0], "median": statistics.median(seconds),
                   "requests": rows[0]["requests"] / n, "wire": rows[0]["wire"] / n}
        print(f"{label}: min {summary['min']:.2f} s, median {summary['median']:.2f} s over {len(rows)} runs = "
              f"{n / summary['min']:.1f} / {n / summary['median']:.1f} sessions/s (best / median)\n", flush=True)
        return summary


def seeded_backlog(path: Path, sessions: int, seed: int) -> list[str]:
    started = time.perf_counter()
    with Store(path) as store:
        seed_sessions(store, sessions, seed=seed, complete=True)
        payloads = [e.payload for e in outbox.entries(store)]
    print(f"seeded {sessions} closed sessions in {time.perf_counter() - started:.1f} s; frozen payload "
          f"{sum(len(p.encode()) for p in payloads) / len(payloads):.0f} bytes per session (JSON)", flush=True)
    return payloads


def per_session_ratio(slow: dict[str, Any], fast: dict[str, Any]) -> float:
    return (slow["median"] / slow["sessions"]) / (fast["median"] / fast["sessions"])


def run(args: argparse.Namespace, work: Path) -> None:
    bench = Bench(args, work)
    tablet = work / "tablet.db"
    payloads = seeded_backlog(tablet, args.sessions, args.seed)
    big = work / "tablet-big.db"
    big_payloads = seeded_backlog(big, args.sessions * args.scale, args.seed + 1) if args.scale else []
    print(f"latency {args.latency_ms:g} ms added per request by the proxy, no faults; {args.runs} runs per side\n")
    batched_side = (f"batched ({args.batch_size}/request, gzip)",
                    lambda url: run_uploader(tablet, url, args.batch_size), payloads)
    if args.scale:  # the two sizes in turn: the ratio between them is what is measured
        batched, scaled = bench.alternating(batched_side, (f"batched, {args.scale}x the sessions",
                                                           lambda url: run_uploader(big, url, args.batch_size),
                                                           big_payloads))
    else:
        batched = bench.side(*batched_side)
    sides = [batched]
    if not args.no_per_session:
        sides.append(bench.side("uploader, 1 session/request", lambda url: run_uploader(tablet, url, 1), payloads))
    if not args.no_naive:
        sample = payloads[:args.naive_sessions]
        sides.append(bench.side("naive, 1 resource/request", lambda url: run_naive(sample, url), sample))
    for other in sides[1:]:
        print(f"batched vs {other['label']} (median, per session): {per_session_ratio(other, batched):.1f}x faster, "
              f"{other['requests'] / batched['requests']:.0f}x fewer requests, "
              f"{other['wire'] / batched['wire']:.1f}x fewer bytes on the wire")
    rate = args.sessions / batched["median"]
    print(f"batched: {rate:.0f} sessions/s (median) against the goal of 200: {'met' if rate >= 200 else 'NOT met'}")
    if args.scale:
        ratio = scaled["median"] / batched["median"]
        print(f"{args.scale}x the sessions took {ratio:.2f}x the time (median; linear would be {args.scale}, "
              f"goal at most {args.scale * 1.05:.1f}): {'met' if ratio <= args.scale * 1.05 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="runs per side (min and median reported)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=int, default=0, help="also upload K times the sessions (10: the 10k check)")
    parser.add_argument("--no-per-session", action="store_true", help="skip the one-session-per-request baseline")
    parser.add_argument("--no-naive", action="store_true", help="skip the one-resource-per-request baseline")
    parser.add_argument("--naive-sessions", type=int, default=100,
                        help="sessions the slow baseline uploads (compared per session; default 100)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (stores, server files, logs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="relais-bench-sync-"))
    try:
        run(args, work)
    finally:
        if args.keep:
            print(f"(work files kept in {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
