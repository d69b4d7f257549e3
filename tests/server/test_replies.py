"""How the development server sends its replies: without Nagle's delay on its connections.

Why: http.server writes a reply's headers and its body in two writes; with Nagle's algorithm on, the body waits for
the client's acknowledgement of the headers, which a client delays (RFC 1122 section 4.2.3.2: up to 500 ms, 40 ms
on Linux), so every keep-alive exchange could stall. The server turns it off on each connection it accepts.
"""
from __future__ import annotations

import socket
import threading

import pytest
import requests

from sync.server.handler import base_url, make_server


@pytest.fixture
def server_and_sockets(tmp_path):
    server = make_server("127.0.0.1", 0, tmp_path / "server.db")
    accepted: list[socket.socket] = []
    get_request = server.get_request

    def keep(*args):
        conn, address = get_request(*args)
        accepted.append(conn)
        return conn, address

    server.get_request = keep
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield base_url(server), accepted
    server.shutdown()
    server.server_close()


def test_each_connection_the_server_accepts_sends_without_nagle_delay(server_and_sockets):
    url, accepted = server_and_sockets
    with requests.Session() as http:  # keep-alive: the server's end of the connection is still open below
        for _ in range(2):
            assert http.get(f"{url}/metadata", timeout=10).status_code == 200
        assert len(accepted) == 1
        assert accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
