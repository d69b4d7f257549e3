"""One pass of the uploader over the outbox (sync.uploader.Uploader.push, holding the store's upload lock), step by
step: claim a batch, fit it to the server's transaction limit (and remember a limit learned while sending), send it
group by group (a refused group is bisected until the refused session is
alone), and settle every claimed entry exactly once: sent, rejected, or released — with a backoff after a transient
failure, due at once when the pass runs out of time or fails inside. Nothing claimed is ever left in flight.

While a claim's last request is on the network (in a worker thread: requests blocks), the pass claims, merges and
compresses the next batch, so the tablet's share of the work is done during the round trip rather than after it.
Still one request at a time: the next is sent only once this one is answered. A batch the server took whole is
recorded as sent while the next request is on the network (the pass never ends with it unrecorded); any other answer
is settled before anything else is sent. The claim made ahead is given back untouched (its attempt not counted)
whenever the pass does not go on to send it."""
from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from sync import batching, outbox, transaction_limits
from sync.retry_after import retry_delay
from sync.store import Store

Uploader = Any  # a sync.uploader.Uploader (not imported: the uploader imports this module)
Outcome = Any  # what Uploader.send returns: kind, detail, retry_after, confirmed

log = logging.getLogger(__name__)

_DEADLINE_ERROR = outbox.error_record("upload.deadline")
_INTERNAL_ERROR = outbox.error_record("upload.internal")


