"""`python -m sync status` is a quick look for operators and scripts: it imports the store and what it counts, not
the mail parser nor the CSV import. Read from a fresh interpreter (sys.modules at exit)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync.store import Store
from tests.support.samples import closed_session

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import atexit, sys
atexit.register(lambda: print("relais-modules", *sorted(sys.modules), file=sys.stderr, flush=True))
from sync.__main__ import main
sys.exit(main(sys.argv[1:]))
"""

pytestmark = pytest.mark.timeout(60)


def run(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=50)
    line = next(line for line in done.stderr.splitlines() if line.startswith("relais-modules "))
    return done, set(line.split()[1:])


def test_status_imports_neither_the_mail_parser_nor_the_csv_import(tmp_path):
    with Store(tmp_path / "s.db") as store:
        closed_session(store)
    done, modules = run("status", "--db", str(tmp_path / "s.db"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["pending"] == 1
    assert "sync.store" in modules
    assert [m for m in modules if m == "email.parser" or m.startswith("sync.residents_csv")] == []


def test_the_csv_imports_help_is_still_its_modules_text():
    import sync.residents_csv

    done, modules = run("import-residents", "--help")
    assert done.returncode == 0
    assert sync.residents_csv.__doc__.splitlines()[0] in done.stdout
    assert "sync.residents_csv" in modules
