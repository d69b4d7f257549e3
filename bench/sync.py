"""Benchmark (run by hand): draining a backlog of closed sessions to the development FHIR server.

A store is seeded with N closed demo sessions (default 1,000; sync.seed), then, each against a fresh development
server run as a subprocess and reached through sync.faultproxy with added latency (default 50 ms per exchange) and no
faults:
  - batched: the Relais uploader, up to --batch-size sessions merged per transaction Bundle, gzipped bodies;
  - naive: one resource per request, the way a generic FHIR client does it: each session's Patient, then its
    Observation, POSTed one by one as conditional creates with fhirpy (`resources(T).search(identifier=…)
    .get_or_create(…)`), or with plain requests (`If-None-Exist` header) when fhirpy is not installed;
  - optionally (--per-session) the uploader with one session per request (batch size 1).
It prints sessions per second, requests, bytes per session on the wire (both directions, HTTP headers included, as
counted by the proxy), the ratio batched/naive, and checks both servers hold exactly the sessions sent.

    .venv/bin/python bench/sync.py [--sessions 1000] [--latency-ms 50] [--batch-size 20] [--per-session]
                                   [--naive-client auto|fhirpy|requests] [--no-naive] [--keep]
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

# this file is named sync.py: run as a script, its folder comes first on sys.path and would shadow the sync package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import requests  # noqa: E402

from sync import batching, fhir, outbox  # noqa: E402
from sync.faultproxy import FaultProxy  # noqa: E402
from sync.seed import seed_sessions  # noqa: E402
from sync.store import Store  # noqa: E402
from sync.testing import DevServer  # noqa: E402
from sync.uploader import Uploader  # noqa: E402


def server_check(url: str, expected_obs: list[str], expected_values: dict[str, str]) -> dict[str, Any]:
    """What the server holds: counts, duplicates, and how many values kept their decimals ("36.90")."""
    obs = fhir.loads(requests.get(f"{url}/Observation", timeout=120).content).get("entry", [])
    patients = requests.get(f"{url}/Patient", timeout=120).json()["total"]
    ids = [o["resource"]["identifier"][0]["value"] for o in obs]
    kept = sum(1 for o in obs if format(o["resource"]["valueQuantity"]["value"], "f")
               == expected_values.get(o["resource"]["identifier"][0]["value"]))
    return {"observations": len(ids), "distinct": len(set(ids)), "missing": len(set(expected_obs) - set(ids)),
            "patients": patients, "precision_kept": kept}


def run_batched(store: Store, url: str, batch_size: int) -> dict[str, Any]:
    uploader = Uploader(url, batch_size=batch_size, read_timeout=60)
    started = time.perf_counter()
    requests_made = 0
    while outbox.remaining(store):
        result = uploader.push(store, ignore_backoff=True)
        requests_made += result.requests
        if result.stopped not in (None,):
            raise RuntimeError(f"upload stopped: {result.stopped}")
    return {"seconds": time.perf_counter() - started, "requests": requests_made}


def naive_fhirpy(url: str) -> Callable[[str, dict[str, Any], str], str]:
    from fhirpy import SyncFHIRClient

    client = SyncFHIRClient(url, extra_headers={"Content-Type": "application/fhir+json"})

    def create(rtype: str, resource: dict[str, Any], identifier: str) -> str:
        created, _ = client.resources(rtype).search(identifier=identifier).get_or_create(
            client.resource(rtype, **resource))
        return created["id"]

    return create


def naive_requests(url: str) -> Callable[[str, dict[str, Any], str], str]:
    http = requests.Session()

    def create(rtype: str, resource: dict[str, Any], identifier: str) -> str:
        system, _, value = identifier.partition("|")
        headers = {"Content-Type": "application/fhir+json", "If-None-Exist": fhir.if_none_exist(system, value)}
        reply = http.post(f"{url}/{rtype}", data=json.dumps(resource).encode(), timeout=60, headers=headers)
        reply.raise_for_status()
        return reply.json()["id"]

    return create


def run_naive(payloads: list[str], create: Callable[[str, dict[str, Any], str], str]) -> dict[str, Any]:
    """Each session's resources one per request; the Observation's subject rewritten to the Patient's server id.
    Resources are loaded as a generic client has them: JSON floats (36.90 becomes 36.9)."""
    started = time.perf_counter()
    calls = 0
    for payload in payloads:
        patient_ref = None
        for entry in json.loads(payload)["entry"]:
            resource = entry["resource"]
            ident = resource["identifier"][0]
            if resource["resourceType"] == "Observation":
                resource = {**resource, "subject": {"reference": patient_ref}}
            new_id = create(resource["resourceType"], resource, f"{ident['system']}|{ident['value']}")
            calls += 1
            if resource["resourceType"] == "Patient":
                patient_ref = f"Patient/{new_id}"
    return {"seconds": time.perf_counter() - started, "calls": calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-session", action="store_true", help="also run the uploader with batch size 1")
    parser.add_argument("--no-naive", action="store_true", help="skip the one-resource-per-request baseline")
    parser.add_argument("--naive-client", choices=("auto", "fhirpy", "requests"), default="auto",
                        help="baseline client: fhirpy when installed (auto), or plain requests")
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


def run(args: argparse.Namespace, work: Path) -> None:
    started = time.perf_counter()
    with Store(work / "tablet.db") as store:
        # v1-shaped sessions (one temperature each): the naive baseline below only rewrites Observation.subject,
        # and the figures stay comparable with earlier runs
        seeded = seed_sessions(store, args.sessions, seed=args.seed, complete=False)
    print(f"seeded {args.sessions} closed sessions ({len(seeded.patients)} patients) in "
          f"{time.perf_counter() - started:.1f} s; latency {args.latency_ms:g} ms per exchange, no faults")
    with Store(work / "tablet.db") as store:
        payloads = [e.payload for e in outbox.entries(store)]
    expected_obs = batching.observation_identifiers(payloads)
    expected_values = {}
    for payload in payloads:
        for entry in fhir.loads(payload)["entry"]:
            r = entry["resource"]
            if r["resourceType"] == "Observation":
                value: Decimal = r["valueQuantity"]["value"]
                expected_values[r["identifier"][0]["value"]] = format(value, "f")
    frozen_bytes = sum(len(p.encode()) for p in payloads)
    print(f"frozen payload: {frozen_bytes / len(payloads):.0f} bytes per session (JSON, uncompressed)\n")

    rows = []

    def measure(label: str, run: Callable[[str], dict[str, Any]], db_name: str) -> dict[str, Any]:
        with DevServer(work / db_name) as server, FaultProxy(server.url, latency_ms=args.latency_ms) as proxy:
            figures = run(proxy.url_for(server.url))
            stats = proxy.stats()
            check = server_check(server.url, expected_obs, expected_values)
        figures.update(label=label, exchanges=stats["counts"]["pass"], wire=stats["bytes_up"] + stats["bytes_down"],
                       up=stats["bytes_up"], down=stats["bytes_down"], check=check)
        rows.append(figures)
        exact = (check["observations"] == check["distinct"] == args.sessions and not check["missing"]
                 and check["patients"] == len(seeded.patients))
        print(f"{label:<46} {args.sessions / figures['seconds']:8.1f} sessions/s  {figures['seconds']:7.1f} s  "
              f"{figures['exchanges']:5d} requests  {figures['wire'] / args.sessions:7.0f} B/session on the wire "
              f"(up {figures['up'] / args.sessions:.0f}, down {figures['down'] / args.sessions:.0f})  "
              f"server: {'exactly once' if exact else 'MISMATCH ' + json.dumps(check)}, "
              f"{check['precision_kept']}/{args.sessions} values with their decimals")
        return figures

    def batched_run(url: str, size: int) -> dict[str, Any]:
        with Store(work / "tablet.db") as store:
            with store.transaction():  # same backlog for every run
                store.conn.execute("UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = NULL, "
                                   "sent_at = NULL, last_error = NULL")
            return run_batched(store, url, size)

    batched = measure(f"batched ({args.batch_size}/request, gzip)", lambda url: batched_run(url, args.batch_size),
                      "server-batched.db")
    if args.per_session:
        measure("uploader, 1 session/request, gzip", lambda url: batched_run(url, 1), "server-per-session.db")
    if not args.no_naive:
        try:
            if args.naive_client == "requests":
                raise ImportError
            import fhirpy  # noqa: F401
            from importlib.metadata import version
            client_name, factory = f"fhirpy {version('fhirpy')}", naive_fhirpy
        except ImportError:
            if args.naive_client == "fhirpy":
                raise
            why = "chosen" if args.naive_client == "requests" else "fhirpy not installed"
            client_name, factory = f"plain requests, {why}", naive_requests
        naive = measure(f"naive, 1 resource/request ({client_name})", lambda url: run_naive(payloads, factory(url)),
                        "server-naive.db")
        print(f"\nbatched vs naive: {naive['seconds'] / batched['seconds']:.1f}x faster, "
              f"{naive['exchanges'] / max(1, batched['exchanges']):.0f}x fewer requests, "
              f"{naive['wire'] / max(1, batched['wire']):.1f}x fewer bytes on the wire")


if __name__ == "__main__":
    main()