class UploadPass:
    """The state of one pass: its counters, the tries spent per entry, and `unsettled`, the current claim's entries
    not yet settled (whatever happens, none of them is left in flight)."""

    def __init__(self, uploader: Uploader, store: Store, *, limit: int, deadline: float | None,
                 ignore_backoff: bool) -> None:
        self.uploader = uploader
        self.store = store
        self.limit = limit  # tries this pass may spend on one entry
        self.deadline = deadline
        self.ignore_backoff = ignore_backoff
        self.sent = 0
        self.rejected = 0
        self.stopped: str | None = None
        self.tries: dict[str, int] = {}
        self.unsettled: dict[str, outbox.OutboxEntry] = {}
        self.ahead: _Ahead | None = None  # the next claim, made while the last request was on the network
        self.taken: tuple[str, ...] = ()  # entries the server took whole, recorded as sent while the next one travels
        self._sender: ThreadPoolExecutor | None = None

    def deadline_passed(self, after: float = 0.0) -> bool:
        return self.deadline is not None and self.uploader._monotonic() + after >= self.deadline

    def run(self) -> None:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload") as self._sender:
            try:
                self._run()
            finally:
                try:
                    self.record_taken()
                finally:
                    self._give_back_ahead()

    def _run(self) -> None:
        while self.stopped is None:
            if self.deadline_passed():
                self.stopped = "deadline"
                break
            ahead, self.ahead = self.ahead, None
            if ahead is None:
                ahead = self.claim()
            if not ahead.entries:
                break
            self.unsettled = {e.id: e for e in ahead.entries}
            try:
                self.send_claim(ahead.entries, ahead.merged)
                if self.unsettled:  # by construction empty here; never leave a claimed entry in flight
                    outbox.unclaim(self.store, list(self.unsettled))
            except BaseException:
                if self.unsettled:
                    outbox.release_many(self.store, list(self.unsettled), _INTERNAL_ERROR, delay=0)
                    self.unsettled.clear()
                raise

    def claim(self) -> _Ahead:
        """The oldest due entries that fit one request, merged."""
        uploader = self.uploader
        claimed = outbox.claim_batch(self.store, limit=uploader.batch_size, max_bytes=uploader.max_batch_bytes,
                                     ignore_backoff=self.ignore_backoff)
        merged = batching.merge(claimed) if claimed else None
        if merged is not None and not merged.deferred and uploader.fits_one_transaction(merged):
            uploader.compress_ahead(merged.body)  # sent as it is (see fit)
        return _Ahead(claimed, merged)

    def _give_back_ahead(self) -> None:
        if self.ahead is not None:
            outbox.unclaim(self.store, [e.id for e in self.ahead.entries])
            self.ahead = None

    def give_back(self, entry_ids: list[str]) -> None:
        """Claimed entries this claim will not send: the next claim takes them."""
        outbox.unclaim(self.store, entry_ids)
        for entry_id in entry_ids:
            del self.unsettled[entry_id]

    def fit(self, claimed: Sequence[outbox.OutboxEntry], merged: batching.MergedBatch | None = None
            ) -> batching.MergedBatch:
        """The claim merged (`merged`: already), cut to the server's transaction limit; the sessions left out are
        given back."""
        first = merged or batching.merge(claimed)
        if not self.uploader.fits_one_transaction(first) and len(claimed) > 1:
            first = self.uploader._fit(claimed)
            kept = {e.id for e in first.entries} | {e.id for e in first.deferred}
            self.give_back([e.id for e in claimed if e.id not in kept])
        if first.deferred:
            self.give_back([e.id for e in first.deferred])
        return first

    def send_claim(self, claimed: Sequence[outbox.OutboxEntry], merged: batching.MergedBatch | None = None) -> None:
        first = self.fit(claimed, merged)
        groups: deque[Any] = deque([first])
        while groups:
            group = groups.popleft()
            batch = group if isinstance(group, batching.MergedBatch) else batching.merge(group)
            if batch.deferred and batch is not first:  # `first`'s were given back by fit: next claim
                groups.appendleft(list(batch.deferred))  # not expected for a part of a merged batch
            if self.deadline_passed():
                outbox.release_many(self.store, list(self.unsettled), _DEADLINE_ERROR, delay=0)
                self.unsettled.clear()
                self.stopped = "deadline"
                return
            if groups:
                self.record_taken()
                outcome = self.uploader.send(batch)
            else:
                outcome = self.send_and_claim_ahead(batch)
            if outcome.learned_limit is not None:  # kept for this server: the next pass starts with it
                transaction_limits.save(self.store, self.uploader.base_url, outcome.learned_limit)
            if outcome.kind == "sent" and not groups and self.ahead is not None:
                self.take(outcome)  # recorded while the claim made ahead is on the network
            else:
                self.settle_confirmed(outcome)
            if outcome.kind == "sent":
                log.info("outbox: %d session(s) sent in one request", len(outcome.confirmed))
            elif outcome.kind == "rejected" and len(batch.entries) > 1:
                low, high = batching.split(batch.entries)
                groups.appendleft(high)
                groups.appendleft(low)
                log.info("outbox: batch of %d refused (%s); splitting it", len(batch.entries), outcome.kind)
            elif outcome.kind == "rejected":
                self.settle_rejection(batch, outcome)
            else:
                self.settle_failure(outcome)
                return

    def send_and_claim_ahead(self, batch: batching.MergedBatch) -> Outcome:
        """Send the claim's last request and, while it is on the network, claim the next batch. The answer is
        always waited for, even when claiming fails: a request is never left unsettled."""
        assert self._sender is not None
        answer = self._sender.submit(self.uploader.send, batch)
        try:
            self.record_taken()  # the batch answered before this one (an addendum claimed next may follow it)
            if self.ahead is None and not self.deadline_passed():
                claimed = self.claim()  # may find nothing yet: an addendum waits for its session's answer
                self.ahead = claimed if claimed.entries else None
        finally:
            outcome = answer.result()
        if outcome.kind != "sent":  # this pass stops or splits: the claim made ahead goes back untouched
            self._give_back_ahead()
        return outcome

    def take(self, outcome: Outcome) -> None:
        """Entries the server confirmed: out of this claim's unsettled, to be recorded as sent by `record_taken`."""
        self.uploader.paused_until = None  # the server answers again
        for entry_id in outcome.confirmed:
            del self.unsettled[entry_id]
        self.taken += outcome.confirmed

    def record_taken(self) -> None:
        """Record as sent the batch `take` set aside; if that fails, its entries go back to pending (the server
        already holds them: sent again, they are matched, not duplicated)."""
        taken, self.taken = self.taken, ()
        if not taken:
            return
        try:
            outbox.mark_sent_many(self.store, list(taken))
        except BaseException:
            outbox.release_many(self.store, list(taken), _INTERNAL_ERROR, delay=0)
            raise
        self.sent += len(taken)

    def settle_confirmed(self, outcome: Outcome) -> None:
        """The entries the server confirmed, recorded as sent now."""
        if outcome.confirmed:
            self.take(outcome)
            self.record_taken()

    def settle_rejection(self, batch: batching.MergedBatch, outcome: Outcome) -> None:
        """One session refused alone: quarantined with the server's reason; the rest of the queue flows."""
        (entry,) = batch.entries
        outbox.mark_rejected(self.store, entry.id, outcome.detail)
        del self.unsettled[entry.id]
        self.rejected += 1
        log.warning("outbox %s rejected by the server", entry.id)

    def settle_failure(self, outcome: Outcome) -> None:
        """Transient, auth or TLS: everything still unsettled goes back, due together; then stop or wait."""
        uploader = self.uploader
        if outcome.retry_after is not None:
            delay = retry_delay(outcome.retry_after, uploader._rng)
        else:
            delay = outbox.backoff_delay(max(e.attempts for e in self.unsettled.values()), rng=uploader._rng)
        ids = list(self.unsettled)
        now = self.store.now()
        outbox.release_many(self.store, ids, outcome.detail, delay=delay, now=now)
        self.unsettled.clear()
        uploader.paused_until = now + dt.timedelta(seconds=delay)
        log.info("outbox: %d session(s) not sent (%s); retry in %.1f s", len(ids), outcome.kind, delay)
        for entry_id in ids:
            self.tries[entry_id] = self.tries.get(entry_id, 0) + 1
        if outcome.kind in ("auth", "tls"):
            self.stopped = outcome.kind
        elif max(self.tries[i] for i in ids) >= self.limit:
            self.stopped = "transient"
        elif self.deadline_passed(after=delay):
            self.stopped = "deadline"
        else:
            uploader._sleep(delay)


class _Ahead:
    """A claim (oldest first) and its merge, made before its turn."""

    def __init__(self, entries: list[outbox.OutboxEntry], merged: batching.MergedBatch | None) -> None:
        self.entries, self.merged = entries, merged
