"""Where this tablet syncs to, kept in the tablet's encrypted store.

The server URL, the tablet's bearer token, an optional CA file for a private PKI and the server's transaction size
limit are settings of the store, which is a SQLCipher database (sync.store): the token is therefore encrypted at
rest with the install key and never written to a plain file, an environment file or a log (the audit log records
that the setting changed, not its value).

There is deliberately no setting to turn TLS verification off: the only TLS knob is which CA to trust, and the
uploader refuses plain HTTP to anything but this machine.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync.store import Store

URL, TOKEN, CA_BUNDLE, MAX_ENTRIES = "server_url", "server_token", "server_ca_bundle", "server_max_entries"


class ServerConfigError(ValueError):
    """A server setting that cannot work (not https, CA file missing…)."""


@dataclass(frozen=True)
class ServerSettings:
    url: str
    token: str | None = None
    ca_bundle: str | None = None
    max_entries: int | None = None

    def __repr__(self) -> str:  # never print the token
        return (f"ServerSettings(url={self.url!r}, token={'***' if self.token else None}, "
                f"ca_bundle={self.ca_bundle!r}, max_entries={self.max_entries!r})")


def save(store: "Store", *, url: str, token: str | None = None, ca_bundle: str | os.PathLike[str] | None = None,
         max_entries: int | None = None) -> ServerSettings:
    """Check and keep the server settings in the encrypted store."""
    from sync.uploader import check_server_url

    try:
        check_server_url(url)
    except ValueError as exc:
        raise ServerConfigError(str(exc)) from None
    ca = None
    if ca_bundle:
        path = Path(ca_bundle).expanduser().resolve()
        if not path.exists():
            raise ServerConfigError(f"CA file not found: {path}")
        ca = str(path)
    if max_entries is not None and max_entries < 1:
        raise ServerConfigError("max_entries must be at least 1")
    if token is not None and (not token.strip() or any(c.isspace() for c in token.strip())):
        raise ServerConfigError("the token must be one word")
    store.set_setting(URL, url.rstrip("/"))
    store.set_setting(TOKEN, token.strip() if token else "")
    store.set_setting(CA_BUNDLE, ca or "")
    store.set_setting(MAX_ENTRIES, str(max_entries) if max_entries else "")
    return load(store)  # type: ignore[return-value]


def effective(saved: ServerSettings | None, *, url: str | None = None, token: str | None = None,
              ca_bundle: str | None = None, max_entries: int | None = None) -> ServerSettings | None:
    """What a command uses: an explicit `url` with only the explicit options (never the saved token sent to
    another server); else the saved settings, each option overriding its saved value. None: no server at all."""
    if url:
        return ServerSettings(url=url, token=token, ca_bundle=ca_bundle, max_entries=max_entries)
    if saved is None:
        return None
    return ServerSettings(url=saved.url, token=token or saved.token, ca_bundle=ca_bundle or saved.ca_bundle,
                          max_entries=max_entries or saved.max_entries)


def load(store: "Store") -> ServerSettings | None:
    url = store.get_setting(URL)
    if not url:
        return None
    max_entries = store.get_setting(MAX_ENTRIES) or None
    return ServerSettings(url=url, token=store.get_setting(TOKEN) or None,
                          ca_bundle=store.get_setting(CA_BUNDLE) or None,
                          max_entries=int(max_entries) if max_entries else None)
