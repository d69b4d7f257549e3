"""SMTP submission to the MSSanté operator: STARTTLS with the site's client certificate, TLS verification always
on, the frozen message bytes sent as they are, each reply classified as accepted, refused or to retry.

- Transport: SMTP with STARTTLS (RFC 3207) on the operator's submission port, mutual TLS authentication with the
  client certificate of the site's application mailbox (ASIP Santé, DST clients MSSanté; ANS Référentiel socle
  MSSanté #2). STARTTLS not offered, or refused, means nothing is sent: never plain text.
- Verification: `ssl.create_default_context` (CERT_REQUIRED, hostname checked) trusting the system's CAs or the
  configured private CA. A failed verification is retried like a network fault but under its own code,
  `mssante.tls_failed`, so that staff and the administrator can see it is not the network.
- The client's private key reaches OpenSSL through a file (Python's `load_cert_chain` reads only files): it is
  written with mode 0600 in a private temporary directory (mode 0700, in RAM under /dev/shm when there is one) and
  removed as soon as it is loaded.
- The message: `sendmail` of the exact frozen bytes (never re-serialised), envelope sender = the site's mailbox,
  RCPT = the entry's recipient. A delivery status notification (RFC 3461 `NOTIFY=SUCCESS,FAILURE`) is asked for
  only when the server's EHLO advertises DSN.
- Replies (RFC 5321 §4.2.1): 250 after DATA → accepted, even if QUIT then fails; 5xx at MAIL, RCPT or DATA →
  refused with the server's text; 4xx, connection refused or reset, timeout, a connection lost before the reply
  to DATA, TLS errors → retry with a code. A connection lost after the message was sent but before the reply is
  the at-least-once edge: the resend carries the same Message-ID.
"""
from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from typing import Any, Sequence

from sync.delivery.mssante_settings import MssanteSettings

DEFAULT_TIMEOUT = 30.0
_RAM_DIR = "/dev/shm"


@dataclass(frozen=True)
class SubmitOutcome:
    """`kind` "accepted", "refused" (`code`, `text`: the server's reply) or "retry" (`error_code` and `params`)."""
    kind: str
    code: int | None = None
    text: str | None = None
    error_code: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def accepted(cls) -> "SubmitOutcome":
        return cls("accepted")

    @classmethod
    def refused(cls, code: int, text: str) -> "SubmitOutcome":
        return cls("refused", code=code, text=text)

    @classmethod
    def retry(cls, error_code: str, **params: Any) -> "SubmitOutcome":
        return cls("retry", error_code=error_code, params=params)

    @property
    def no_session(self) -> bool:
        """No SMTP session could be opened (unreachable, TLS, no STARTTLS): the next message would fare the same."""
        return self.kind == "retry" and self.params.get("stage") in ("connect", "starttls")

    @property
    def reply(self) -> str:
        """The server's reply as staff read it: "550 5.1.1 mailbox unknown"."""
        return f"{self.code} {self.text}".strip()


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text)


def tls_context(settings: MssanteSettings) -> ssl.SSLContext:
    """The client's TLS context: verification on, the configured CA (else the system's), the client certificate."""
    context = ssl.create_default_context(cadata=settings.ca_pem) if settings.ca_pem else \
        ssl.create_default_context()
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    ram = _RAM_DIR if os.path.isdir(_RAM_DIR) and os.access(_RAM_DIR, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="relais-", dir=ram) as private:  # mode 0700, removed on exit
        cert, key = os.path.join(private, "client-cert"), os.path.join(private, "client-key")
        _write_private(cert, settings.cert_pem)
        _write_private(key, settings.key_pem)
        context.load_cert_chain(cert, key)
    return context


def _reply_text(raw: Any) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())


def _by_code(code: int, raw: Any, stage: str) -> SubmitOutcome:
    if 500 <= code < 600:
        return SubmitOutcome.refused(code, _reply_text(raw))
    return SubmitOutcome.retry("mssante.deferred", reply=code, stage=stage)


def _tls_outcome(exc: ssl.SSLError, stage: str) -> SubmitOutcome:
    return SubmitOutcome.retry("mssante.tls_failed", stage=stage,
                               reason=getattr(exc, "reason", None) or type(exc).__name__)


def _network_outcome(exc: BaseException, stage: str) -> SubmitOutcome:
    """A fault of the line (no SMTP reply to classify)."""
    # smtplib turns a read timeout into SMTPServerDisconnected, raised while handling the timeout
    if isinstance(exc, (socket.timeout, TimeoutError)) or isinstance(exc.__context__, (socket.timeout, TimeoutError)):
        return SubmitOutcome.retry("mssante.timeout", stage=stage)
    if isinstance(exc, (ConnectionRefusedError, socket.gaierror)):  # nobody listening, or no such host (offline)
        return SubmitOutcome.retry("mssante.unreachable", stage=stage)
    return SubmitOutcome.retry("mssante.disconnected", stage=stage)


