"""Benchmark helper (run by hand, or imported by bench/startup.py): an app store of N closed sessions, made fast.

`sync.seed` creates sessions one by one through the store's own code (about 0.1 s each here, and more as the store
grows), which would take hours at 10,000. So it seeds a base of real sessions (`--base`, default 100, in the app's
encrypted store format with the install key) and clones them with plain SQL until N: every table that hangs off a
patient or a session gets its rows copied, with each id, foreign id and idempotency key rewritten the same way for a
copy (its last six hex digits replaced by the copy's number, so a UUID stays a UUID). Staff, site and the audit log
are not copied; the schema's triggers are set aside while copying. A clone keeps its original's frozen bundle (payload): the store has the size, rows and indexes of
N sessions, fit for start-up and memory figures, not for upload figures (the bundles' own ids are not rewritten).

    .venv/bin/python bench/seed_store.py --sessions 10000 [--base 100] [--sent] [--db PATH]
                                                                    # default: $RELAIS_HOME/relais.db
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# run as a script, bench/ comes first on sys.path, where bench/sync.py would shadow the sync package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

# columns holding ids of rows that are cloned with them (the others, e.g. site_id and staff_id, are shared)
ID_COLUMNS = {"id", "patient_id", "session_id", "idempotency_key", "resident_id", "merged_into", "panel_id",
              "addendum_id", "document_id", "set_id", "patient_a", "patient_b", "survivor_id"}
ROOTS = ("patients", "sessions")


def cloned_tables(conn) -> list[tuple[str, list[str]]]:
    """(table, columns) of the tables holding patients, sessions and what hangs off them, parents first."""
    names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE "
                                            "'%VIRTUAL%' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
    found = []
    for name in names:
        columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')]
        if name in ROOTS or (not name.startswith("history_") and {"patient_id", "session_id"} & set(columns)):
            found.append((name, columns))
    return sorted(found, key=lambda item: (item[0] not in ROOTS, ROOTS.index(item[0]) if item[0] in ROOTS else 0))


def clone_once(conn, tables: list[tuple[str, list[str]]], copy: int) -> None:
    """One more copy of every base row, its ids ending in the copy's number."""
    for table, columns in tables:
        select = ", ".join(f"CASE WHEN \"{c}\" IS NULL THEN NULL ELSE substr(\"{c}\", 1, length(\"{c}\") - 6) || "
                           f"printf('%06x', {copy}) END" if c in ID_COLUMNS else f'"{c}"' for c in columns)
        quoted = ", ".join(f'"{c}"' for c in columns)
        conn.execute(f'INSERT INTO "{table}" ({quoted}) SELECT {select} FROM base."{table}"')


def mark_sent(conn, now: str) -> None:
    """As on a tablet that syncs: every session bundle and resident confirmed by the server just now (kept here for
    the retention delay, 7 days by default)."""
    conn.execute("UPDATE outbox SET state = 'sent', sent_at = ?", [now])
    conn.execute("UPDATE patient_outbox SET state = 'sent', sent_generation = generation, sent_at = ?", [now])


def seed_store(path: Path, sessions: int, *, base: int = 100, key_path: Path | None = None,
               sent: bool = False) -> float:
    """Add `sessions` closed sessions to the store at `path` (`base` real ones, the rest clones: `sessions` must be a
    multiple of `base`), waiting for upload, or (`sent`) confirmed by the server; returns the seconds it took."""
    from sync.seed import seed_sessions
    from sync.store import open_app_store

    if sessions < 1 or base < 1 or sessions % base:
        raise ValueError("sessions must be a positive multiple of base")
    started = time.perf_counter()
    with open_app_store(path, key_path=key_path) as store:
        conn = store.conn
        conn.execute("PRAGMA synchronous = OFF")  # a throw-away bench store: no fsync per session
        seed_sessions(store, base, doctors=False)
        copies = sessions // base - 1
        tables = cloned_tables(conn)
        conn.execute("ATTACH DATABASE ':memory:' AS base")
        for table, _ in tables:  # a frozen copy of the real rows to clone from
            conn.execute(f'CREATE TABLE base."{table}" AS SELECT * FROM main."{table}"')
        conn.execute("BEGIN")
        # the schema's triggers guard the workflow (no measurement added to a closed session): the clones are
        # copies of rows that passed them, so they are dropped while copying and put back as they were
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        for name, _ in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        for copy in range(1, copies + 1):
            clone_once(conn, tables, copy)
        if sent:
            mark_sent(conn, store.stamp())
        for _, sql in triggers:
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE base")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--base", type=int, default=100, help="real sessions seeded before cloning")
    parser.add_argument("--sent", action="store_true", help="as confirmed by the server (else waiting for upload)")
    parser.add_argument("--db", type=Path, default=None, help="store file (default: $RELAIS_HOME/relais.db)")
    args = parser.parse_args()
    from sync.paths import default_store_path

    path = args.db or default_store_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if args.sessions < 1 or args.base < 1 or args.sessions % args.base:
        parser.error("--sessions must be a positive multiple of --base")
    seconds = seed_store(path, args.sessions, base=args.base, sent=args.sent)
    print(f"{args.sessions} closed sessions in {path} ({path.stat().st_size / 2**20:.0f} MiB) in {seconds:.1f} s")


if __name__ == "__main__":
    main()
