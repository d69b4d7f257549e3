"""While staff wait for a remote doctor's answer (a call going on, or an advice request waiting for the session on
screen), the tablet asks the server for the doctor's conclusions every few seconds: a light pull of the
ClinicalImpressions only (sync.pull.conclusions), so the answer shows within seconds of the doctor signing it.

Runs on the app's asyncio loop like the sync loop (sync.background): each pull runs in a worker thread with its
own Store connection, one at a time, so the UI thread never waits on the network. It does nothing while nobody
waits (`wanted()` false) or while the server cannot be reached (`online()` false: the sync loop just said so); a
failed pull is logged and tried again at the next beat. Outside those moments the conclusions come with the regular
pull.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Callable

from sync.pull import PullError, SearchClient
from sync.pull.conclusions import pull_conclusions
from sync.store import Store

log = logging.getLogger(__name__)

WATCH_SECONDS = 5.0


class ConclusionsWatch:
    def __init__(self, store_path: str | os.PathLike[str], client: SearchClient, *, wanted: Callable[[], bool],
                 online: Callable[[], bool], on_received: Callable[[], None],
                 interval_seconds: float = WATCH_SECONDS, key: bytes | None = None) -> None:
        """`wanted`, `online`: asked on the loop at each beat; `on_received`: called on the loop after a pull that
        stored something (the screens refresh)."""
        self.store_path = Path(store_path)
        self.client = client
        self.wanted, self.online, self.on_received = wanted, online, on_received
        self.interval_seconds = interval_seconds
        self._key = key
        self.pulls = 0
        self.last_counts: Counter | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._store: Store | None = None

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="relais-conclusions")

    async def stop(self) -> None:
        """Stop after the pull in progress (its timeouts bound the wait)."""
        if self._task is None:
            return
        self._stopping = True
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        finally:
            self._task = None
            if self._store is not None:
                await asyncio.to_thread(self._store.close)
                self._store = None

    async def beat(self) -> bool:
        """One beat: pull when someone waits and the server is reachable. True when something new was stored."""
        if not (self.wanted() and self.online()):
            return False
        if self._store is None:
            self._store = await asyncio.to_thread(lambda: Store(self.store_path, key=self._key))
        store = self._store
        try:
            counts = await asyncio.to_thread(pull_conclusions, store, self.client)
        except PullError as exc:
            self.last_error = exc.code
            log.info("conclusions pull failed (%s); tried again shortly", exc.code)
            return False
        except Exception as exc:  # noqa: BLE001 - the watch must outlive any single failure
            self.last_error = type(exc).__name__
            log.exception("conclusions pull failed")
            return False
        self.pulls += 1
        self.last_counts, self.last_error = counts, None
        if counts.get("created") or counts.get("updated"):
            self.on_received()
            return True
        return False

    async def _run(self) -> None:
        while not self._stopping:
            await self.beat()
            await asyncio.sleep(self.interval_seconds)