class SmtpConnection:
    """One SMTP session with the operator, reusable for several messages (see `send`). Use as a context manager;
    `open` is called lazily by `send`. Never raises on a network or protocol fault: `send` returns the outcome."""

    def __init__(self, settings: MssanteSettings, *, timeout: float = DEFAULT_TIMEOUT,
                 context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.timeout = timeout
        self._context = context
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> "SmtpConnection":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open(self) -> SubmitOutcome | None:
        """Connect, EHLO, STARTTLS, EHLO again; None when ready, else the outcome to report."""
        try:
            if self._context is None:
                self._context = tls_context(self.settings)
            # EHLO names this machine as smtplib does by default: its FQDN, else its address literal (RFC 5321 §4.1.3)
            smtp = smtplib.SMTP(self.settings.host, self.settings.port, timeout=self.timeout)
        except ssl.SSLError as exc:
            return _tls_outcome(exc, "connect")
        except smtplib.SMTPResponseException as exc:  # a greeting other than 220 says nothing about the message
            return SubmitOutcome.retry("mssante.deferred", reply=exc.smtp_code, stage="connect")
        except (OSError, smtplib.SMTPException) as exc:
            return _network_outcome(exc, "connect")
        self._smtp = smtp
        try:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                self.close()
                return SubmitOutcome.retry("mssante.starttls_missing", stage="starttls")
            code, _ = smtp.starttls(context=self._context)  # smtplib returns a refusal instead of raising it
            if code != 220:
                self.close()
                return SubmitOutcome.retry("mssante.starttls_missing", stage="starttls", reply=code)
            smtp.ehlo()
        except ssl.SSLError as exc:
            self.close()
            return _tls_outcome(exc, "starttls")
        except smtplib.SMTPResponseException as exc:  # STARTTLS refused: never go on in plain text
            self.close()
            return SubmitOutcome.retry("mssante.starttls_missing", stage="starttls", reply=exc.smtp_code)
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            return _network_outcome(exc, "starttls")
        return None

    def _alive(self) -> bool:
        """A connection kept from an earlier message still answers (the server may have dropped it since)."""
        try:
            return self._smtp is not None and self._smtp.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            self.close()
            return False

    def send(self, message: bytes, *, sender: str, recipients: Sequence[str]) -> SubmitOutcome:
        """Submit `message` as it is; after any failure the connection is closed and the next `send` opens a new
        one."""
        if not self._alive():
            problem = self._open()
            if problem is not None:
                return problem
        smtp = self._smtp
        assert smtp is not None
        rcpt_options = ["NOTIFY=SUCCESS,FAILURE"] if smtp.has_extn("dsn") else []
        try:
            refused = smtp.sendmail(sender, list(recipients), message, rcpt_options=rcpt_options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, raw = next(iter(exc.recipients.values()))
            outcome = _by_code(code, raw, "rcpt")
        except smtplib.SMTPSenderRefused as exc:
            outcome = _by_code(exc.smtp_code, exc.smtp_error, "mail")
        except smtplib.SMTPDataError as exc:
            outcome = _by_code(exc.smtp_code, exc.smtp_error, "data")
        except smtplib.SMTPResponseException as exc:
            outcome = _by_code(exc.smtp_code, exc.smtp_error, "mail")
        except ssl.SSLError as exc:
            outcome = _tls_outcome(exc, "send")
        except (OSError, smtplib.SMTPException) as exc:  # lost before the reply to DATA: not accepted
            outcome = _network_outcome(exc, "send")
        else:
            if not refused:
                return SubmitOutcome.accepted()
            code, raw = next(iter(refused.values()))  # several recipients, some refused: one entry, one recipient
            outcome = _by_code(code, raw, "rcpt")
        self.close()
        return outcome

    def close(self) -> None:
        """QUIT politely, then drop the socket; a failing QUIT changes nothing (the message was answered before)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.quit()
        with contextlib.suppress(OSError):
            smtp.close()


def submit(settings: MssanteSettings, message: bytes, *, sender: str, recipients: Sequence[str],
           timeout: float = DEFAULT_TIMEOUT) -> SubmitOutcome:
    """One message on its own connection (see the module's docstring for the classification)."""
    with SmtpConnection(settings, timeout=timeout) as conn:
        return conn.send(message, sender=sender, recipients=recipients)
