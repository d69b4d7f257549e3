"""The layers of sync/: no import cycle (imports inside functions and for type checking count), the store never
imports the FHIR mapping, the outbox and the audit trail need nothing of the store at run time, and every module
imports on its own, first, in a fresh interpreter."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.support.imports import cycles, import_graph

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in (ROOT / "sync").rglob("*.py")}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return ids


def imports(name: str, *, runtime_only: bool = False) -> set[str]:
    """The sync modules `name` imports, wherever the import statement is; `from package import submodule` counts
    as importing the submodule."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree) if runtime_only else set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def test_the_module_walk_sees_the_imports():
    assert "sync.store.database" in imports("sync.store.patients")
    assert "sync.outbox" in imports("sync.closing") and "sync.fhir" in imports("sync.closing")


def test_no_import_cycle_in_sync():
    graph = import_graph(ROOT, ("sync",))
    assert not cycles(graph), cycles(graph)


def test_the_store_does_not_import_the_fhir_mapping():
    for name in MODULES:
        if name.startswith("sync.store"):
            assert not any(m == "sync.fhir" or m.startswith("sync.fhir.") for m in imports(name)), name


def test_outbox_and_audit_need_nothing_of_the_store_at_run_time():
    for name in ("sync.outbox", "sync.audit", "sync.errors", "sync.keys", "sync.vocabulary"):
        assert not any(m.startswith("sync.store") for m in imports(name, runtime_only=True)), name


def test_every_module_imports_first_in_a_fresh_interpreter():
    names = sorted(n for n in MODULES if n != "sync.__main__")
    script = ("import importlib, sys\n"
              f"for name in {names!r}:\n"
              "    for loaded in [m for m in sys.modules if m == 'sync' or m.startswith('sync.')]:\n"
              "        del sys.modules[loaded]\n"
              "    importlib.import_module(name)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
