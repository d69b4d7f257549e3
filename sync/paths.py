"""Where the app keeps its local store. One place, so the app, `python -m sync status|push` and tests agree."""
from __future__ import annotations

import os
import stat
from pathlib import Path


def relais_home() -> Path:
    """$RELAIS_HOME, else ~/.local/share/relais: private (0o700) because it holds health data. Created so, and an
    existing one of ours left readable by others (0o755, say) is brought back to 0o700; a shared sticky folder such
    as /tmp, or one owned by someone else, is never changed."""
    home = Path(os.environ.get("RELAIS_HOME") or Path.home() / ".local" / "share" / "relais")
    if not home.exists():
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(home, 0o700)  # mkdir's mode is filtered by the umask
    else:
        make_private(home)
    return home


def make_private(folder: Path) -> None:
    """`folder` brought to owner-only rights when it is ours and not a shared sticky folder."""
    info = folder.stat()
    if info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, stat.S_IMODE(info.st_mode) & 0o700)


def default_store_path() -> Path:
    """The app's store file: $RELAIS_HOME/relais.db."""
    return relais_home() / "relais.db"
