"""Shared by the server tests: one real development server process per test module, and a tablet's store."""
from __future__ import annotations

import pytest

from sync.store import Store
from tests.support.servers import DevServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The development server as a real process, open (no token), shared by the tests of one module."""
    with DevServer(tmp_path_factory.mktemp("server") / "server.db") as srv:
        yield srv


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "tablet.db") as s:
        yield s
