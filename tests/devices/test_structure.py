"""The shape of devices/, checked on the source: small modules, short functions, no import cycle (imports inside
functions count too), and docstrings that cite public specifications rather than notes kept elsewhere."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.imports import cycles, import_graph, long_functions, project_modules

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "devices"


MODULES = project_modules(ROOT, ("devices",))


def test_the_package_is_found():
    assert {"devices.bleak_transport", "devices.drivers.base", "devices.simulated.bleak_backend"} <= set(MODULES)


def test_no_import_cycle_inside_devices():
    graph = import_graph(ROOT, ("devices",))
    assert {"devices.drivers.base", "devices.simulated"} <= set(graph["devices.registry"])  # the lazy import counts
    assert not cycles(graph), cycles(graph)


def test_modules_stay_small_and_functions_fit_on_a_screen():
    for path in MODULES.values():
        assert path.read_text().count("\n") <= 500, path
        assert not long_functions(path, 80), (path, long_functions(path, 80))


def test_every_module_says_what_it_is_for_and_cites_public_sources():
    for path in MODULES.values():
        source = path.read_text()
        docstring = ast.get_docstring(ast.parse(source, str(path)))
        if path.name != "__init__.py" or source.strip():
            assert docstring and len(docstring) > 40, path
        assert not re.search(r"\bnotes\b|shared/|domain\.md|issue #?\d", source, re.IGNORECASE), path
