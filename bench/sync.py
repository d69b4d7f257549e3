"""Benchmark (run by hand): draining a backlog of closed sessions to the development FHIR server.

A store is seeded with N complete closed demo sessions (default 1,000; sync.seed: three devices each, i.e. SpO2,
pulse, a blood pressure panel and a temperature, with consent, encounter and summary), then, each against a fresh development
server run as a subprocess and reached through sync.server.faultproxy with added latency (default 50 ms per exchange)
and no faults:
  - batched: the Relais uploader, up to --batch-size sessions merged per transaction Bundle, gzipped bodies;
  - naive: one resource per request, the way a generic FHIR client does it: each session's resources in
    dependency order (Patient, Organization, Practitioner, Encounter, Devices, Observations, Consent,
    Composition), every reference rewritten to the server id created before it, POSTed one by one as conditional
    creates with fhirpy (`resources(T).search(identifier=…).get_or_create(…)`), or with plain requests
    (`If-None-Exist` header) when fhirpy is not installed. It is slow, so it uploads the first --naive-sessions
    sessions (default 100) and the ratio is per session;
  - optionally (--per-session) the uploader with one session per request (batch size 1).
It prints sessions per second, requests, bytes per session on the wire (both directions, HTTP headers included, as
counted by the proxy), the ratio batched/naive, and checks both servers hold exactly the sessions sent.

    .venv/bin/python bench/sync.py [--sessions 1000] [--latency-ms 50] [--batch-size 20] [--per-session]
                                   [--naive-client auto|fhirpy|requests] [--naive-sessions 100] [--no-naive] [--keep]
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
from sync.server.faultproxy import FaultProxy  # noqa: E402
from sync.server.process import LocalServer  # noqa: E402
from sync.seed import seed_sessions  # noqa: E402
from sync.store import Store  # noqa: E402
from sync.uploader import Uploader  # noqa: E402


def server_check(url: str, expected_obs: list[str], expected_values: dict[str, str]) -> dict[str, Any]:
    """What the server holds: counts, duplicates, and how many values kept their decimals ("36.90")."""
    obs = fhir.loads(requests.get(f"{url}/Observation", timeout=300).content).get("entry", [])
    patients = requests.get(f"{url}/Patient", timeout=120).json()["total"]
    ids = [o["resource"]["identifier"][0]["value"] for o in obs]
    kept = sum(1 for o in obs if "valueQuantity" in o["resource"]
               and format(o["resource"]["valueQuantity"]["value"], "f")
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
    """Each session's resources one per request, in dependency order, every reference rewritten to the server id
    of the resource created before it (what a client without transactions must do). Resources are loaded as a
    generic client has them: JSON floats (36.90 becomes 36.9)."""
    started = time.perf_counter()
    calls = 0
    for payload in payloads:
        entries = json.loads(payload)["entry"]
        created: dict[str, str] = {}  # fullUrl → "Type/id"
        for (index,) in batching.dependency_parts(entries, 1):
            entry = entries[index]
            resource = batching.rewrite_references(entry["resource"], created)
            ident = resource["identifier"]
            ident = ident[0] if isinstance(ident, list) else ident  # Composition.identifier is 0..1
            new_id = create(resource["resourceType"], resource, f"{ident['system']}|{ident['value']}")
            calls += 1
            created[entry["fullUrl"]] = f"{resource['resourceType']}/{new_id}"
    return {"seconds": time.perf_counter() - started, "calls": calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-session", action="store_true", help="also run the uploader with batch size 1")
    parser.add_argument("--no-naive", action="store_true", help="skip the one-resource-per-request baseline")
    parser.add_argument("--naive-sessions", type=int, default=100,
                        help="sessions the slow baseline uploads (compared per session; default 100)")
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
        # complete sessions: oximeter, blood pressure monitor and thermometer (SpO2, pulse, BP panel, temperature),
        # with staff, site, consent, encounter, devices and the summary for the patient's own doctor
        seeded = seed_sessions(store, args.sessions, seed=args.seed, complete=True)
    print(f"seeded {args.sessions} closed sessions ({len(seeded.patients)} patients) in "
          f"{time.perf_counter() - started:.1f} s; latency {args.latency_ms:g} ms per exchange, no faults")
    with Store(work / "tablet.db") as store:
        payloads = [e.payload for e in outbox.entries(store)]
    expected_values = {}
    for payload in payloads:
        for entry in fhir.loads(payload)["entry"]:
            r = entry["resource"]
            if r["resourceType"] == "Observation" and "valueQuantity" in r:
                value: Decimal = r["valueQuantity"]["value"]
                expected_values[r["identifier"][0]["value"]] = format(value, "f")
    frozen_bytes = sum(len(p.encode()) for p in payloads)
    print(f"frozen payload: {frozen_bytes / len(payloads):.0f} bytes per session (JSON, uncompressed)\n")

    rows = []

    def measure(label: str, run: Callable[[str], dict[str, Any]], db_name: str,
                sessions: list[str] | None = None) -> dict[str, Any]:
        """`sessions`: the payloads this run uploads (default: all of them)."""
        subset = payloads if sessions is None else sessions
        subset_obs = batching.observation_identifiers(subset)
        subset_patients = {e["resource"]["identifier"][0]["value"] for p in subset for e in fhir.loads(p)["entry"]
                           if e["resource"]["resourceType"] == "Patient"}
        n = len(subset)
        with LocalServer(work / db_name, log_path=work / f"{db_name}.server.log") as server, \
                FaultProxy(server.url, latency_ms=args.latency_ms) as proxy:
            figures = run(proxy.url_for(server.url))
            stats = proxy.stats()
            check = server_check(server.url, subset_obs, expected_values)
        figures.update(label=label, exchanges=stats["counts"]["pass"], wire=stats["bytes_up"] + stats["bytes_down"],
                       up=stats["bytes_up"], down=stats["bytes_down"], check=check, sessions=n)
        rows.append(figures)
        exact = (check["observations"] == check["distinct"] == len(subset_obs) and not check["missing"]
                 and check["patients"] == len(subset_patients))
        valued = sum(1 for i in subset_obs if i in expected_values)
        print(f"{label:<46} {n:5d} sessions {n / figures['seconds']:8.1f} sessions/s  {figures['seconds']:7.1f} s  "
              f"{figures['exchanges'] / n:6.2f} requests/session  {figures['wire'] / n:7.0f} B/session on the wire "
              f"(up {figures['up'] / n:.0f}, down {figures['down'] / n:.0f})  "
              f"server: {'exactly once' if exact else 'MISMATCH ' + json.dumps(check)}, "
              f"{check['precision_kept']}/{valued} quantities with their decimals")
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
        sample = payloads[:args.naive_sessions]
        naive = measure(f"naive, 1 resource/request ({client_name})", lambda url: run_naive(sample, factory(url)),
                        "server-naive.db", sessions=sample)

        def per_session(row: dict[str, Any], key: str) -> float:
            return row[key] / row["sessions"]

        print(f"\nbatched vs naive (per session; the naive run uploads the first {len(sample)} sessions only): "
              f"{per_session(naive, 'seconds') / per_session(batched, 'seconds'):.1f}x faster, "
              f"{per_session(naive, 'exchanges') / per_session(batched, 'exchanges'):.0f}x fewer requests, "
              f"{per_session(naive, 'wire') / per_session(batched, 'wire'):.1f}x fewer bytes on the wire")


if __name__ == "__main__":
    main()
