"""The shape of mobile/: no import cycle between its modules (imports inside functions count), small modules and
functions, and no workflow module that builds a sentence for staff."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.support.imports import cycles, import_graph, long_functions

ROOT = Path(__file__).resolve().parents[2]
MOBILE = ROOT / "mobile"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def test_no_import_cycle_inside_mobile():
    graph = import_graph(ROOT, ("mobile",))
    assert "mobile.workflow.state" in graph["mobile.workflow.facade"]
    assert not cycles(graph), cycles(graph)


def test_modules_and_functions_stay_small():
    too_long = []
    for path in MOBILE.rglob("*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.name}: {lines} lines")
        too_long += [f"{path.name}:{name}: {length} lines" for name, length in long_functions(path, MAX_FUNCTION_LINES)]
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
