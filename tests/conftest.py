"""Test-wide set-up. Kivy reads these variables when it is first imported, so they are set here, before any test
module (and so before any `import kivy`): no user config or log files, logs through `logging` (captured by
pytest), an isolated KIVY_HOME, and an off-screen window unless a display is available."""
import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_NO_CONFIG", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="relais_kivy_home_"))
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
# The off-screen GL surface keeps the size the window had when created (resizing later only changes the
# viewport): make it large enough for both 1280x800 landscape and 800x1280 portrait tests.
os.environ.setdefault("KCFG_GRAPHICS_WIDTH", "1280")
os.environ.setdefault("KCFG_GRAPHICS_HEIGHT", "1280")
# Frames are drawn by a software renderer here, and drawing is most of a UI test's CPU: 30 frames a second are
# plenty for a test that taps and reads widgets (measured: a third less CPU than Kivy's default 60).
os.environ.setdefault("KCFG_GRAPHICS_MAXFPS", "30")
# The store's key file (sync.keys): a private temporary directory, never the developer's own ~/.config/relais/keys.
os.environ["RELAIS_KEYS"] = tempfile.mkdtemp(prefix="relais_keys_")
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject's addopts): one worker more than there are cores. The UI, kill and network tests spend a
    good part of their time waiting (simulated devices, real processes, latency proxies), and the extra worker
    fills that time; measured on two cores: about 80 % of the CPU used with two workers."""
    return (os.cpu_count() or 1) + 1


@pytest.fixture(scope="session")
def sync_cli():
    """`sync_cli("status", "--db", path, env=..., input=...)`: `python -m sync …` as a real process, forked from one
    interpreter that imported the commands once (tests.support.forking); returns a CompletedProcess with text
    stdout and stderr. `env` is the command's whole environment (default: the test's, as it is at the call)."""
    from tests.support.forking import SYNC_CLI_IMPORTS, Forker

    with Forker(SYNC_CLI_IMPORTS, cwd=Path(__file__).resolve().parents[1]) as forker:
        yield forker.cli
