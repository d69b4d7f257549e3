"""Benchmark (run by hand): the store at 1k, 10k and 100k closed sessions.

Each size is an encrypted store (SQLCipher, opened as the app opens it: `open_app_store` with an install key)
holding that many CLOSED sessions of about N/10 residents (about ten sessions each): invented, varied names
(accents, hyphens, particles, usual names of married women), birth dates from 1921 to 1950, each session with its
measurements (temperature, SpO2, pulse, a blood pressure panel) and its outbox entry holding a real frozen bundle
(about 20 KB); 90 % of the entries are sent (in the last six days: nothing is due for purge), 10 % pending.

Seeding, fast and honest: a few complete sessions go through the real API (sync.seed: open, consent, readings,
notes, summary, close → the FHIR bundle frozen into the outbox); then residents are written as rows (the schema's
triggers build their search tokens) and the sessions are cloned from the real ones with fresh ids, in bulk SQL,
10,000 sessions per transaction. The stores are cached in --cache (default /tmp/relais-bench-store), with the
time they were seeded at: each later run opens them on a clock stopped then. A size not reached within --budget
seconds of seeding says how far it got (and the next run goes on from there).

Timed at each size (--runs runs, median and min, milliseconds): opening the store as the app does; `python -m sync
status` as a command (and `python -c pass` beside it: the interpreter's own start; the table gives the command
minus that); patient search by a family name prefix, a usual name prefix and a typed birth date (dd/mm/yyyy), and
the list with nothing typed, as the patient screen asks for them (its first 50 residents in alphabetical order,
and one more to know whether there are others; how many each search finds is printed beside: a search that finds
more at a larger size also shows more, up to 50, so the first letter of a name, which fills the page from 10k on,
shows the growth with the store alone); the probable duplicates the resident form asks for (the workflow's); a
resident's history as the history screen asks for it (readings and NEWS2 for the trend charts, and the usual values); the
retention pass the sync loop runs every pass (nothing due); claiming an upload batch (claim_batch of 20, given
back untimed), beside the cheapest durable write (one row, one commit: the disk's fsync, which every claim pays).
Also the outbox counts per state (`sync status`, the home screen). Then the growth factor from 10k to the
largest size reached (10k to 100k: "at most logarithmic" is a factor near 1, an index one level deeper; linear
would be 10). Goal: each within 20 ms at 100k, the command within 300 ms plus the interpreter's start.

    .venv/bin/python bench/store.py [--sizes 1000,10000,100000] [--runs 5] [--budget 1800] [--cache DIR] [--fresh]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mobile.workflow.patients import LIST_LENGTH, PatientsStep  # noqa: E402
from sync import outbox, retention  # noqa: E402
from sync.seed import seed_sessions  # noqa: E402
from sync.store import Store, iso, open_app_store  # noqa: E402

TEMPLATES = 20
CHUNK = 10_000
SESSIONS_PER_RESIDENT = 10
FAMILY = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
          "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
          "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez",
          "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas",
          "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin",
          "Le Gall", "Le Goff", "Kerbrat", "Œuvray", "Bézier", "Ngô", "Nguyễn", "Benaïssa", "Da Silva", "Ferrière"]
PARTICLES = ["de", "d'", "Le", "La", "du", "van"]
GIVEN_F = ["Jeanne", "Marie", "Hélène", "Odette", "Simone", "Germaine", "Yvonne", "Paulette", "Geneviève",
           "Marcelle", "Noëlle", "Anne-Sophie", "Marie-Thérèse", "Françoise", "Élise", "Zoé", "Agnès", "Suzanne"]
GIVEN_M = ["Jean", "Pierre", "André", "Émile", "Marcel", "René", "Louis", "Jean-Claude", "François", "Noël",
           "Henri", "Gérard", "Raymond", "Joël", "Lucien", "Hervé", "Jacques", "Aimé"]
PLACES = ["75056", "69123", "13055", "2A004", "59350", "33063", "35238", "67482", "99134", "44109"]


def _family(rng: random.Random) -> str:
    name = rng.choice(FAMILY)
    if rng.random() < 0.12:
        name = f"{name}-{rng.choice(FAMILY)}"
    if rng.random() < 0.06:
        particle = rng.choice(PARTICLES)
        name = f"{particle}{name}" if particle.endswith("'") else f"{particle} {name}"
    return name


def resident_rows(rng: random.Random, count: int, stamp: str, field_stamps: str) -> list[tuple[Any, ...]]:
    rows = []
    for _ in range(count):
        sex = rng.choice("FM")
        birth = dt.date(1921, 1, 1) + dt.timedelta(days=rng.randrange(30 * 365))
        usual = _family(rng) if sex == "F" and rng.random() < 0.4 else None
        rows.append((str(uuid.uuid4()), _family(rng), rng.choice(GIVEN_F if sex == "F" else GIVEN_M),
                     birth.isoformat(), sex, rng.choice(PLACES), usual, stamp, stamp, field_stamps))
    return rows


def _session_columns(store: Store) -> list[str]:
    skip = {"id", "idempotency_key", "patient_id", "state", "opened_at", "closed_at"}
    return [r[1] for r in store.conn.execute("PRAGMA table_info(sessions)") if r[1] not in skip]


def clone_sessions(store: Store, rng: random.Random, residents: list[str], count: int, now: dt.datetime) -> None:
    """`count` closed sessions cloned from the template sessions, in one transaction (module docstring)."""
    templates = [r[0] for r in store.conn.execute(
        "SELECT session_id FROM outbox WHERE addendum_id IS NULL ORDER BY rowid LIMIT ?", [TEMPLATES])]
    plan = []
    for _ in range(count):
        opened = now - dt.timedelta(days=rng.uniform(7, 85), minutes=rng.uniform(0, 600))
        sent = rng.random() < 0.9
        plan.append((str(uuid.uuid4()), rng.choice(templates), rng.choice(residents), str(uuid.uuid4()),
                     iso(opened), iso(opened + dt.timedelta(minutes=20)),
                     "sent" if sent else "pending", iso(now - dt.timedelta(days=rng.uniform(0, 6))) if sent else None))
    columns = ", ".join(_session_columns(store))
    with store.transaction():
        store.conn.execute("CREATE TEMP TABLE IF NOT EXISTS clone_plan (new_id, template_id, patient_id, key, "
                           "opened_at, closed_at, outbox_state, sent_at)")
        store.conn.execute("DELETE FROM temp.clone_plan")
        store.conn.executemany("INSERT INTO temp.clone_plan VALUES (?, ?, ?, ?, ?, ?, ?, ?)", plan)
        store.conn.execute(f"INSERT INTO sessions (id, idempotency_key, patient_id, state, opened_at, closed_at, "
                           f"{columns}) SELECT c.new_id, c.key, c.patient_id, 'open', c.opened_at, NULL, {columns} "
                           "FROM temp.clone_plan c JOIN sessions s ON s.id = c.template_id")
        measured = [r[1] for r in store.conn.execute("PRAGMA table_info(measurements)") if r[1] not in
                    ("id", "session_id")]
        store.conn.execute(f"INSERT INTO measurements (id, session_id, {', '.join(measured)}) SELECT c.new_id || "
                           f"'-' || m.rowid, c.new_id, {', '.join('m.' + m for m in measured)} FROM temp.clone_plan "
                           "c JOIN measurements m ON m.session_id = c.template_id")
        store.conn.execute("UPDATE sessions SET state = 'closed', closed_at = (SELECT closed_at FROM "
                           "temp.clone_plan WHERE new_id = sessions.id) WHERE id IN (SELECT new_id FROM "
                           "temp.clone_plan)")
        store.conn.execute("INSERT INTO outbox (id, session_id, idempotency_key, payload, state, attempts, "
                           "created_at, sent_at) SELECT c.new_id || '-b', c.new_id, c.key, o.payload, "
                           "c.outbox_state, 1, c.closed_at, c.sent_at FROM temp.clone_plan c JOIN outbox o ON "
                           "o.session_id = c.template_id AND o.addendum_id IS NULL")
        store.conn.execute("UPDATE patients SET last_seen_at = ?1 WHERE last_seen_at < ?1", [iso(now - dt.timedelta(
            days=7))])


def seed(path: Path, key_path: Path, target: int, deadline: float, meta_path: Path) -> dict[str, Any]:
    """Bring the store at `path` to `target` closed sessions (or as far as the deadline allows)."""
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    with open_app_store(path, key_path=key_path) as store:
        if not meta:
            meta = {"seeded_at": iso(dt.datetime.now(dt.timezone.utc)), "sessions": 0}
        now = dt.datetime.fromisoformat(meta["seeded_at"])
        store.clock = lambda: now
        rng = random.Random(len(meta) + meta["sessions"])
        if meta["sessions"] == 0:
            seed_sessions(store, TEMPLATES, seed=1, days=80, now=now - dt.timedelta(days=7))
            with store.transaction():
                store.conn.execute("UPDATE patients SET last_seen_at = ?", [iso(now)])
            meta["sessions"] = TEMPLATES
        field_stamps = store.conn.execute("SELECT field_stamps FROM patients LIMIT 1").fetchone()[0]
        while meta["sessions"] < target and time.monotonic() < deadline:
            count = min(CHUNK, target - meta["sessions"])
            with store.transaction():
                rows = resident_rows(rng, max(1, count // SESSIONS_PER_RESIDENT), iso(now), field_stamps)
                store.conn.executemany(
                    "INSERT INTO patients (id, family_name, given_name, birth_date, sex, birth_place_insee, "
                    "usual_name, created_at, last_seen_at, field_stamps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            clone_sessions(store, rng, [r[0] for r in rows], count, now)
            meta["sessions"] += count
            meta_path.write_text(json.dumps(meta))
            print(f"  seeded {meta['sessions']:,} / {target:,} sessions", flush=True)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return meta


def timed(run: Callable[[], Any], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def timed_claims(store: Store, runs: int) -> tuple[float, float]:
    """claim_batch timed alone (its transaction and commit included); each claim given back untimed."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        claimed = outbox.claim_batch(store, limit=20)
        times.append((time.perf_counter() - start) * 1000)
        outbox.unclaim(store, [e.id for e in claimed])
    return statistics.median(times), min(times)


