"""A fault-injecting HTTP/1.1 proxy on loopback, to prove the uploader's exactly-once promise against a bad network.

Why our own: toxiproxy is a separate server to install and `tc netem` would slow all loopback traffic. This
proxy sits between the uploader and a server on 127.0.0.1 and, for each request, draws one outcome from a seeded
random generator, so a failing run can be replayed with the same seed:

    pass        forward the request, relay the reply (the only kind that keeps the connection alive)
    refuse      close the connection at once (the server never sees the request)
    blackhole   take the request and never answer: the client must time out
    lost_ack    forward the request, let the server commit, then reset before any reply byte
    truncate    forward, then cut the reply in the middle of its body
    http500     answer 500 without forwarding
    http503     answer 503 with Retry-After (default 1 s) without forwarding
    http429     answer 429 with Retry-After without forwarding
    portal      answer 200 text/html, a Wi-Fi "captive portal" login page, without forwarding

The draw is per request rather than per TCP connection: an HTTP client keeps its connection alive, so a per-connection
draw would let every request after the first pass-through escape the faults. Every fault closes the connection.
`latency_ms` delays each request before it is handled (one added delay per exchange, faults included).

Loopback only: it listens on 127.0.0.1 and refuses a target that is not a loopback address.
Use it as a context manager (it runs its own event loop in a thread), with `await start()` / `await aclose()`
inside an event loop, or as `python -m sync proxy`.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import struct
import threading
from collections import Counter
from typing import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

FAULT_KINDS = ("refuse", "blackhole", "lost_ack", "truncate", "http500", "http503", "http429", "portal")
KINDS = ("pass", *FAULT_KINDS)
TRANSIENT_FAULTS = frozenset(FAULT_KINDS)  # every one of them must leave the data queued, none may reject it

_MAX_HEAD = 64 * 1024
PORTAL_PAGE = (b"<!doctype html><html><head><title>Wi-Fi</title></head><body><h1>Bienvenue sur le Wi-Fi</h1>"
               b"<p>Acceptez les conditions d'utilisation pour continuer.</p></body></html>")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_target(target: str | tuple[str, int]) -> tuple[str, int]:
    """'HOST:PORT', 'http://HOST:PORT/…' or (host, port) → (host, port); loopback hosts only."""
    if isinstance(target, tuple):
        host, port = target
    else:
        text = target if "://" in target else f"//{target}"
        parts = urlsplit(text)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"target must be HOST:PORT, got {target!r}")
        host, port = parts.hostname, parts.port
    if not _is_loopback(host):
        raise ValueError(f"fault injection targets loopback servers only, not {host!r}")
    return host, int(port)


class _Message:
    """One HTTP message read off a stream: the raw bytes and where its head ends."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self.head, self.body = head, body

    @property
    def raw(self) -> bytes:
        return self.head + self.body

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, sep, value = line.partition(b":")
            if sep and key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return None

    @property
    def first_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode("latin-1")


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    """Up to and including the blank line; None on a clean end of stream before any byte."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ConnectionError("stream ended inside an HTTP head") from None
    except asyncio.LimitOverrunError:
        raise ConnectionError("HTTP head too large") from None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        out += size_line
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:  # trailers, then the final blank line
                line = await reader.readuntil(b"\r\n")
                out += line
                if line == b"\r\n":
                    return bytes(out)
        out += await reader.readexactly(size + 2)


async def _read_message(reader: asyncio.StreamReader, *, request_method: str | None = None) -> _Message | None:
    """A request (request_method None) or the response to a request with that method."""
    head = await _read_head(reader)
    if head is None:
        return None
    message = _Message(head, b"")
    if request_method is not None:
        status = int(message.first_line.split(" ")[1])
        if request_method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return message
    if (message.header("Transfer-Encoding") or "").lower().endswith("chunked"):
        message.body = await _read_chunked(reader)
    elif message.header("Content-Length") is not None:
        message.body = await reader.readexactly(int(message.header("Content-Length") or 0))
    elif request_method is not None:
        message.body = await reader.read()  # a reply without length ends when the server closes
    return message


def _synthetic(status: int, reason: str, body: bytes, content_type: str,
               extra: Mapping[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
             "Connection: close", *(f"{k}: {v}" for k, v in (extra or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class FaultProxy:
    """The proxy. `counts[kind]`: how many requests got each outcome (every KINDS key present); `bytes_up` /
    `bytes_down`: bytes received from / sent to clients (what a metered link would carry)."""

    def __init__(self, target: str | tuple[str, int], *, listen_port: int = 0, fault_rate: float = 0.0,
                 latency_ms: float = 0.0, seed: int | None = None, kinds: Iterable[str] | Mapping[str, float] | None
                 = None, retry_after: int = 1, upstream_timeout: float = 60.0) -> None:
        """`fault_rate`: probability that a request gets a fault; `kinds`: which faults (names from FAULT_KINDS,
        or a name → weight mapping), all by default. `retry_after`: seconds announced by http503/http429."""
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        self.target = parse_target(target)
        self.listen_port = listen_port
        self.fault_rate = fault_rate
        self.latency = max(0.0, latency_ms) / 1000.0
        self.seed = seed
        weights = dict.fromkeys(FAULT_KINDS, 1.0) if kinds is None else (
            dict(kinds) if isinstance(kinds, Mapping) else dict.fromkeys(kinds, 1.0))
        unknown = set(weights) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self._kinds = [k for k in FAULT_KINDS if weights.get(k, 0) > 0]
        self._weights = [weights[k] for k in self._kinds]
        if fault_rate > 0 and not self._kinds:
            raise ValueError("fault_rate > 0 needs at least one fault kind")
        self.retry_after = retry_after
        self.upstream_timeout = upstream_timeout
        self._rng = random.Random(seed)
        self._script: list[str] = []
        self.counts: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
        self.connections = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.upstream_errors = 0
        self.port: int | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- the draw ---------------------------------------------------------------------------------------------------
    def script(self, kinds: Iterable[str]) -> None:
        """Force the next outcomes, in order, before random draws resume (deterministic unit tests)."""
        kinds = list(kinds)
        bad = set(kinds) - set(KINDS)
        if bad:
            raise ValueError(f"unknown kinds: {sorted(bad)}")
        self._script.extend(kinds)

    def next_kind(self) -> str:
        """The outcome for the next request: scripted first, then seeded random draws."""
        if self._script:
            return self._script.pop(0)
        if self.fault_rate and self._rng.random() < self.fault_rate:
            return self._rng.choices(self._kinds, weights=self._weights)[0]
        return "pass"

    def stats(self) -> dict[str, object]:
        return {"counts": dict(self.counts), "faults": sum(v for k, v in self.counts.items() if k != "pass"),
                "connections": self.connections, "bytes_up": self.bytes_up, "bytes_down": self.bytes_down,
                "upstream_errors": self.upstream_errors, "seed": self.seed}

    # -- addresses --------------------------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, server_url: str) -> str:
        """The same URL reached through the proxy: http://127.0.0.1:SERVER/fhir → http://127.0.0.1:PROXY/fhir."""
        parts = urlsplit(server_url)
        return urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))

    # -- asyncio life cycle -------------------------------------------------------------------------------------------
    async def start(self) -> "FaultProxy":
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.listen_port, limit=_MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # -- thread mode (tests, benchmark) ------------------------------------------------------------------------------
    def __enter__(self) -> "FaultProxy":
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        started.wait(5)
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            self._loop = self._thread = None

    # -- one client connection ---------------------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, OSError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Handle one request; True to keep the connection for the next one."""
        head = await _read_head(reader)
        if head is None:
            return False
        kind = self.next_kind()
        self.counts[kind] += 1
        if kind == "refuse":
            self.bytes_up += len(head)
            self._reset(writer)
            return False
        request = _Message(head, b"")
        method = request.first_line.split(" ")[0]
        if (request.header("Transfer-Encoding") or "").lower().endswith("chunked"):
            request.body = await _read_chunked(reader)
        elif request.header("Content-Length") is not None:
            request.body = await reader.readexactly(int(request.header("Content-Length") or 0))
        self.bytes_up += len(request.raw)
        if self.latency:
            await asyncio.sleep(self.latency)
        if kind == "blackhole":
            while await reader.read(65536):  # hold the connection, answer nothing, until the client gives up
                pass
            return False
        synthetic = {
            "http500": lambda: _synthetic(500, "Internal Server Error", b"Internal Server Error", "text/plain"),
            "http503": lambda: _synthetic(503, "Service Unavailable", b"Service Unavailable", "text/plain",
                                          {"Retry-After": str(self.retry_after)}),
            "http429": lambda: _synthetic(429, "Too Many Requests", b"Too Many Requests", "text/plain",
                                          {"Retry-After": str(self.retry_after)}),
            "portal": lambda: _synthetic(200, "OK", PORTAL_PAGE, "text/html; charset=utf-8"),
        }
        if kind in synthetic:
            await self._write(writer, synthetic[kind]())
            writer.close()
            return False
        reply = await self._forward(request.raw, method)
        if reply is None:
            self.upstream_errors += 1
            await self._write(writer, _synthetic(502, "Bad Gateway", b"upstream unreachable", "text/plain"))
            writer.close()
            return False
        if kind == "lost_ack":  # the server has committed; the client will never hear it
            self._reset(writer)
            return False
        if kind == "truncate":
            cut = len(reply.head) + len(reply.body) // 2 if len(reply.body) >= 2 else len(reply.head) // 2
            await self._write(writer, reply.raw[:cut])
            self._reset(writer)
            return False
        await self._write(writer, reply.raw)
        closing = any((m.header("Connection") or "").lower() == "close" for m in (request, reply))
        return not closing and reply.header("Content-Length") is not None

    async def _forward(self, raw: bytes, method: str) -> _Message | None:
        """Send one request on a fresh upstream connection and read the whole reply; None if the server is down."""
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*self.target, limit=_MAX_HEAD),
                                                          self.upstream_timeout)
        except (OSError, asyncio.TimeoutError):
            return None
        try:
            up_writer.write(raw)
            await up_writer.drain()
            return await asyncio.wait_for(_read_message(up_reader, request_method=method), self.upstream_timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            return None
        finally:
            up_writer.close()

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.bytes_down += len(data)

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        """Close with a TCP reset (SO_LINGER 0), as a dropped mobile link or a killed middlebox does."""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        writer.transport.abort()


async def run_cli(listen_port: int, target: str, *, fault_rate: float, latency_ms: float, seed: int | None,
                  kinds: list[str] | None, retry_after: int, stop: asyncio.Event) -> FaultProxy:
    """`python -m sync proxy`: serve until `stop` is set; returns the proxy for its counts."""
    proxy = FaultProxy(target, listen_port=listen_port, fault_rate=fault_rate, latency_ms=latency_ms, seed=seed,
                       kinds=kinds, retry_after=retry_after)
    await proxy.start()
    host, port = proxy.target
    print(f"proxying on {proxy.address} to {host}:{port} (fault rate {fault_rate}, latency {latency_ms} ms, "
          f"seed {seed})", flush=True)
    try:
        await stop.wait()
    finally:
        await proxy.aclose()
    return proxy
