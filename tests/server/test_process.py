"""The one class that starts the development server as a process (the app's local server, the tests' server): the
token reaches the child through its environment only, an open server stays open whatever the caller's environment
holds, a start that fails is an error the app can catch, and a crash (SIGKILL) leaves the port free for a restart."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sync.server.process import TOKEN_VARIABLE, LocalServer, ServerStartError, server_alive


def cmdline(server: LocalServer) -> str:
    """The child's command line as `ps` shows it to every user of the machine."""
    assert server.process is not None
    return Path(f"/proc/{server.process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_the_token_goes_through_the_environment_never_the_command_line(tmp_path):
    with LocalServer(tmp_path / "server.db", token="t0p-s3cret") as server:
        assert "t0p-s3cret" not in cmdline(server) and "--token" not in cmdline(server)
        assert requests.get(f"{server.url}/Patient", timeout=10).status_code == 401
        reply = requests.get(f"{server.url}/Patient", headers={"Authorization": "Bearer t0p-s3cret"}, timeout=10)
        assert reply.status_code == 200


def test_without_a_token_the_server_is_open_whatever_the_callers_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_VARIABLE, "left-over")  # the app sends no token to its own local server
    with LocalServer(tmp_path / "server.db") as server:
        assert requests.get(f"{server.url}/Patient", timeout=10).status_code == 200


def test_a_failed_start_is_an_error_with_a_code_and_the_log(tmp_path):
    with LocalServer(tmp_path / "first.db") as first:
        taken = LocalServer(tmp_path / "second.db", port=first.port, log_path=tmp_path / "second.log")
        with pytest.raises(RuntimeError) as failed:  # what the app catches to try another port
            taken.start()
        assert isinstance(failed.value, ServerStartError) and failed.value.code == "server.start.exited"
        assert failed.value.params["returncode"] != 0 and "Address already in use" in failed.value.params["log"]
        assert taken.process is None and server_alive(first.url)


def test_a_killed_server_frees_its_port_for_a_restart_on_the_same_database(tmp_path):
    server = LocalServer(tmp_path / "server.db")
    url = server.start()
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:test", "value": "p-1"}]}
    assert requests.post(f"{url}/Patient", json=patient, timeout=10).status_code == 201
    server.kill()
    assert server.process is None and not server_alive(url, timeout=0.5)
    with LocalServer(tmp_path / "server.db", port=server.port) as again:
        assert again.url == url
        assert requests.get(f"{url}/Patient", timeout=10).json()["total"] == 1