def _touch(store: Store) -> None:
    """The cheapest durable write: one setting rewritten (BEGIN IMMEDIATE, one row, COMMIT with fsync)."""
    with store.transaction():
        store.conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('bench.touch', '1', '') "
                           "ON CONFLICT(key) DO UPDATE SET updated_at = excluded.updated_at")


def _command(args: list[str]) -> Callable[[], None]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return lambda: subprocess.run(args, check=True, capture_output=True, env=env)


def measure(path: Path, key_path: Path, meta: dict[str, Any], runs: int) -> dict[str, tuple[float, float]]:
    now = dt.datetime.fromisoformat(meta["seeded_at"])
    results = {"open (as the app)": timed(lambda: open_app_store(path, key_path=key_path).close(), runs)}
    status = timed(_command([sys.executable, "-m", "sync", "status", "--db", str(path), "--key-file",
                             str(key_path)]), runs)
    interpreter = timed(_command([sys.executable, "-c", "pass"]), runs)
    results["sync status (command)"] = status
    results["  python -c pass"] = interpreter
    results["  status minus interpreter"] = (status[0] - interpreter[0], status[1] - interpreter[1])
    with open_app_store(path, key_path=key_path) as store:
        store.clock = lambda: now
        rng = random.Random(7)
        someone = store.conn.execute("SELECT id, family_name, usual_name, birth_date, given_name FROM patients "
                                     "WHERE usual_name IS NOT NULL ORDER BY id LIMIT 1 OFFSET ?",
                                     [rng.randrange(10)]).fetchone()
        pid, family, usual, birth, given = someone
        y, m, d = birth.split("-")
        steps = PatientsStep(SimpleNamespace(store=store), None)
        searches = {"search: family name prefix": family.split()[-1][:4], "search: usual name prefix": usual[:5],
                    "search: birth date dd/mm/yyyy": f"{d}/{m}/{y}", "patient list (nothing typed)": "",
                    "search: 1 letter (a full page)": family.split()[-1][:1]}
        for label, query in searches.items():  # as the list asks: the first LIST_LENGTH, and one more
            results[label] = timed(lambda: store.find_patients(query, limit=LIST_LENGTH + 1), runs)
        duplicates = {"family_name": family, "given_name": given, "birth_date": f"{d}/{m}/{y}"}
        results["probable duplicates (form)"] = timed(lambda: steps.probable_duplicates(**duplicates), runs)
        print("  found (the list shows the first " + str(LIST_LENGTH) + "): "
              + ", ".join(f"{q!r} {len(store.find_patients(q))}" for q in searches.values())
              + f", duplicates {len(steps.probable_duplicates(**duplicates))}", flush=True)
        results["resident history + usual values"] = timed(
            lambda: (store.resident_history(pid), store.usual_values(pid)), runs)
        results["outbox counts per state"] = timed(lambda: outbox.counts(store), runs)
        results["retention pass (nothing due)"] = timed(lambda: retention.purge(store), runs)
        results["claim batch of 20 (then unclaimed)"] = timed_claims(store, runs)
        results["  a write transaction (the commit's fsync)"] = timed(lambda: _touch(store), runs)
    return results


