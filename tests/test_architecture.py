"""Layering rules, checked on the source: bleak only in the Bluetooth transport and the simulators' bleak backend
(and the transport never loads the simulators or bumble), Kivy only in mobile/, HTTP only in sync/; the tablet side
never imports the development server (sync/server/), which uses only the tablet side's shared pieces and has no
import cycle."""
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


# -- the tablet → server boundary ----------------------------------------------------------------------------------

SERVER = "sync.server"
# the command line dispatches `serve`, `tablets`, `proxy` (imports inside those functions); the app's entry point
# starts the local server process, and nothing else of the server
MAY_IMPORT_THE_SERVER = {"sync/__main__.py": SERVER, "mobile/__main__.py": f"{SERVER}.process",
                         "mobile/runtime.py": f"{SERVER}.process"}
# the doctors' application computes NEWS2 with the tablet's pure clinical rules (sync.clinical), never the store;
# the app's local server keeps its copy under a key made and kept as the store's is (sync.keys)
SERVER_USES_OF_THE_TABLET_SIDE = ("sync.fhir", "sync.vocabulary", "sync.errors", "sync.clinical", "sync.keys",
                                  "sync.ids")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def dotted_imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Every name this file imports, at module level and (unless `top_level_only`) inside functions, as absolute
    dotted names: `import a.b` → a.b, `from a.b import c` → a.b.c (c may be a submodule or a name in it)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    package = module_name(path).split(".") if path.name == "__init__.py" else module_name(path).split(".")[:-1]
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, [base, node.module or ""]))
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_tablet_side_never_imports_the_server():
    offenders = {}
    for path in sources():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("sync/server/"):
            continue
        allowed = MAY_IMPORT_THE_SERVER.get(relative)
        used = {n for n in dotted_imports(path) if within(n, SERVER)}
        refused = {n for n in used if allowed is None or not within(n, allowed)}
        if refused:
            offenders[relative] = sorted(refused)
    assert not offenders, offenders
    # the command line loads the server only when one of its commands runs
    assert not {n for n in dotted_imports(ROOT / "sync" / "__main__.py", top_level_only=True) if within(n, SERVER)}


def test_the_server_uses_only_the_shared_pieces_of_the_tablet_side():
    for path in (ROOT / "sync" / "server").rglob("*.py"):
        tablet_side = {n for n in dotted_imports(path) if within(n, "sync") and not within(n, SERVER)}
        assert all(any(within(n, shared) for shared in SERVER_USES_OF_THE_TABLET_SIDE) for n in tablet_side), \
            (path.name, tablet_side)


def test_the_server_package_has_no_import_cycle():
    modules = {module_name(p): p for p in (ROOT / "sync" / "server").rglob("*.py")}
    imported = {name: dotted_imports(path) for name, path in modules.items()}  # each file parsed once
    graph = {name: {m for m in modules if m != name and any(within(n, m) for n in imported[name])
                    and m != SERVER} for name in modules}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, " → ".join(trail + (name,))
        if name not in done:
            for target in graph[name]:
                visit(target, trail + (name,))
            done.add(name)

    for name in graph:
        visit(name, ())
