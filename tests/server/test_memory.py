"""The development server's memory stays bounded under large bodies (sync.server.intake, sync.server.wire), measured
on the real server process: its peak resident memory (VmHWM, /proc/PID/status) is printed by every test.

The bounds are what a body of 20 MB may cost: before these limits one 20 MB body of small JSON values took the
server to about 1 GB, three at once to about 3 GB."""
from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
import time
import uuid

import pytest
import requests

from tests.support.servers import DevServer

MB = 1024 * 1024
BODY = 20_000_000  # bytes: the size of every large body here
LARGE = 1 * MB  # from this size a body takes one of the server's two large-body slots
FHIR = {"Content-Type": "application/fhir+json"}


def peak_mb(server: DevServer) -> float:
    """The server process's peak resident memory so far, in MB."""
    for line in open(f"/proc/{server.process.pid}/status", encoding="ascii"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def report(capsys, server: DevServer, what: str) -> float:
    peak = peak_mb(server)
    with capsys.disabled():
        print(f"\n  server peak resident memory, {what}: {peak:.0f} MB")
    return peak


def costly_body(size: int = BODY) -> bytes:
    """A bundle of `size` bytes made of empty objects: each 3 bytes of JSON, 64 bytes once parsed."""
    head, tail = b'{"resourceType":"Bundle","type":"transaction","entry":[', b"]}"
    return head + b",".join([b"{}"] * ((size - len(head) - len(tail)) // 3)) + tail


def document_bundle(size: int = BODY, entries: int = 2) -> bytes:
    """A valid transaction of `size` bytes: audit-extract-like DocumentReferences with large inline attachments."""
    items = []
    for _ in range(entries):
        value = str(uuid.uuid4())
        items.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "DocumentReference"},
                      "resource": {"resourceType": "DocumentReference", "status": "current",
                                   "identifier": [{"system": "urn:test", "value": value}],
                                   "content": [{"attachment": {"contentType": "text/csv", "data": ""}}]}})
    skeleton = len(json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": items}))
    chunk = (size - skeleton) // entries // 4 * 3
    for item in items:
        item["resource"]["content"][0]["attachment"]["data"] = base64.b64encode(b"x" * chunk).decode()
    return json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": items}).encode()


def post(url: str, body: bytes) -> requests.Response:
    return requests.post(url, data=body, headers=FHIR, timeout=120)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


class HeldUpload:
    """A large upload whose headers and first bytes are sent, the rest held back (the server waits reading it)."""

    def __init__(self, url: str, body: bytes) -> None:
        host, port = url.split("//")[1].split("/")[0].split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=120)
        self.body = body
        self.sock.sendall(b"POST /fhir HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\n"
                          b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:1000])

    def abandon(self) -> None:
        self.sock.close()

    def finish(self) -> bytes:
        self.sock.sendall(self.body[1000:])
        chunks = []
        while chunk := self.sock.recv(65536):
            chunks.append(chunk)
        self.sock.close()
        return b"".join(chunks)


def hold_both_slots(url: str, body: bytes) -> list[HeldUpload]:
    """Two large uploads the server is reading (both large-body slots taken), shown by a third being turned away."""
    for _ in range(20):
        held = [HeldUpload(url, body) for _ in range(2)]
        time.sleep(0.2)  # (not an assertion) time for the server to start reading them
        probe = post(url, b"[" + b" " * LARGE + b"]")
        if probe.status_code == 503:
            assert probe.headers["Retry-After"] == "5" and probe.json()["issue"][0]["code"] == "transient"
            return held
        assert probe.status_code == 400  # it got a slot: a held upload was not reading yet, or lost its slot to it
        for upload in held:
            upload.abandon()
    raise AssertionError("the server never held both large uploads at once")


@pytest.fixture
def server(tmp_path):
    with DevServer(tmp_path / "server.db") as srv:
        yield srv


def test_a_body_announced_over_the_limit_is_refused_before_it_is_read(server, capsys):
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:  # headers only: no body ever sent
        sock.sendall(b"POST /fhir HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (21 * 1000 * MB))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert status_of(answer) == 413 and b"too-costly" in answer
    assert report(capsys, server, "a 21 GB body announced") < 60


def test_a_chunked_body_is_read_with_the_same_cap(server, capsys):
    small = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": []}).encode()
    reply = requests.post(server.url, data=iter([small[:10], small[10:]]), headers=FHIR, timeout=30)
    assert reply.status_code == 200 and reply.json()["type"] == "transaction-response"
    big = document_bundle()
    reply = requests.post(server.url, data=(big[i:i + MB] for i in range(0, len(big), MB)), headers=FHIR,
                          timeout=120)
    assert reply.status_code == 200, reply.text[:200]
    endless = (b"x" * MB for _ in range(40))  # 40 MB chunked: refused once past the cap, before the end
    with pytest.raises(requests.ConnectionError):
        reply = requests.post(server.url, data=endless, headers=FHIR, timeout=120)
        assert reply.status_code == 413  # (when the reply comes back before the connection is closed)
        raise requests.ConnectionError
    assert report(capsys, server, "one 20 MB chunked body, then 40 MB refused") < 250


def test_one_body_of_many_small_values_is_refused_before_it_is_parsed(server, capsys):
    reply = post(server.url, costly_body())
    assert reply.status_code == 413 and reply.json()["issue"][0]["code"] == "too-costly"
    assert report(capsys, server, "one 20 MB body of small values") < 120  # before: about 1 GB


def test_one_large_valid_body_is_stored_within_a_small_multiple_of_its_size(server, capsys):
    reply = post(server.url, document_bundle())
    assert reply.status_code == 200 and len(reply.json()["entry"]) == 2
    assert report(capsys, server, "one 20 MB valid bundle") < 250


def test_large_bodies_at_once_are_limited_then_answered_503(server, capsys):
    held = hold_both_slots(server.url, document_bundle())  # any further large body is turned away at once
    refused = [post(server.url, costly_body()) for _ in range(3)]
    assert [r.status_code for r in refused] == [503] * 3
    small = post(server.url, json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": []}).encode())
    assert small.status_code == 200  # small requests do not wait for a slot
    answers: list[bytes] = []
    threads = [threading.Thread(target=lambda h=h: answers.append(h.finish())) for h in held]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status_of(a) for a in answers) == [200, 200]
    # three costly bodies at once are each refused, none parsed (503 while a slot is still being given back)
    results: list[int] = []
    burst = [threading.Thread(target=lambda: results.append(post(server.url, costly_body()).status_code))
             for _ in range(3)]
    for thread in burst:
        thread.start()
    for thread in burst:
        thread.join()
    assert len(results) == 3 and all(status in (413, 503) for status in results)
    assert report(capsys, server, "two 20 MB bundles at once, five more turned away") < 400  # before: about 3 GB


def test_a_small_gzipped_body_large_once_inflated_needs_a_slot_too(server):
    inflated = gzip.compress(document_bundle(4 * LARGE))
    assert len(inflated) < LARGE
    held = hold_both_slots(server.url, document_bundle(2 * LARGE))
    reply = requests.post(server.url, data=inflated, timeout=30, headers={**FHIR, "Content-Encoding": "gzip"})
    assert reply.status_code == 503
    assert sorted(status_of(h.finish()) for h in held) == [200, 200]
