"""Per-install secret keys, kept apart from the data they protect.

The store is encrypted with SQLCipher under a random 256-bit key created at first run. The key lives in its own
file, owner-only (0600) in an owner-only directory, NOT next to the database: a copy of the data directory (a
backup, a pulled SD card) does not carry the key. It is not derived from a PIN on purpose: background sync runs
while the tablet is locked. On the Android tablet build the same 32 bytes are wrapped by the Android Keystore (an
AES key generated in the keystore with `setUserAuthenticationRequired(false)`, the wrapped blob stored in the app's
private files; see README, "Keys on the tablet"); on desktop the file below is the key.

Rules, because losing the key loses the data and a new key on an old database silently hides it:
- a key is only ever created when the database does not exist yet (first run);
- a database without its key, or a key file that is unreadable, too permissive or the wrong size, is a clear error.
"""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from sync.errors import RelaisError
from sync.paths import make_private

KEY_BYTES = 32


class KeyFileError(RelaisError):
    """A key is missing (`key.missing`), readable by other accounts (`key.permissions`) or not KEY_BYTES long
    (`key.size`); `params["path"]` is the key file."""


def keys_home() -> Path:
    """$RELAIS_KEYS, else ~/.config/relais/keys (the data lives in ~/.local/share/relais). An existing one is
    brought to owner-only rights each time (the folder 0700, the key files in it 0600), like $RELAIS_HOME
    (sync.paths): a key left readable by others by a copy or a restore is closed again at the next start."""
    home = Path(os.environ.get("RELAIS_KEYS") or Path.home() / ".config" / "relais" / "keys")
    if home.is_dir():
        make_private(home)
        for entry in home.iterdir():
            _private_file(entry)
    return home


def _private_file(path: Path) -> None:
    info = path.lstat()
    if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & 0o600)


def default_key_path(name: str = "store.key") -> Path:
    return keys_home() / name


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def read_key(path: Path) -> bytes:
    """The key in `path`; KeyFileError when absent, readable by others, or not KEY_BYTES long."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyFileError("key.missing", path=str(path)) from None
    if os.name == "posix" and stat.S_IMODE(info.st_mode) & 0o077:
        raise KeyFileError("key.permissions", path=str(path))
    data = path.read_bytes()
    if len(data) != KEY_BYTES:
        raise KeyFileError("key.size", path=str(path), size=len(data), expected=KEY_BYTES)
    return data


def load_or_create_key(path: Path | None = None, *, database_exists: bool) -> bytes:
    """The key at `path` (default: the store key). Created (32 random bytes, 0600, written atomically) only when
    neither the key nor the database exists; a database whose key is gone is an error, never a fresh key."""
    path = Path(path or default_key_path())
    if path.exists() or database_exists:
        return read_key(path)
    _private_dir(path.parent)
    key = secrets.token_bytes(KEY_BYTES)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)  # a crash leaves either no key or the whole key
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return key
