"""The shape of the code, checked on the source: no import cycle anywhere (imports inside functions count), modules
and functions small enough to read, and the dependencies pointing one way (the store below the FHIR mapping, the
tablet side never reaching into the server side)."""
from __future__ import annotations

from pathlib import Path

from tests.support.imports import cycles, import_graph, long_functions, project_modules

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def closure(graph: dict[str, dict[str, int]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_no_import_cycle_in_devices_sync_mobile():
    found = cycles(import_graph(ROOT))
    assert not found, "import cycles: " + "; ".join(" ↔ ".join(c) for c in found)


def test_the_cycle_check_sees_an_import_hidden_in_a_function(tmp_path):
    package = tmp_path / "sync"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "store.py").write_text("from sync import outbox\n")
    (package / "outbox.py").write_text("def claim():\n    from sync.store import Store\n    return Store\n")
    (package / "audit.py").write_text("from . import store\n")
    assert cycles(import_graph(tmp_path, ("sync",))) == [["sync.outbox", "sync.store"]]


def test_no_module_over_500_lines():
    too_long = {name: n for name, path in project_modules(ROOT).items()
                if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not too_long, too_long


def test_no_function_over_80_lines():
    too_long = {name: found for name, path in project_modules(ROOT).items()
                if (found := long_functions(path, MAX_FUNCTION_LINES))}
    assert not too_long, too_long


def test_the_store_does_not_depend_on_the_fhir_mapping():
    graph = import_graph(ROOT)
    for module in (m for m in graph if m == "sync.store" or m.startswith("sync.store.")):
        reached = closure(graph, module)
        assert not any(m == "sync.fhir" or m.startswith("sync.fhir.") for m in reached), module
