"""Layering rules, checked on the source: bleak only in the Bluetooth transport and the simulators' bleak backend
(and the transport never loads the simulators or bumble), Kivy only in mobile/, HTTP only in sync/."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("devices", "sync", "mobile")


def imports_of(path: Path, *, full: bool = False) -> set[str]:
    """Top-level packages imported anywhere in the file (inside functions too); dotted names when `full`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name if full else a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module if full else node.module.split(".")[0])
    return names


def sources():
    for package in PACKAGES:
        yield from (ROOT / package).rglob("*.py")


def test_sources_found():
    assert len(list(sources())) > 5


def test_only_the_transport_and_the_simulators_backend_import_bleak():
    users = {p.relative_to(ROOT).as_posix() for p in sources() if "bleak" in imports_of(p)}
    assert users == {"devices/bleak_transport.py", "devices/simulated/bleak_backend.py"}


def test_the_bluetooth_transport_never_imports_the_simulators():
    names = imports_of(ROOT / "devices" / "bleak_transport.py", full=True)
    assert not {n for n in names if n == "bumble" or n.startswith(("bumble.", "devices.simulated"))}, names


def test_importing_the_bluetooth_transport_does_not_load_bumble():
    code = "import devices.bleak_transport, sys; assert not any(m.startswith('bumble') for m in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def test_kivy_only_in_mobile():
    users = {p.relative_to(ROOT).as_posix() for p in sources() if "kivy" in imports_of(p)}
    assert all(u.startswith("mobile/") for u in users), users


def test_workflow_knows_nothing_of_kivy():
    assert "kivy" not in imports_of(ROOT / "mobile" / "workflow.py")
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
