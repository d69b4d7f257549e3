"""Benchmark (run by hand): the bytes a closed session takes in the tablet's store, as the frozen bundles were kept
before (the bundle's JSON as TEXT in the outbox) and as they are now (compressed, sync.frozen_payloads), on the
very same sessions in the same run.

A store is seeded with N complete closed demo sessions (sync.seed; --doctors adds each resident's own doctor, so
that the session's report is frozen too: PDF, CDA and XDM). A copy of the file gets its outbox payloads written
back as the TEXT they were before. Both files are VACUUMed (SQLite documentation, "VACUUM": the file rebuilt with
no free pages), then it prints, for each: page_count × page_size / sessions (SQLite documentation, "PRAGMA
page_count" and "PRAGMA page_size"), the payload bytes per session as stored, the largest tables per session (the
dbstat virtual table, when SQLite was built with it), and the ratio new / old. It checks every payload reads back
as the very bytes frozen at close.

On the same sessions it also times, per session (best of 3), the encoding of the bundle by the plain Python encoder
(the reference kept in sync.fhir.codec) against the C encoder now used (checking the bytes are equal), and merging
batches of 20 by encoding every entry again against splicing the frozen texts (sync.batching.merge).

    .venv/bin/python bench/size.py [--sessions 300] [--doctors] [--keep]
"""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/sync.py would shadow the sync package when this folder comes first on sys.path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sync import batching, fhir, frozen_payloads, outbox  # noqa: E402
from sync.fhir import codec  # noqa: E402
from sync.seed import seed_sessions  # noqa: E402
from sync.store import Store  # noqa: E402


def as_before(path: Path) -> None:
    """The outbox payloads written back as the TEXT they were before compression (no size column used)."""
    con = sqlite3.connect(path)
    with con:
        trigger = con.execute("SELECT sql FROM sqlite_master WHERE name = 'outbox_payload_frozen'").fetchone()[0]
        con.execute("DROP TRIGGER outbox_payload_frozen")
        rows = con.execute("SELECT rowid, payload FROM outbox").fetchall()
        con.executemany("UPDATE outbox SET payload = ?, payload_size = NULL WHERE rowid = ?",
                        [(frozen_payloads.unpack(payload), rowid) for rowid, payload in rows])
        con.execute(trigger)
    con.close()


def measure(path: Path, sessions: int) -> dict[str, Any]:
    con = sqlite3.connect(path)
    con.execute("VACUUM")
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    payload = con.execute("SELECT sum(length(CAST(payload AS BLOB))) FROM outbox").fetchone()[0] or 0
    try:
        tables = con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6").fetchall()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        tables = []
    con.close()
    return {"per_session": pages * page_size / sessions, "payload": payload / sessions,
            "tables": [(name, size / sessions) for name, size in tables]}


def check_payloads(old: Path, new: Path) -> int:
    """Every payload of the new file reads back as the old file's text; returns how many were compared."""
    with Store(new) as store:
        entries = {e.id: e.payload_bytes for e in outbox.entries(store)}
    con = sqlite3.connect(old)
    before = dict(con.execute("SELECT id, payload FROM outbox").fetchall())
    con.close()
    if {k: v.encode("utf-8") for k, v in before.items()} != entries:
        raise SystemExit("FAILED: a payload does not read back as the bytes frozen at close")
    return len(entries)


def best_of_3(work: Any) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def merge_by_encoding(entries: list[outbox.OutboxEntry]) -> bytes:
    """The merge as it was made before: every payload parsed and each entry encoded again (plain encoder)."""
    merged, seen = [], set()
    for entry in entries:
        for item in fhir.loads(entry.payload)["entry"]:
            codec.plain_dumps(item)  # the canonical text the conflict check compared
            if item["fullUrl"] not in seen:
                seen.add(item["fullUrl"])
                merged.append(item)
    return codec.plain_dumps({"resourceType": "Bundle", "type": "transaction", "entry": merged}).encode("utf-8")


def encoding_figures(path: Path) -> None:
    with Store(path) as store:
        entries = outbox.entries(store)
    bundles = [fhir.loads(e.payload) for e in entries]
    if [fhir.dumps_bundle(b) for b in bundles] != [e.payload_bytes for e in entries]:
        raise SystemExit("FAILED: the C encoder does not give the frozen bytes")
    batches = [entries[i:i + 20] for i in range(0, len(entries), 20)]
    if any(batching.merge(b).body != merge_by_encoding(b) for b in batches if len(b) > 1):
        raise SystemExit("FAILED: the spliced merge differs from the merge by encoding")
    n = len(entries)
    plain = best_of_3(lambda: [codec.plain_dumps(b) for b in bundles]) / n
    c_encoder = best_of_3(lambda: [fhir.dumps(b) for b in bundles]) / n
    old_merge = best_of_3(lambda: [merge_by_encoding(b) for b in batches]) / n
    new_merge = best_of_3(lambda: [batching.merge(b) for b in batches]) / n
    print(f"encoding a bundle: plain Python {plain * 1000:.2f} ms, C encoder {c_encoder * 1000:.2f} ms per session "
          f"({plain / c_encoder:.1f}x); merging by 20: by encoding {old_merge * 1000:.2f} ms, spliced "
          f"{new_merge * 1000:.2f} ms per session ({old_merge / new_merge:.1f}x); same bytes both ways")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--doctors", action="store_true", help="freeze each session's report for the resident's GP")
    parser.add_argument("--keep", action="store_true", help="keep the store files")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="relais-size-"))
    try:
        new, old = work / "now.db", work / "before.db"
        started = time.perf_counter()
        with Store(new) as store:
            seed_sessions(store, args.sessions, doctors=args.doctors)
        print(f"seeded {args.sessions} sessions in {time.perf_counter() - started:.1f} s")
        shutil.copyfile(new, old)
        as_before(old)
        compared = check_payloads(old, new)
        figures = {"before (TEXT payloads)": measure(old, args.sessions),
                   "now (compressed)": measure(new, args.sessions)}
        for label, f in figures.items():
            print(f"{label:24} {f['per_session'] / 1024:8.1f} KiB per session   payload {f['payload'] / 1024:6.1f} KiB")
            print("    " + ", ".join(f"{name} {size / 1024:.1f}" for name, size in f["tables"]))
        before, now = figures.values()
        print(f"ratio now/before: {now['per_session'] / before['per_session']:.2f} per session, "
              f"{now['payload'] / before['payload']:.2f} payload; {compared} payloads read back byte-identical")
        encoding_figures(new)
    finally:
        if args.keep:
            print(f"files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
