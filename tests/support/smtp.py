"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1 (a free port), STARTTLS required, the client's
certificate required (both issued by one `trustme.CA`), every accepted message kept with its envelope and exact
bytes, and faults injected for the next transactions on demand."""
from __future__ import annotations

import asyncio
import dataclasses
import ssl
import threading
from typing import Any

import trustme
from aiosmtpd.controller import Controller

from sync.delivery.mssante_settings import MssanteSettings

SENDER = "relais-ehpad-tilleuls@ehpad-tilleuls.mssante.fr"

# what the handler can do instead of a plain 250, for the next N transactions
FAULTS = ("421_rcpt", "451_rcpt", "550_rcpt", "554_rcpt", "421_data", "451_data", "550_data", "554_data",
          "drop_before_data_reply", "drop_after_data_reply")
_REPLIES = {"421": "421 4.3.2 Service shutting down, try later", "451": "451 4.3.0 Temporary failure, try later",
            "550": "550 5.1.1 Mailbox unknown", "554": "554 5.7.1 Message refused by policy"}


@dataclasses.dataclass(frozen=True)
class Received:
    sender: str
    recipients: tuple[str, ...]
    content: bytes


class RecordingHandler:
    """Keeps every message it receives (`received`, thread-safe) and plays the queued faults, one per
    transaction."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.transactions = 0
        self._faults: list[str] = []

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self._faults.clear()
            self.transactions = 0

    def inject(self, fault: str, times: int = 1) -> None:
        assert fault in FAULTS, fault
        with self._lock:
            self._faults.extend([fault] * times)

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def _current_fault(self, envelope: Any) -> str | None:
        """The fault for this transaction, taken once at MAIL FROM … RCPT (kept on the envelope)."""
        if not hasattr(envelope, "relais_fault"):
            with self._lock:
                self.transactions += 1
                envelope.relais_fault = self._faults.pop(0) if self._faults else None
        return envelope.relais_fault

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        fault = self._current_fault(envelope)
        if fault and fault.endswith("_rcpt"):
            return _REPLIES[fault[:3]]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault = self._current_fault(envelope)
        if fault and fault.endswith("_data"):
            return _REPLIES[fault[:3]]
        with self._lock:
            self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                          bytes(envelope.original_content)))
        if fault == "drop_before_data_reply":  # the message arrived, the client never hears about it
            server.transport.abort()
        elif fault == "drop_after_data_reply":  # the 250 goes out (flushed by close), then the line drops
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 2.0.0 Message accepted for delivery"


class _EphemeralPortController(Controller):
    """aiosmtpd's Controller on port 0: the port the system picked is read back before the start-up probe."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpTestServer:
    """The server, its CA and a client identity issued by that CA. `start()`/`stop()`; `settings()` gives the
    tablet's MssanteSettings for it."""

    def __init__(self, *, starttls: bool = True, require_client_cert: bool = True) -> None:
        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert("localhost", "127.0.0.1")
        self.client_cert = self.ca.issue_cert(SENDER)
        self.handler = RecordingHandler()
        kwargs: dict[str, Any] = {}
        if starttls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.server_cert.configure_cert(context)
            self.ca.configure_trust(context)
            context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
            kwargs = {"tls_context": context, "require_starttls": True}
        self.controller = _EphemeralPortController(self.handler, hostname="127.0.0.1", port=0, **kwargs)

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self) -> "SmtpTestServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def settings(self, *, host: str = "localhost", port: int | None = None,
                 ca_pem: str | None = None) -> MssanteSettings:
        """Settings for this server: the client identity, the test CA trusted (or `ca_pem`)."""
        return MssanteSettings(host=host, port=self.port if port is None else port, sender=SENDER,
                               cert_pem=self.client_cert.cert_chain_pems[0].bytes().decode(),
                               key_pem=self.client_cert.private_key_pem.bytes().decode(),
                               ca_pem=ca_pem or self.ca.cert_pem.bytes().decode())
