"""Where the app keeps its local store. One place, so the app, `python -m sync status|push` and tests agree."""
from __future__ import annotations

import os
from pathlib import Path


def relais_home() -> Path:
    """$RELAIS_HOME, else ~/.local/share/relais; created private (0o700) because it holds health data."""
    home = Path(os.environ.get("RELAIS_HOME") or Path.home() / ".local" / "share" / "relais")
    if not home.exists():
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(home, 0o700)  # mkdir's mode is filtered by the umask
    return home


def default_store_path() -> Path:
    """The app's store file: $RELAIS_HOME/relais.db."""
    return relais_home() / "relais.db"
