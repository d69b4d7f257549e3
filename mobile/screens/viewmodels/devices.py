"""The "Devices of this tablet" screen: the kit (what measurements may use), the last search's devices with their
signal, and what the last action did or why it was refused. Searching and pairing take seconds: they run as tasks
on the app's loop and the screen says they are running."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty

from mobile.screens.viewmodels.base import ScreenModel, attempt
from mobile.workflow import WorkflowError

log = logging.getLogger(__name__)


class DevicesModel(ScreenModel):
    kit = ListProperty([])              # RecycleView data: one dict per device of the kit
    found = ListProperty([])            # RecycleView data: one dict per device heard by the last search
    searching = BooleanProperty(False)
    searched = BooleanProperty(False)
    pairing = StringProperty("")        # the address being paired
    error = ObjectProperty(None, allownone=True)
    message = StringProperty("")        # what the last action did: a key of kit_texts.DONE

    def __init__(self, workflow, **kwargs: Any) -> None:
        super().__init__(workflow, **kwargs)
        self._task: asyncio.Task | None = None

    def on_step(self, step: str, previous: str) -> None:
        if step == "devices":
            self.error, self.message, self.found, self.searched = None, "", [], False
            self.refresh()

    def refresh(self) -> None:
        try:
            entries = self.workflow.device_kit()
        except WorkflowError as exc:
            self.error = exc
            return
        self.kit = [{"kind": e["kind"], "name": e.get("name") or "", "model": e.get("model") or "",
                     "serial": e.get("serial") or "", "address": e["address"], "vm": self} for e in entries]
        in_kit = {e["address"] for e in entries}
        self.found = [{**row, "in_kit": row["address"] in in_kit} for row in self.found]

    def close(self) -> None:
        self.workflow.close_devices()

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def _start(self, work: Callable[[], Awaitable[None]]) -> bool:
        if self.busy:
            return False
        self.error, self.message = None, ""
        try:
            self._task = asyncio.get_running_loop().create_task(work())
        except RuntimeError:
            log.error("the devices screen needs the asyncio loop")
            return False
        return True

    def search(self) -> bool:
        return self._start(self._search)

    async def _search(self) -> None:
        self.searching = True
        try:
            rows = await self.workflow.scan_devices()
            self.found = [{"kind": r["kind"], "name": r.get("name") or "", "model": r.get("model") or "",
                           "serial": r.get("serial") or "", "rssi": r.get("rssi"), "address": r["address"],
                           "in_kit": r["in_kit"], "vm": self} for r in rows]
            self.searched = True
        except WorkflowError as exc:
            self.error = exc
        finally:
            self.searching = False

    def pair(self, address: str) -> bool:
        return self._start(lambda: self._pair(address))

    async def _pair(self, address: str) -> None:
        self.pairing = address
        try:
            await self.workflow.pair_device(address)
            self.message = "paired"
            self.refresh()
        except WorkflowError as exc:
            self.error = exc
        finally:
            self.pairing = ""

    def remove(self, address: str) -> bool:
        self.message = ""
        if not attempt(self, "error", lambda: self.workflow.remove_from_kit(address)):
            return False
        self.message = "removed"
        self.refresh()
        return True

    def cancel_tasks(self) -> None:
        if self.busy:
            self._task.cancel()
