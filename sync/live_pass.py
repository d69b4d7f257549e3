"""The live sends of open sessions (sync.live, sync.store.live), sent by the uploader before the closed sessions'
bundles, one at a time, oldest first: the remote doctor is waiting for them now, while a closed session's bundle
can wait a few seconds more.

Each send is settled once: sent; rejected with the server's code (a refusal of this send says nothing of the next,
which is built afresh); or, on a transient failure, pending again after a backoff (superseded instead when a newer
send already waits), and the pass ends: the network or the server is the problem.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sync.store.live as live_rows
from sync import transaction_limits
from sync.live import freeze
from sync.retry_after import retry_delay
from sync.outbox import backoff_delay, error_record

Uploader = Any  # a sync.uploader.Uploader (not imported: the uploader imports this module)

log = logging.getLogger(__name__)


def push_live(uploader: Uploader, store: Any, *, ignore_backoff: bool = False) -> tuple[int, int, str | None]:
    """Send every due live send. Returns (sent, rejected, why the pass stopped or None)."""
    sent = rejected = 0
    while True:
        send = live_rows.claim_next(store, ignore_backoff=ignore_backoff)
        if send is None:
            return sent, rejected, None
        try:
            send = freeze(store, send.id)  # built from the session as it now is, the same bytes on every retry
            outcome = uploader.send(send.as_outbox_entry())
        except BaseException:
            live_rows.release(store, send.id, error_record("upload.internal"), delay=0)
            raise
        if outcome.learned_limit is not None:
            transaction_limits.save(store, uploader.base_url, outcome.learned_limit)
        if outcome.kind == "sent":
            live_rows.mark_sent(store, send.id)
            uploader.paused_until = None
            sent += 1
        elif outcome.kind == "rejected":
            live_rows.mark_rejected(store, send.id, outcome.detail)
            rejected += 1
            log.warning("live send %s rejected by the server", send.id)
        else:
            if outcome.retry_after is not None:
                delay = retry_delay(outcome.retry_after, uploader._rng)
            else:
                delay = backoff_delay(send.attempts, rng=uploader._rng)
            now = store.now()
            live_rows.release(store, send.id, outcome.detail, delay=delay, now=now)
            uploader.paused_until = now + dt.timedelta(seconds=delay)
            log.info("live send not sent (%s); retry in %.1f s", outcome.kind, delay)
            return sent, rejected, outcome.kind if outcome.kind in ("auth", "tls") else "transient"
