"""A paper or file copy of the report for the patient (in a pharmacy cabin the patient leaves with it): the PDF
frozen at close, written to a private folder and handed to the system's viewer or printer.

The copy is patient data outside the encrypted store, so it must not linger: the folder ($RELAIS_HOME/print) is
private (0700), each file is private (0600), and every hand-out and every app start remove the files left by
earlier ones. The opener is injectable so tests launch nothing; by default `xdg-open` (freedesktop.org
xdg-utils: the desktop's viewer, which prints) or else `lp` (CUPS: straight to the default printer).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable

Opener = Callable[[Path], None]
PRINT_FOLDER = "print"


def print_folder(home: Path) -> Path:
    """`home`/print, created private (0700, whatever the umask)."""
    folder = Path(home) / PRINT_FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def clear_print_folder(directory: Path) -> int:
    """Remove every file of the print folder (earlier copies); returns how many were removed."""
    removed = 0
    if Path(directory).is_dir():
        for path in Path(directory).iterdir():
            if path.is_file() or path.is_symlink():
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def system_opener() -> Opener | None:
    """`xdg-open FILE`, else `lp FILE`, started without waiting for it; None when neither is installed."""
    program = shutil.which("xdg-open") or shutil.which("lp")
    if program is None:
        return None

    def open_file(path: Path) -> None:
        subprocess.Popen([program, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # noqa: S603
                         stderr=subprocess.DEVNULL, start_new_session=True)

    return open_file


def hand_out_pdf(pdf: bytes, *, file_name: str, directory: Path, opener: Opener | None = None) -> Path:
    """Write `pdf` as `directory`/`file_name` (0600) after removing earlier copies, then open it with `opener`
    (None: nothing is opened, the screen says where the file is). Returns the file's path."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    clear_print_folder(folder)
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(file_name).name) or "report.pdf"
    path = folder / safe_name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pdf)
    if opener is not None:
        opener(path)
    return path
