"""Upload the outbox to a FHIR server: frozen session bundles, several per transaction, oldest first, one request
at a time.

Why this way (shared/notes/sync.md):
- never in parallel: concurrent conditional creates duplicate data on real engines;
- each session's payload is the bytes frozen at session close; a request carries up to `batch_size` sessions merged
  into one transaction (sync.batching), so a backlog of days drains in few round trips. Every entry stays a
  conditional create on identifiers minted on the tablet: a retry after a lost acknowledgement changes nothing;
- success is only what a FHIR server says: HTTP 200 and a transaction-response Bundle with one entry per request
  entry; a session is marked sent only when all its entries have a 200/201 response. A hotel/EHPAD Wi-Fi login page
  answering 200 is not a success;
- transient failures (network, timeout, 408, 429, 5xx, redirects, non-FHIR answers) put the batch back with
  exponential backoff + full jitter, or the server's Retry-After on 429/503 (capped), and end the pass: no busy
  loop draining the battery while offline;
- a transaction refused as too large (Medplum's 400 "Transaction requires strict isolation…", any 413) says nothing
  against the data: the same entries go again as smaller dependency-ordered transactions, 8 at a time after
  Medplum's sentence, else half as many until one is accepted; the size accepted is kept per server
  (sync.transaction_limits) and used from the first request of the next pass. Only a single entry refused as too
  large, which no split can help, quarantines its session (code `upload.too_large.entry`): retrying it would stall
  the queue behind it at every pass, and staff can requeue it once the server takes larger requests;
- any other 4xx carrying a FHIR OperationOutcome judges the payload. For a batch it may be any one session's fault:
  the batch is bisected until the refused session is alone, and only that one is quarantined (rejected, with the
  server's text); the rest of the queue flows. 401/403 are about the credential, not the data: the entries stay pending and
  the pass stops (PushResult.stopped == "auth") so staff can be told;
- request bodies are gzipped (Content-Encoding: gzip); a server answering 415 to that gets plain bodies from then on;
- TLS verification is always on.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import gzip as gzip_module
import json
import logging
import random
import time
from dataclasses import dataclass, field, replace
from typing import Any, Sequence
from urllib.parse import urlsplit

import requests

from sync import audit_extracts, batching, fhir, outbox, transaction_limits
import sync.store.live as live_rows
from sync.live_pass import push_live
from sync.residents import push_residents
from sync.retry_after import RETRY_AFTER_CAP_SECONDS, parse_retry_after, retry_delay  # noqa: F401 - re-exported
from sync.store import Store
from sync.upload_lock import UploaderBusy, upload_lock
from sync.upload_pass import UploadPass

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_server_url(url: str) -> None:
    """The one rule for where health data may go: an https:// URL, or plain http to this machine only (the local
    development server). ValueError otherwise. Used by the uploader and by the tablet's saved settings."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the server address must be an https:// URL (got {url!r})")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError("health data is only sent over HTTPS (plain http is for a server on this machine)")

DEFAULT_BATCH_SIZE = 20
DEFAULT_MAX_BATCH_BYTES = 512 * 1024  # uncompressed; bounds the work one request asks of a slow server
# 4xx answers that say nothing about whether the body could be read (credentials, size, timing, rate)
_NOT_ABOUT_THE_BODY = frozenset({401, 403, 407, 408, 413, 429})


@dataclass(frozen=True)
class PushResult:
    sent: int
    rejected: int
    remaining: int
    # None: nothing left that is due; "transient" | "auth" | "tls" | "deadline" | "backoff" | "busy" (another
    # uploader holds this store: sync.upload_lock)
    stopped: str | None = None
    requests: int = 0  # HTTP requests this pass made
    audit_extracts: int = 0  # extracts of the audit trail the server confirmed this pass
    residents: int = 0  # residents whose edited record the server confirmed this pass (sync.residents)
    live: int = 0  # live sends of open sessions the server confirmed this pass (sync.live_pass)


