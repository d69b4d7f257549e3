"""Benchmark (run by hand): the offline MSSanté directory on a national-size file.

Imports N synthetic rows (default 200,000; the national extraction holds about 500,000 boxes) in the public file's
format into a fresh encrypted store, then times searches by name, city, name + city, RPPS and postal code through
`search_directory` (an FTS5 index), against a baseline in the same run: the same words looked up by a plain
`LIKE '%word%'` scan of the same table. Prints the import time, each search's median over --repeat runs, and the
ratio baseline / index.

    .venv/bin/python bench/directory.py [--rows 200000] [--repeat 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync.delivery.annuaire import import_directory, normalise, search_directory  # noqa: E402
from sync.store import open_app_store  # noqa: E402
from tests.support.directory import line, write_extraction  # noqa: E402

QUERIES = {"name": "nom4242", "city": "ville1717", "name + city": "ville17 nom1", "RPPS": "10000012345",
           "postal code": "01234"}


def _rows(count: int) -> list[str]:
    return [line("PER", f"p{i}@medecin.mssante.fr", rpps=f"{10000000000 + i}", family=f"NOM{i % 50000}",
                 given="Prénom", postal_code=f"{1000 + i % 95000:05d}", city=f"VILLE{i % 3000}")
            for i in range(count)]


def _median(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _scan(store, text: str) -> list:
    clauses = " AND ".join("search LIKE ?" for _ in normalise(text).split())
    return store.query(f"SELECT * FROM mssante_directory WHERE {clauses} LIMIT 20",
                       [f"%{word}%" for word in normalise(text).split()])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        path = write_extraction(base, *_rows(args.rows))
        store = open_app_store(base / "relais.db", key_path=base / "keys" / "store.key")
        try:
            started = time.perf_counter()
            imported = import_directory(store, path).imported
            print(f"import: {imported} boxes in {time.perf_counter() - started:.1f} s")
            print(f"{'search':<12} {'index ms':>9} {'LIKE scan ms':>13} {'ratio':>7}")
            for label, text in QUERIES.items():
                assert search_directory(store, text), label
                indexed = _median(lambda: search_directory(store, text), args.repeat)
                scanned = _median(lambda: _scan(store, text), args.repeat)
                print(f"{label:<12} {indexed * 1000:>9.1f} {scanned * 1000:>13.1f} {scanned / indexed:>6.1f}x")
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
