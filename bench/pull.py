"""Benchmark (run by hand): a new tablet pulling its site's residents and their 90 days of history.

Tablet A is seeded with complete demo sessions (sync.seed) spread over the last 90 days, for --residents residents
(default 1,000; some residents are measured several times), and pushes them to a development server run as a
subprocess. Then, each through its own sync.server.faultproxy with added latency (default 50 ms per exchange) and
no faults, in the same run:
  - the Relais pull (sync.pull): one search per kind of record for the site, paged (`_count`, `next` links),
    residents included with their records;
  - naive: what a generic client does without site searches: the list of the site's residents, then, for each
    one, a GET of the resident and a GET of their Observations (two requests per resident).
It prints requests, bytes on the wire (both directions, headers included, as counted by the proxy) and seconds of
each, the ratios, and checks that both got every resident and every value.

    .venv/bin/python bench/pull.py [--residents 1000] [--latency-ms 50] [--page-size 100] [--keep]
"""
from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/sync.py would shadow the sync package when this folder comes first on sys.path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import requests  # noqa: E402

from sync import fhir  # noqa: E402
from sync.pull import SearchClient, pull  # noqa: E402
from sync.pull.paging import PAGE_SIZE  # noqa: E402
from sync.seed import DEMO_SITE, seed_sessions  # noqa: E402
from sync.server.faultproxy import FaultProxy  # noqa: E402
from sync.server.process import LocalServer  # noqa: E402
from sync.store import Store  # noqa: E402
from sync.uploader import Uploader  # noqa: E402

REPEAT_SHARE = 0.2  # a fifth of the sessions are residents measured again


def seed_and_push(work: Path, residents: int, url: str) -> dict[str, int]:
    sessions = round(residents / (1 - REPEAT_SHARE))
    with Store(work / "a.db") as a:
        seeded = seed_sessions(a, sessions, seed=1, days=89, repeat_share=REPEAT_SHARE)
        uploader = Uploader(url, read_timeout=300)
        while uploader.push(a, ignore_backoff=True).remaining:
            pass
        observations = a.query("SELECT count(*) AS n FROM measurements")[0]["n"]
    return {"residents": len(seeded.patients), "sessions": sessions, "values": observations}


def run_pull(url: str, work: Path, page_size: int) -> dict[str, Any]:
    with Store(work / "b.db") as b:
        b.add_site(**DEMO_SITE)
        started = time.perf_counter()
        report = pull(b, SearchClient(url, read_timeout=300), page_size=page_size)
        seconds = time.perf_counter() - started
        got = {"residents": b.query("SELECT count(*) AS n FROM patients")[0]["n"],
               "values": b.query("SELECT count(*) AS n FROM history_observations")[0]["n"]}
    return {"seconds": seconds, "got": got, "pages": report.pages}


def run_naive(url: str, organization: str) -> dict[str, Any]:
    """The site's resident list, then per resident: the resident, then their Observations."""
    http = requests.Session()
    started = time.perf_counter()
    listing = fhir.loads(http.get(f"{url}/Patient", params={"organization": f"Organization/{organization}"},
                                  timeout=300).content)
    values = 0
    ids = [e["resource"]["id"] for e in listing.get("entry", [])]
    for patient_id in ids:
        http.get(f"{url}/Patient/{patient_id}", timeout=60).raise_for_status()
        found = fhir.loads(http.get(f"{url}/Observation", params={"subject": f"Patient/{patient_id}"},
                                    timeout=60).content)
        for entry in found.get("entry", []):
            values += len(entry["resource"].get("component") or [None])
    return {"seconds": time.perf_counter() - started, "got": {"residents": len(ids), "values": values}}


def measure(label: str, server_url: str, latency_ms: float, run) -> dict[str, Any]:
    with FaultProxy(server_url, latency_ms=latency_ms) as proxy:
        figures = run(proxy.url_for(server_url))
        stats = proxy.stats()
    figures.update(requests=stats["counts"]["pass"], wire=stats["bytes_up"] + stats["bytes_down"])
    print(f"{label:<34} {figures['requests']:6d} requests  {figures['wire'] / 1e6:8.2f} MB on the wire  "
          f"{figures['seconds']:7.1f} s  got {figures['got']['residents']} residents, "
          f"{figures['got']['values']} values")
    return figures


def run(args: argparse.Namespace, work: Path) -> None:
    with LocalServer(work / "server.db", log_path=work / "server.log") as server:
        started = time.perf_counter()
        seeded = seed_and_push(work, args.residents, server.url)
        print(f"tablet A: {seeded['residents']} residents, {seeded['sessions']} sessions over 90 days, "
              f"{seeded['values']} values, seeded and pushed in {time.perf_counter() - started:.0f} s; latency "
              f"{args.latency_ms:g} ms per exchange, no faults\n")
        organization = requests.get(f"{server.url}/Organization", timeout=60, params={
            "identifier": f"{fhir.FINESS_SYSTEM}|{DEMO_SITE['finess']}"}).json()["entry"][0]["resource"]["id"]
        relais = measure(f"pull (sync.pull, _count={args.page_size})", server.url, args.latency_ms,
                         lambda url: run_pull(url, work, args.page_size))
        naive = measure("naive (resident, then values)", server.url, args.latency_ms,
                        lambda url: run_naive(url, organization))
    print(f"\npull vs naive: {naive['requests'] / relais['requests']:.0f}x fewer requests, "
          f"{naive['wire'] / relais['wire']:.1f}x fewer bytes on the wire, "
          f"{naive['seconds'] / relais['seconds']:.1f}x faster")
    complete = relais["got"]["residents"] == seeded["residents"] and relais["got"]["values"] == seeded["values"]
    print(f"pull complete: {'yes' if complete else 'NO'} (B holds {relais['got']}, A had {seeded})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (stores, server file, log)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="relais-bench-pull-"))
    try:
        run(args, work)
    finally:
        if args.keep:
            print(f"(work files kept in {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
