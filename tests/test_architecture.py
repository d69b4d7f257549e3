"""Layering rules from the brief, checked on the source: bleak only in devices/bleak_transport.py, Kivy only in
mobile/, HTTP only in sync/."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("devices", "sync", "mobile")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def sources():
    for package in PACKAGES:
        yield from (ROOT / package).rglob("*.py")


def test_sources_found():
    assert len(list(sources())) > 5


def test_only_the_bleak_module_imports_bleak():
    users = {p.relative_to(ROOT).as_posix() for p in sources() if "bleak" in imports_of(p)}
    assert users == {"devices/bleak_transport.py"}


def test_kivy_only_in_mobile():
    users = {p.relative_to(ROOT).as_posix() for p in sources() if "kivy" in imports_of(p)}
    assert all(u.startswith("mobile/") for u in users), users


def test_workflow_knows_nothing_of_kivy():
    for path in (ROOT / "mobile" / "workflow").glob("*.py"):
        assert "kivy" not in imports_of(path), path
    assert "kivy" not in imports_of(ROOT / "mobile" / "runtime.py")


def test_network_clients_only_in_sync():
    for path in sources():
        used = imports_of(path) & {"requests", "urllib3", "http", "socket"}
        if used:
            assert path.relative_to(ROOT).parts[0] == "sync", (path, used)


def test_devices_do_not_depend_on_upper_layers():
    for path in (ROOT / "devices").rglob("*.py"):
        assert not imports_of(path) & {"sync", "mobile", "kivy"}, path
    for path in (ROOT / "sync").rglob("*.py"):
        assert not imports_of(path) & {"mobile", "kivy", "devices"}, path
