"""Opening the app's store file with its key: the install key (sync.keys), created at first run and kept apart
from the data; a plain store left by a version without encryption is encrypted in place first. Tools open a
given file as it is.

A store file that exists must be a store: an emptied (0-byte) file or a damaged one is refused with a code
(`store.empty`, `store.corrupt`) before anything is written or created (no new store over it, no key, no
half-made encrypted copy), so what is left of the data stays for whoever can recover it."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sync import keys
from sync.paths import default_store_path
from sync.store.database import SQLITE_HEADER, check_plain_store, encrypt_plain_store, file_header
from sync.store.errors import StoreCorruptError
from sync.store.facade import Store

log = logging.getLogger(__name__)


def open_app_store(path: str | os.PathLike[str] | None = None, *, key_path: str | os.PathLike[str] | None = None,
                   **kwargs: Any) -> Store:
    """The app's store (default $RELAIS_HOME/relais.db), encrypted with the install key."""
    path = Path(path) if path is not None else default_store_path()
    refuse_empty(path)
    header = file_header(path)
    plain = header == SQLITE_HEADER
    if plain:
        check_plain_store(path)  # a damaged plain file is refused before a key or an encrypted copy is made
    # only an encrypted database needs an existing key; a plain one (or none) may get a new key
    key = keys.load_or_create_key(Path(key_path) if key_path else None, database_exists=bool(header) and not plain)
    if plain:
        log.info("store: encrypting a plain store from an earlier version")
        encrypt_plain_store(path, key)
    return Store(path, key=key, **kwargs)


def open_store_file(path: str | os.PathLike[str], *, key_path: str | os.PathLike[str] | None = None,
                    **kwargs: Any) -> Store:
    """An existing store as it is (tools: `python -m sync status|push --db PATH`): plain when its header says so,
    otherwise decrypted with the key file (default: the install key). Never converts, never creates a key."""
    path = Path(path)
    with open(path, "rb") as f:  # a missing file is an error here, not a new store
        header = f.read(16)
    refuse_empty(path)
    if header == SQLITE_HEADER:
        return Store(path, **kwargs)
    return Store(path, key=keys.read_key(Path(key_path) if key_path else keys.default_key_path()), **kwargs)


def refuse_empty(path: Path) -> None:
    """An existing 0-byte store file was emptied (or its first write never happened): refused, never reused as a
    new store, whose empty schema would hide that the data is gone."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        raise StoreCorruptError("store.empty", path=str(path))
