"""Upload the outbox to a FHIR server, one frozen transaction bundle at a time, oldest first.

Why this way (shared/notes/sync.md):
- never in parallel: concurrent conditional creates duplicate data on real engines;
- the payload is the bytes frozen at session close, unchanged on every retry;
- success is only what a FHIR server says: HTTP 200 and a transaction-response Bundle with one 200/201 entry per
  request entry. A hotel/EHPAD Wi-Fi login page answering 200 is not a success;
- transient failures (network, timeout, 408, 429, 5xx, redirects, non-FHIR answers) put the entry back with
  exponential backoff + full jitter and end the pass: no busy loop draining the battery;
- a 4xx carrying a FHIR OperationOutcome is a verdict on this payload: quarantine it (rejected, with the server's
  text) so the rest of the queue flows. 401/403 are about the credential, not the data: the entry stays pending and
  the pass stops (PushResult.stopped == "auth") so staff can be told.
- TLS verification is always on.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from sync import outbox
from sync.store import Store

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class PushResult:
    sent: int
    rejected: int
    remaining: int
    stopped: str | None = None  # None: nothing left that is due; "transient" | "auth" | "deadline"


@dataclass(frozen=True)
class _Outcome:
    kind: str  # "sent" | "rejected" | "transient" | "auth"
    detail: str


def _operation_outcome_text(body: Any) -> str | None:
    """The diagnostics/details text of an OperationOutcome, or None when the body is not one."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    texts = []
    for issue in body.get("issue") or []:
        if isinstance(issue, dict):
            text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code")
            if text:
                texts.append(str(text))
    return "; ".join(texts) or "OperationOutcome sans détail"


def _json_body(response: requests.Response) -> Any:
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def check_transaction_response(body: Any, expected_entries: int) -> str | None:
    """None when `body` is a proper transaction-response for `expected_entries` requests, else what is wrong."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return "la réponse n'est pas un Bundle FHIR"
    if body.get("type") != "transaction-response":
        return f"Bundle de type {body.get('type')!r} au lieu de transaction-response"
    response_entries = body.get("entry") or []
    if not isinstance(response_entries, list) or len(response_entries) != expected_entries:
        return f"{len(response_entries) if isinstance(response_entries, list) else '?'} réponses pour " \
               f"{expected_entries} entrées envoyées"
    for index, entry in enumerate(response_entries):
        status = ((entry or {}).get("response") or {}).get("status") if isinstance(entry, dict) else None
        if not isinstance(status, str) or not status.startswith(("200", "201")):
            return f"entrée {index} : statut {status!r}"
    return None


class Uploader:
    """Pushes the outbox of a Store to one FHIR base URL."""

    def __init__(self, base_url: str, *, token: str | None = None, ca_bundle: str | None = None,
                 connect_timeout: float = 5, read_timeout: float = 30, http: requests.Session | None = None) -> None:
        """`ca_bundle`: a CA file or directory for a private PKI; verification itself can never be turned off.
        `read_timeout` must sit well above the server's worst-case response time, or retries pile up."""
        if ca_bundle is not None and not isinstance(ca_bundle, str):
            raise TypeError("ca_bundle must be a path; TLS verification cannot be disabled")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            log.warning("uploading health data over plain HTTP to a non-loopback host")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.verify: bool | str = ca_bundle or True
        self.timeout = (connect_timeout, read_timeout)
        self.http = http or requests.Session()
        self._rng = random.Random()
        self._sleep = time.sleep
        self._monotonic = time.monotonic

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def send(self, entry: outbox.OutboxEntry) -> _Outcome:
        """One POST of the frozen bytes, classified. Never raises for network or server trouble."""
        expected = len(json.loads(entry.payload).get("entry") or [])
        try:
            response = self.http.post(self.base_url, data=entry.payload_bytes, headers=self._headers(),
                                      timeout=self.timeout, verify=self.verify, allow_redirects=False)
        except requests.RequestException as exc:
            return _Outcome("transient", f"réseau : {type(exc).__name__}")
        status = response.status_code
        body = _json_body(response)
        if status == 200:
            problem = check_transaction_response(body, expected)
            if problem is None:
                return _Outcome("sent", "")
            return _Outcome("transient", f"réponse 200 inattendue : {problem}")
        if status in (401, 403, 407):
            return _Outcome("auth", f"HTTP {status} : accès refusé par le serveur")
        if status in (408, 429) or status >= 500 or 300 <= status < 400:
            return _Outcome("transient", f"HTTP {status}")
        if 400 <= status < 500:
            reason = _operation_outcome_text(body)
            if reason is not None:
                return _Outcome("rejected", f"HTTP {status} : {reason}")
            # a 4xx that is not FHIR (proxy, portal, wrong URL) never judged the payload: keep the data queued
            return _Outcome("transient", f"HTTP {status} sans OperationOutcome")
        return _Outcome("transient", f"HTTP {status}")

    def push(self, store: Store, *, max_attempts_per_entry: int | None = None, deadline: float | None = None,
             ignore_backoff: bool = False) -> PushResult:
        """Drain the outbox oldest first, one request at a time.

        `max_attempts_per_entry`: tries this pass may spend on one entry before leaving it pending and stopping
        (default 1: the first transient failure ends the pass; later passes retry after the entry's backoff).
        Between tries the pass sleeps the backoff delay. `deadline`: a `time.monotonic()` value after which no new
        request starts. `ignore_backoff`: send entries still waiting for their backoff ("send now" by staff)."""
        limit = max(1, max_attempts_per_entry or 1)
        sent = rejected = 0
        stopped: str | None = None
        tries: dict[str, int] = {}
        while True:
            if deadline is not None and self._monotonic() >= deadline:
                stopped = "deadline"
                break
            entry = outbox.claim_next(store, ignore_backoff=ignore_backoff)
            if entry is None:
                break
            try:
                outcome = self.send(entry)
            except BaseException:
                outbox.release(store, entry.id, "erreur interne pendant l'envoi", delay=0)
                raise
            if outcome.kind == "sent":
                outbox.mark_sent(store, entry.id)
                sent += 1
                log.info("outbox %s sent (attempt %d)", entry.id, entry.attempts)
                continue
            if outcome.kind == "rejected":
                outbox.mark_rejected(store, entry.id, outcome.detail)
                rejected += 1
                log.warning("outbox %s rejected by the server", entry.id)
                continue
            delay = outbox.release(store, entry.id, outcome.detail, rng=self._rng)
            log.info("outbox %s not sent (%s, attempt %d); retry in %.1f s", entry.id,
                     outcome.kind, entry.attempts, delay)
            tries[entry.id] = tries.get(entry.id, 0) + 1
            if outcome.kind == "auth":
                stopped = "auth"
                break
            if tries[entry.id] >= limit:
                stopped = "transient"
                break
            if deadline is not None and self._monotonic() + delay >= deadline:
                stopped = "deadline"
                break
            self._sleep(delay)
        return PushResult(sent, rejected, outbox.remaining(store), stopped)
