"""The shape of devices/, checked on the source: small modules, short functions, no import cycle (imports inside
functions count too), and docstrings that cite public specifications rather than notes kept elsewhere."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "devices"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """The devices modules a file imports, anywhere in it: `from a.b import c` names a.b.c when that is a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return found & set(MODULES)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_package_is_found():
    assert {"devices.bleak_transport", "devices.drivers.base", "devices.simulated.bleak_backend"} <= set(MODULES)


def test_no_import_cycle_inside_devices():
    graph = {name: imported_modules(path) - {name} for name, path in MODULES.items()}
    assert graph["devices.registry"] >= {"devices.drivers.base", "devices.simulated"}  # the lazy import counts
    assert find_cycle(graph) is None, find_cycle(graph)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_modules_stay_small_and_functions_fit_on_a_screen():
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        assert source.count("\n") <= 500, path
        for node in ast.walk(ast.parse(source, str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno + 1 <= 80, (path, node.name)


def test_every_module_says_what_it_is_for_and_cites_public_sources():
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        docstring = ast.get_docstring(ast.parse(source, str(path)))
        if path.name != "__init__.py" or source.strip():
            assert docstring and len(docstring) > 40, path
        assert not re.search(r"\bnotes\b|shared/|domain\.md|issue #?\d", source, re.IGNORECASE), path
