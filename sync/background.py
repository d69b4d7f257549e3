"""Background sync for the app: push at start, when asked (a session was just saved), and periodically.

Runs on the app's asyncio loop; the blocking upload runs in a worker thread (asyncio.to_thread) with its own Store
connection, so the UI thread never waits on the network. One push at a time, never in parallel. After each upload
pass, the reports waiting in the mail outbox go to the MSSanté operator (sync.delivery.send_pass), in the same
worker thread, whatever the upload did: a mail server and a FHIR server fail independently. After an upload pass
that reached the server, the site's records come down (sync.pull), in the same worker thread; not while the
server cannot be reached (the upload just said so), and a failed pull is logged and retried at the next pass.
While another uploader holds the store (`python -m sync push`, sync.upload_lock) a round uploads nothing and keeps
the last result. Each round first runs the store's full integrity check when it is due (sync.store.integrity).
"""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Callable

from sync import audit_extracts, outbox, retention
from sync.delivery.mssante_settings import load_mssante_settings
from sync.delivery.send_pass import SendReport, send_pending_reports
from sync.store import Store, StoreCorruptError
from sync.pull import PullError, PullReport, SearchClient, pull
from sync.uploader import PushResult, Uploader

log = logging.getLogger(__name__)


class SyncLoop:
    def __init__(self, store_path: str | os.PathLike[str], server_url: str, *, token: str | None = None,
                 ca_bundle: str | None = None, interval_seconds: float = 30.0,
                 uploader: Uploader | None = None, max_entries: int | None = None,
                 key: bytes | None = None, on_answers: Callable[[], None] | None = None) -> None:
        """`key`: the store's SQLCipher key (None for a plain store); `on_answers`: called on the loop after a pull
        that stored a remote doctor's conclusions (the screens say so)."""
        self.store_path = Path(store_path)
        self._key = key
        self.uploader = uploader or Uploader(server_url, token=token, ca_bundle=ca_bundle, max_entries=max_entries)
        self.puller: SearchClient | None = SearchClient(server_url, token=token, ca_bundle=ca_bundle)
        self.last_pull: PullReport | None = None
        self.last_pull_error: str | None = None
        self.interval_seconds = interval_seconds
        self.last_result: PushResult | None = None
        self.last_purge: retention.PurgeReport | None = None
        # the last mail pass: `not_configured` when MSSanté is not set up (the reports wait), counts otherwise
        self.last_mail: SendReport | None = None
        self.last_error: str | None = None
        self.integrity_error: str | None = None  # `store.corrupt` once the scheduled check found damage
        self.passes = 0
        self.busy_rounds = 0  # rounds skipped because another uploader held the store (sync.upload_lock)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.on_answers = on_answers

    def start(self) -> None:
        """Start on the running event loop; the first push happens right away."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = self._loop.create_task(self._run(), name="relais-sync")

    def trigger(self) -> None:
        """Ask for a push as soon as possible. Safe to call from any thread."""
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        """Stop after the current push (an upload in progress is not interrupted: its timeouts bound the wait)."""
        if self._task is None:
            return
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        try:
            await self._task
        finally:
            self._task = None

    async def _run(self) -> None:
        store = await asyncio.to_thread(lambda: Store(self.store_path, key=self._key))
        try:
            while not self._stopping:
                assert self._wake is not None
                self._wake.clear()
                if not await self._integrity_holds(store):
                    break
                try:
                    # the audit trail leaves the tablet too (sync.audit_extracts): with every session going out, else
                    # every ten minutes at most
                    await asyncio.to_thread(
                        lambda: audit_extracts.freeze_extract(store, force=outbox.remaining(store) > 0))
                    result = await asyncio.to_thread(self.uploader.push, store)
                    if result.stopped == "busy":  # `python -m sync push` has the store: this round is skipped
                        self.busy_rounds += 1
                    else:
                        self.last_result = result
                    self.last_error = None
                    # what the server has confirmed long enough leaves the tablet (sync.retention)
                    self.last_purge = await asyncio.to_thread(retention.purge, store)
                except Exception as exc:  # noqa: BLE001 - the loop must survive any single failure
                    self.last_error = type(exc).__name__
                    log.exception("sync pass failed")
                await self._pull(store)
                await self._send_reports(store)
                self.passes += 1
                if self._stopping:
                    break
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval_seconds)
                except TimeoutError:
                    pass
        finally:
            await asyncio.to_thread(store.close)

    async def _integrity_holds(self, store: Store) -> bool:
        """The scheduled full check of the store file (sync.store.integrity), in the worker thread. Damage stops the
        loop before anything else is written or purged: `last_error` and `integrity_error` say `store.corrupt`, and
        the next start refuses the file with that code, the data left as it is."""
        try:
            await asyncio.to_thread(store.check_integrity_if_due)
        except StoreCorruptError as exc:
            self.integrity_error = self.last_error = exc.code
            log.error("store: the scheduled integrity check found damage; syncing stopped")
            return False
        return True

    async def _pull(self, store: Store) -> None:
        """Download the site's records after an upload pass that reached the server; never while offline."""
        offline = self.last_result is None or self.last_result.stopped in ("transient", "backoff", "auth", "tls")
        if self.puller is None or offline:
            return
        try:
            self.last_pull = await asyncio.to_thread(pull, store, self.puller)
            self.last_pull_error = None
            answers = self.last_pull.counts["conclusions"]
            if self.on_answers is not None and (answers["created"] or answers["updated"]):
                self.on_answers()
        except PullError as exc:
            self.last_pull_error = exc.code
            log.warning("pull failed (%s); retried at the next pass", exc.code)
        except Exception as exc:  # noqa: BLE001 - a pull fault must not stop the upload loop
            self.last_pull_error = type(exc).__name__
            log.exception("pull failed")

    async def _send_reports(self, store: Store) -> None:
        """The mail pass, with the settings as saved now (configured while the app runs: used at the next pass)."""
        try:
            self.last_mail = await asyncio.to_thread(
                lambda: send_pending_reports(store, load_mssante_settings(store)))
        except Exception:  # noqa: BLE001 - a mail fault must not stop the FHIR sync
            log.exception("report mail pass failed")
