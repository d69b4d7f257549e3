"""$RELAIS_HOME holds the encrypted store and its neighbours: it is made owner-only at start even when it already
existed with rights for others, but a shared sticky folder (such as /tmp) is never changed."""
from __future__ import annotations

import os
import stat

from sync.paths import relais_home


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_an_existing_home_readable_by_others_becomes_owner_only(tmp_path, monkeypatch):
    home = tmp_path / "relais"
    home.mkdir()
    os.chmod(home, 0o755)
    monkeypatch.setenv("RELAIS_HOME", str(home))
    assert relais_home() == home
    assert mode(home) == 0o700


def test_a_new_home_is_created_owner_only(tmp_path, monkeypatch):
    monkeypatch.setenv("RELAIS_HOME", str(tmp_path / "new" / "relais"))
    assert mode(relais_home()) == 0o700


def test_a_shared_sticky_folder_is_left_alone(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    monkeypatch.setenv("RELAIS_HOME", str(shared))
    relais_home()
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777
