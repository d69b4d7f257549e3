"""Benchmark (run by hand): the development server's peak resident memory under 20 MB bodies, on the real process.

Three bodies, each sent alone then three at once, each to a fresh server (VmHWM of /proc/PID/status):
  - many-entries: a transaction of ~35,000 Observations (what a very large upload looks like);
  - attachments: two DocumentReferences with 10 MB inline attachments (audit extracts grown large);
  - costly: 20 MB of empty JSON objects (3 bytes of JSON, 64 of Python each): refused before parsing.

    PYTHONPATH=. .venv/bin/python bench/server_memory.py [--size 20000000]
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import threading
from pathlib import Path

# bench/sync.py would shadow the sync package when this folder comes first on sys.path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import requests  # noqa: E402

from sync import fhir  # noqa: E402
from sync.server.process import LocalServer  # noqa: E402


def many_entries(size: int) -> bytes:
    def entry(i: int) -> dict:
        value = f"obs-{i}"
        return {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
                "resource": {"resourceType": "Observation", "status": "final",
                             "meta": {"tag": [{"system": fhir.SITE_TAG_SYSTEM, "code": "750000010"}]},
                             "identifier": [{"system": fhir.OBSERVATION_ID_SYSTEM, "value": value}],
                             "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
                             "valueQuantity": {"value": 37.1, "unit": "Cel", "system": "http://unitsofmeasure.org",
                                               "code": "Cel"},
                             "effectiveDateTime": "2026-12-01T10:00:00+01:00"},
                "request": {"method": "POST", "url": "Observation",
                            "ifNoneExist": fhir.if_none_exist(fhir.OBSERVATION_ID_SYSTEM, value)}}
    count = size // len(json.dumps(entry(0)))
    return json.dumps({"resourceType": "Bundle", "type": "transaction",
                       "entry": [entry(i) for i in range(count)]}).encode()


def attachments(size: int) -> bytes:
    data = base64.b64encode(b"x" * (size // 2 // 4 * 3)).decode()
    return json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "DocumentReference"},
         "resource": {"resourceType": "DocumentReference", "status": "current",
                      "content": [{"attachment": {"contentType": "text/csv", "data": data}}]}} for _ in range(2)]}
    ).encode()


def costly(size: int) -> bytes:
    return b'{"resourceType":"Bundle","type":"transaction","entry":[' + b",".join([b"{}"] * (size // 3)) + b"]}"


def peak_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status", encoding="ascii"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(name: str, body: bytes, at_once: int, folder: Path) -> None:
    with LocalServer(folder / f"{name}-{at_once}.db") as server:
        statuses: list[int] = []

        def send() -> None:
            statuses.append(requests.post(server.url, data=body, timeout=600,
                                          headers={"Content-Type": "application/fhir+json"}).status_code)
        threads = [threading.Thread(target=send) for _ in range(at_once)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert server.process is not None
        print(f"{name:13} x{at_once}: {len(body) / 1e6:5.1f} MB each, statuses {sorted(statuses)}, "
              f"peak {peak_mb(server.process.pid):6.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=20_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name, make in (("many-entries", many_entries), ("attachments", attachments), ("costly", costly)):
            body = make(args.size)
            for at_once in (1, 3):
                run(name, body, at_once, Path(folder))


if __name__ == "__main__":
    main()
