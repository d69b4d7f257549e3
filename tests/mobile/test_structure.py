"""The shape of mobile/: no import cycle between its modules (imports inside functions count), small modules and
functions, and no workflow module that builds a sentence for staff."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MOBILE = ROOT / "mobile"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def mobile_imports(path: Path, known: set[str]) -> set[str]:
    """The mobile modules `path` imports, anywhere in it; `from package import name` counts as the submodule when
    `name` is one, else as the package."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in known:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            found.update(subs or {node.module})
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in MOBILE.rglob("*.py")}
    known = set(paths)
    return {name: mobile_imports(path, known) - {name} for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_inside_mobile():
    graph = import_graph()
    assert "mobile.workflow.state" in graph["mobile.workflow.facade"]
    assert find_cycle(graph) is None, find_cycle(graph)


def test_modules_and_functions_stay_small():
    too_long = []
    for path in MOBILE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{path.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.name}:{node.name}: {length} lines")
    assert not too_long, too_long


def test_every_mobile_module_says_what_it_is_for():
    missing = [p.relative_to(ROOT).as_posix() for p in MOBILE.rglob("*.py")
               if p.stat().st_size and not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))]
    assert not missing, missing


def test_the_workflow_refuses_with_codes_never_with_sentences():
    """A WorkflowError's first argument is a dotted lower-case code, never a sentence."""
    found = []
    for path in (MOBILE / "workflow").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "WorkflowError" and node.args:
                code = node.args[0]
                if isinstance(code, ast.Constant) and (" " in code.value or code.value != code.value.lower()
                                                       or "." not in code.value):
                    found.append(f"{path.name}:{node.lineno}: {code.value}")
    assert not found, found