@dataclass(frozen=True)
class _Outcome:
    """What one request achieved. `confirmed`: outbox ids whose every entry got a 200/201 (with kind "sent", all of
    them; with "transient", a partial answer). `retry_after`: seconds the server asked to wait (429/503)."""

    kind: str  # "sent" | "rejected" | "transient" | "auth" | "tls" | "too_large" (only inside send)
    detail: str  # a diagnostic code with its parameters, as stored in the outbox (outbox.error_record)
    retry_after: float | None = None
    confirmed: tuple[str, ...] = field(default=())
    refusal: transaction_limits.SizeRefusal | None = None  # with kind "too_large"
    learned_limit: int | None = None  # a transaction size the server took after refusing a larger one


def _operation_outcome_text(body: Any) -> str | None:
    """The diagnostics/details text of an OperationOutcome ("" when it has none), or None when the body is not
    one."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    texts = []
    for issue in body.get("issue") or []:
        if isinstance(issue, dict):
            text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code")
            if text:
                texts.append(str(text))
    return "; ".join(texts)


def _json_body(response: requests.Response) -> Any:
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def check_transaction_response(body: Any, expected_entries: int) -> str | None:
    """None when `body` is a proper transaction-response for `expected_entries` requests, all 200/201, else what
    is wrong (a diagnostic code with its parameters, outbox.error_record)."""
    statuses, problem = batching.response_statuses(body, expected_entries)
    if statuses is None:
        code, params = problem
        return outbox.error_record(code, **params)
    for index, status in enumerate(statuses):
        if not batching.entry_ok(status):
            return outbox.error_record("upload.reply.entry_status", status=status, entry=index)
    return None


def _in_part(detail: str, number: int, parts: int) -> str:
    """A diagnostic of one part of a session sent as several transactions: which part, and what went wrong."""
    code, params = outbox.read_error(detail) or ("upload.internal", {})
    return outbox.error_record("upload.part", part=number, parts=parts, cause={"code": code, "params": params})


def _gzip(body: bytes) -> bytes:
    return gzip_module.compress(body, compresslevel=6, mtime=0)


class Uploader:
    """Pushes the outbox of a Store to one FHIR base URL."""

    def __init__(self, base_url: str, *, token: str | None = None, ca_bundle: str | None = None,
                 connect_timeout: float = 5, read_timeout: float = 30, http: requests.Session | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, max_batch_bytes: int | None = DEFAULT_MAX_BATCH_BYTES,
                 gzip: bool = True, max_entries: int | None = None) -> None:
        """`ca_bundle`: a CA file or directory for a private PKI; verification itself can never be turned off.
        `read_timeout` must sit well above the server's worst-case response time (a full batch included), or
        retries pile up. `batch_size` sessions at most per request, and at most `max_batch_bytes` of frozen
        payload (one session always goes, whatever its size). `gzip`: compress request bodies. `max_entries`: the
        most entries the server takes in one transaction (Medplum: 8); sessions are then merged only up to that, and
        a larger session goes as several transactions in dependency order. Without it, the limit the store learned
        for this server is used, or none until the server refuses a transaction as too large."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_entries is not None and max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if ca_bundle is not None and not isinstance(ca_bundle, str):
            raise TypeError("ca_bundle must be a path; TLS verification cannot be disabled")
        check_server_url(base_url)  # health data leaves this machine only over verified TLS
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.verify: bool | str = ca_bundle or True
        self.timeout = (connect_timeout, read_timeout)
        self.server_date: dt.datetime | None = None  # the server's clock at the last audit copy fetched
        self.http = http or requests.Session()
        self.batch_size = batch_size
        self.max_batch_bytes = max_batch_bytes
        self.gzip = gzip
        self.max_entries = max_entries  # given, else learned from the server's refusals (sync.transaction_limits)
        self._max_entries_given = max_entries
        self._learned_now: int | None = None  # what the current send learned
        self._limit_before_send: int | None = max_entries
        self._gzip_accepted = False  # a compressed request got a 2xx: the server reads gzip
        self._compressed_ahead: tuple[bytes, bytes] | None = None  # (body, its gzip) made before its turn
        self.requests_made = 0  # every HTTP request ever sent by this uploader
        # after a transient or auth failure, no request at all before this (store clock): the network or the server
        # is the problem, not one batch, so trying the next batch at once would only drain the battery
        self.paused_until: dt.datetime | None = None
        self._rng = random.Random()
        self._sleep = time.sleep
        self._monotonic = time.monotonic

    def _headers(self, compressed: bool) -> dict[str, str]:
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        if compressed:
            headers["Content-Encoding"] = "gzip"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def compress_ahead(self, body: bytes) -> None:
        """Compress a body before its turn, while the request before it is on the network: it then leaves as soon
        as that request is answered. The last body compressed ahead is kept, and used only for that very body."""
        if self.gzip:
            self._compressed_ahead = (body, _gzip(body))

    def _post(self, body: bytes) -> requests.Response:
        compressed = self.gzip
        ahead = self._compressed_ahead
        if compressed and ahead is not None and ahead[0] is body:
            data = ahead[1]
            if self._compressed_ahead is ahead:  # not kept once sent: only the next body may be waiting there
                self._compressed_ahead = None
        else:
            data = _gzip(body) if compressed else body
        self.requests_made += 1
        response = self.http.post(self.base_url, data=data, headers=self._headers(compressed), timeout=self.timeout,
                                  verify=self.verify, allow_redirects=False)
        if compressed and 200 <= response.status_code < 300:
            self._gzip_accepted = True
        reply = _json_body(response) if 400 <= response.status_code < 500 else None
        unreadable = response.status_code == 415 or (
            400 <= response.status_code < 500 and response.status_code not in _NOT_ABOUT_THE_BODY
            and not self._gzip_accepted and _operation_outcome_text(reply) is not None
            and transaction_limits.size_refusal(response.status_code, reply) is None)  # it counted the entries
        if compressed and unreadable:
            # a 415, or a 4xx OperationOutcome (which would quarantine the data) from a server never seen reading
            # gzip (one that ignores Content-Encoding parses the compressed bytes and calls them malformed): the
            # same body once more, plain. Only if the
            # plain body passes is gzip dropped; a plain refusal is then the server's verdict on the data.
            self.requests_made += 1
            plain = self.http.post(self.base_url, data=body, headers=self._headers(False), timeout=self.timeout,
                                   verify=self.verify, allow_redirects=False)
            if response.status_code == 415 or 200 <= plain.status_code < 300:
                log.warning("server did not read a gzip request body (HTTP %d); sending plain bodies from now on",
                            response.status_code)
                self.gzip = False
            response = plain
        return response

    def fits_one_transaction(self, batch: batching.MergedBatch) -> bool:
        """Whether the server takes the batch in one transaction (`max_entries`, given or learned): sent whole."""
        return self.max_entries is None or batch.entry_count <= self.max_entries

    def send(self, entries: outbox.OutboxEntry | Sequence[outbox.OutboxEntry]) -> _Outcome:
        """One POST carrying one session (its frozen bytes) or several (merged by sync.batching), classified; or,
        when the batch has more entries than the server takes in one transaction (`max_entries`, given or
        learned), a sequence of smaller transactions in dependency order (sync.batching.dependency_parts). A
        refusal as too large makes the parts smaller until one is accepted (`learned_limit` of the outcome).
        Never raises for network or server trouble."""
        batch = entries if isinstance(entries, batching.MergedBatch) else batching.merge(
            [entries] if isinstance(entries, outbox.OutboxEntry) else list(entries))
        self._learned_now, self._limit_before_send = None, self.max_entries
        if self.fits_one_transaction(batch):
            outcome = self._send_whole(batch)
        else:
            outcome = self._send_in_parts(batch, self.max_entries)
        return replace(outcome, learned_limit=self._learned_now) if self._learned_now else outcome

    def _send_whole(self, batch: batching.MergedBatch) -> _Outcome:
        outcome, statuses, _ = self._exchange(batch.body, batch.entry_count)
        if outcome is not None and outcome.kind == "too_large":
            smaller = transaction_limits.next_size(outcome.refusal, batch.entry_count)
            if smaller is None:
                return self._entry_too_large(outcome, ())
            log.info("outbox: a transaction of %d entries is too large for the server; trying %d",
                     batch.entry_count, smaller)
            return self._send_in_parts(batch, smaller, trying=True)
        if outcome is not None:
            return outcome
        confirmed = tuple(batching.confirmed_sessions(batch, statuses))
        if len(confirmed) == len(batch.entries):
            return _Outcome("sent", "", confirmed=confirmed)
        bad = next(s for s in statuses if not batching.entry_ok(s))
        return _Outcome("transient", outbox.error_record("upload.reply.entry_status", status=bad),
                        confirmed=confirmed)

    def _entry_too_large(self, outcome: _Outcome, confirmed: tuple[str, ...]) -> _Outcome:
        """One entry alone refused as too large: no split can help; its session is refused (see the module). The
        refusals that led there were about that entry's size, not about how many entries were sent: what this send
        learned is forgotten."""
        self.max_entries, self._learned_now = self._limit_before_send, None
        refusal = outcome.refusal
        detail = outbox.error_record("upload.too_large.entry", status=refusal.status if refusal else 0,
                                     reason=refusal.text if refusal else "")
        return _Outcome("rejected", detail, confirmed=confirmed)

    def _send_in_parts(self, batch: batching.MergedBatch, limit: int, *, trying: bool = False) -> _Outcome:
        """The batch's entries in dependency-ordered transactions of at most `limit`. `trying`: `limit` is a
        guess after a refusal as too large, kept (max_entries, learned_limit) once a part of it is accepted."""
        entries = fhir.loads(batch.body).get("entry") or []
        statuses = [""] * len(entries)
        targets: dict[str, str] = {}  # fullUrl of an entry already sent → "Type/id" on the server
        while True:
            left = [i for i, status in enumerate(statuses) if not status]
            try:
                parts = [[left[i] for i in part] for part in
                         batching.dependency_parts([entries[i] for i in left], limit)]
            except ValueError:
                return _Outcome("rejected", outbox.error_record("upload.parts.cycle"))
            for number, part in enumerate(parts, start=1):
                outcome = self._send_part(batch, entries, part, (number, len(parts)), statuses, targets)
                if outcome is not None and outcome.kind == "too_large":
                    smaller = transaction_limits.next_size(outcome.refusal, len(part))
                    if smaller is None:
                        return self._entry_too_large(outcome, tuple(batching.confirmed_sessions(batch, statuses)))
                    limit, trying = smaller, True
                    break  # what is left, split again
                if outcome is not None:
                    return outcome
                if trying:
                    self.max_entries = self._learned_now = limit
                    trying = False
                    log.info("outbox: the server takes transactions of %d entries", limit)
            else:
                return _Outcome("sent", "", confirmed=tuple(batching.confirmed_sessions(batch, statuses)))

    def _send_part(self, batch: batching.MergedBatch, entries: list[Any], part: list[int], place: tuple[int, int],
                   statuses: list[str], targets: dict[str, str]) -> _Outcome | None:
        """One part as its own transaction, references to earlier parts rewritten to the server's ids. None when
        every entry of the part was confirmed (`statuses` and `targets` updated), else what went wrong."""
        body = fhir.dumps_bundle({"resourceType": "Bundle", "type": "transaction", "entry": [
            {**entries[i], "resource": batching.rewrite_references(entries[i].get("resource"), targets)}
            for i in part]})
        outcome, part_statuses, replies = self._exchange(body, len(part))

        def confirmed() -> tuple[str, ...]:
            return tuple(batching.confirmed_sessions(batch, statuses))

        if outcome is not None:
            if outcome.kind == "too_large":
                return outcome
            return _Outcome(outcome.kind, _in_part(outcome.detail, *place), outcome.retry_after, confirmed())
        for i, status, reply in zip(part, part_statuses, replies):
            statuses[i] = status
            url = entries[i].get("fullUrl")
            location = ((reply or {}).get("response") or {}).get("location") if isinstance(reply, dict) else None
            literal = batching.literal_reference(location) if isinstance(location, str) else None
            literal = literal or batching.conditional_reference(entries[i])
            if url and literal:
                targets[url] = literal
        bad = next((s for s in part_statuses if not batching.entry_ok(s)), None)
        if bad is not None:
            detail = _in_part(outbox.error_record("upload.reply.entry_status", status=bad), *place)
            return _Outcome("transient", detail, confirmed=confirmed())
        return None

    def _exchange(self, body: bytes, expected_entries: int) -> tuple[_Outcome | None, list[str], list[Any]]:
        """POST one transaction: (None, entry statuses, response entries) for a proper transaction-response, else
        (the failure classified, [], [])."""
        try:
            response = self._post(body)
        except requests.exceptions.SSLError:
            # not a network blip: the server's certificate is not trusted (self-signed, unknown CA, wrong name).
            # Nothing is sent and nothing is lost; staff are told until the CA is configured or the server fixed.
            return _Outcome("tls", outbox.error_record("upload.tls")), [], []
        except requests.RequestException as exc:
            return _Outcome("transient", outbox.error_record("upload.network", error=type(exc).__name__)), [], []
        status = response.status_code
        reply = _json_body(response)
        if status == 200:
            statuses, problem = batching.response_statuses(reply, expected_entries)
            if statuses is None:
                code, params = problem
                return _Outcome("transient", outbox.error_record(code, **params)), [], []
            return None, statuses, list(reply.get("entry") or [])
        return self._classify_failure(response, reply), [], []

    def _classify_failure(self, response: requests.Response, body: Any) -> _Outcome:
        status = response.status_code
        record = outbox.error_record
        if status in (401, 403, 407):
            return _Outcome("auth", record("upload.auth", status=status))
        if status in (429, 503):
            retry_after = parse_retry_after(response.headers.get("Retry-After"),
                                            server_date=response.headers.get("Date"))
            return _Outcome("transient", record("upload.http", status=status), retry_after=retry_after)
        if status in (408,) or status >= 500 or 300 <= status < 400:
            return _Outcome("transient", record("upload.http", status=status))
        refusal = transaction_limits.size_refusal(status, body)
        if refusal is not None:  # a size, not a verdict on the data: send_in_parts makes it smaller
            return _Outcome("too_large", record("upload.too_large", status=status, reason=refusal.text),
                            refusal=refusal)
        if 400 <= status < 500:
            reason = _operation_outcome_text(body)
            if reason:
                return _Outcome("rejected", record("upload.rejected", status=status, reason=reason))
            if reason is not None:
                return _Outcome("rejected", record("upload.rejected.no_detail", status=status))
            # a 4xx that is not FHIR (proxy, portal, wrong URL) never judged the payload: keep the data queued
            return _Outcome("transient", record("upload.not_fhir", status=status))
        return _Outcome("transient", record("upload.http", status=status))

    def _fit(self, claimed: Sequence[outbox.OutboxEntry]) -> batching.MergedBatch:
        """The longest oldest-first run of sessions whose merge fits in `max_entries` (at least one session)."""
        fitting = batching.merge(claimed[:1])
        for count in range(2, len(claimed) + 1):
            candidate = batching.merge(claimed[:count])
            if candidate.entry_count > self.max_entries:
                break
            fitting = candidate
        return fitting

    def push(self, store: Store, *, max_attempts_per_entry: int | None = None, deadline: float | None = None,
             ignore_backoff: bool = False, lock_wait: float = 0.0) -> PushResult:
        """Drain the outbox oldest first, one request at a time, up to `batch_size` sessions per request.

        `max_attempts_per_entry`: tries this pass may spend on one entry before leaving it pending and stopping
        (default 1: the first transient failure ends the pass; later passes retry after the entry's backoff, and
        until that backoff has passed a pass makes no request at all: stopped == "backoff").
        Between tries the pass sleeps the backoff delay (or the server's Retry-After). `deadline`: a
        `time.monotonic()` value after which no new request starts. `ignore_backoff`: send entries still waiting
        for their backoff ("send now" by staff).

        The pass holds the store's upload lock (sync.upload_lock), waiting at most `lock_wait` seconds for another
        uploader to finish; if it does not, nothing is done: stopped == "busy". Holding the lock, entries left in
        flight can only be a dead process's, so they are put back to pending first."""
        if not ignore_backoff and self.paused_until is not None and store.now() < self.paused_until:
            return PushResult(0, 0, outbox.remaining(store), "backoff", 0)
        try:
            with upload_lock(store.path, wait=lock_wait):
                recovered = outbox.recover_in_flight(store) + live_rows.recover_in_flight(store)
                if recovered:
                    log.info("outbox: %d entries left in flight by a stopped uploader put back to pending", recovered)
                return self._push_holding_the_lock(store, max_attempts_per_entry, deadline, ignore_backoff)
        except UploaderBusy:
            log.info("outbox: another uploader is running on this store; this pass is skipped")
            return PushResult(0, 0, outbox.remaining(store), "busy", 0)

    def _push_holding_the_lock(self, store: Store, max_attempts_per_entry: int | None, deadline: float | None,
                               ignore_backoff: bool) -> PushResult:
        if self._max_entries_given is None:  # what this or another process learned of this server
            self.max_entries = transaction_limits.load(store, self.base_url) or self.max_entries
        self.paused_until = None
        requests_before = self.requests_made
        live_sent, _, stopped = push_live(self, store, ignore_backoff=ignore_backoff)  # the doctor waits
        one_pass = UploadPass(self, store, limit=max(1, max_attempts_per_entry or 1), deadline=deadline,
                              ignore_backoff=ignore_backoff)
        if stopped is None:
            one_pass.run()
            stopped = one_pass.stopped
        extracts, residents = 0, 0
        if stopped is None:  # the sessions went through: the residents' edits, then the audit trail follow them
            residents, stopped = push_residents(self, store, ignore_backoff=ignore_backoff)
        if stopped is None:
            extracts, stopped = self.push_audit(store)
        return PushResult(one_pass.sent, one_pass.rejected, outbox.remaining(store), stopped,
                          self.requests_made - requests_before, extracts, residents, live_sent)

    def push_audit(self, store: Store) -> tuple[int, str | None]:
        """Send the frozen extracts of the audit trail (sync.audit_extracts), oldest first; stop at the first
        failure (the next pass retries it). Returns (confirmed, why it stopped or None)."""
        confirmed = 0
        for extract in audit_extracts.pending_extracts(store):
            outcome, statuses, _ = self._exchange(extract["payload"].encode("utf-8"), 1)
            if outcome is None and all(batching.entry_ok(s) for s in statuses):
                audit_extracts.mark_extract(store, extract["id"], sent=True)
                confirmed += 1
                continue
            kind = outcome.kind if outcome is not None else "transient"
            audit_extracts.mark_extract(store, extract["id"], sent=False,
                                        error=f"{kind}: {outcome.detail if outcome is not None else statuses}")
            log.warning("audit extract %s not sent (%s)", extract["extract_no"], kind)
            return confirmed, kind if kind in ("auth", "tls") else "transient"
        return confirmed, None

    def fetch_audit_copy(self, install_id: str) -> list[dict[str, str]]:
        """The server's copy of this install's audit trail: the rows of extracts 1, 2, … until one is missing.
        `server_date` keeps the server's clock (its `Date` header, RFC 9110 §6.6.1): the rows' ages are judged on
        it, so a tablet whose clock was moved forward does not age its own rows."""
        rows: list[dict[str, str]] = []
        number = 1
        while True:
            headers = {k: v for k, v in self._headers(False).items() if k != "Content-Type"}
            reply = self.http.get(f"{self.base_url}/DocumentReference", timeout=self.timeout, verify=self.verify,
                                  params={"identifier": f"{audit_extracts.EXTRACT_SYSTEM}|{install_id}/{number}"},
                                  headers=headers, allow_redirects=False)
            reply.raise_for_status()
            self.server_date = _date_header(reply)
            found = [e["resource"] for e in reply.json().get("entry") or ()]
            if not found:
                return rows
            rows.extend(audit_extracts.rows_of_extract(found[0]))
            number += 1


def _date_header(reply: requests.Response) -> dt.datetime | None:
    try:
        moment = email.utils.parsedate_to_datetime(reply.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None