def report(sizes: list[int], reached: dict[int, int], figures: dict[int, dict[str, tuple[float, float]]]) -> None:
    names = list(next(iter(figures.values())))
    head = "".join(f"{f'{reached[n]:,} sessions':>24}" for n in sizes)
    low, high = (10_000, sizes[-1]) if 10_000 in figures and sizes[-1] > 10_000 else (sizes[0], sizes[-1])
    print(f"\n{'ms: median (min)':40}{head}   growth {reached[low]:,}→{reached[high]:,} (medians)")
    for name in names:
        cells = "".join(f"{figures[n][name][0]:>14.1f} ({figures[n][name][1]:>6.1f})" for n in sizes)
        growth = f"×{figures[high][name][0] / figures[low][name][0]:.2f}" if figures[low][name][0] > 0 else ""
        print(f"{name:40}{cells}   {growth}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds of seeding at most (all sizes)")
    parser.add_argument("--cache", default="/tmp/relais-bench-store")
    parser.add_argument("--fresh", action="store_true", help="seed again from nothing")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path = cache / "keys" / "store.key"
    deadline = time.monotonic() + args.budget
    figures, reached = {}, {}
    for size in sizes:
        path, meta_path = cache / f"store-{size}.db", cache / f"store-{size}.json"
        if args.fresh:
            for stale in (path, meta_path, *cache.glob(f"store-{size}.db*")):
                stale.unlink(missing_ok=True)
        start = time.monotonic()
        print(f"store of {size:,} sessions ({path}):", flush=True)
        meta = seed(path, key_path, size, deadline, meta_path)
        reached[size] = meta["sessions"]
        took = time.monotonic() - start
        mib = path.stat().st_size / 2**20
        print(f"  {meta['sessions']:,} sessions ready in {took:.0f} s ({mib:,.0f} MiB)"
              + ("" if meta["sessions"] >= size else f": budget reached, {meta['sessions']:,} of {size:,}"))
        figures[size] = measure(path, key_path, meta, args.runs)
    report(sizes, reached, figures)


if __name__ == "__main__":
    main()
