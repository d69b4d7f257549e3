"""The sync indicator of the top bar: outbox counts and the just-saved session's upload state, polled from the runtime
once a second, and the refused sessions listed for staff."""
from __future__ import annotations

import logging
from typing import Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty

from mobile.screens import texts

log = logging.getLogger(__name__)


class SyncMonitor(EventDispatcher):
    """Outbox counts and the last saved session's state, polled from the runtime every `interval` seconds."""

    waiting = NumericProperty(0)      # pending + in flight
    rejected = NumericProperty(0)
    session_state = StringProperty("")
    level = StringProperty("ok")      # ok | pending | rejected | damaged
    simulated = BooleanProperty(False)
    last_sync = StringProperty("")    # "HH:MM" of the last session the server confirmed
    offline = BooleanProperty(False)  # the last sync pass could not reach the server
    damaged = BooleanProperty(False)  # the scheduled integrity check found the store damaged: syncing stopped
    rejected_list = ListProperty([])  # [{name, date, reason}] for the staff panel

    def __init__(self, runtime: Any, interval: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.interval = interval
        self._event = None
        self._failed = False
        config = getattr(runtime, "config", None)
        self.simulated = bool(getattr(config, "simulated_devices", False))

    def start(self) -> None:
        self.refresh()
        if self._event is None:
            self._event = Clock.schedule_interval(self.refresh, self.interval)

    def stop(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def refresh(self, *_args: Any) -> None:
        try:
            counts = self.runtime.sync_counts()
            state = self.runtime.workflow.sync_state() or ""
        except Exception:  # noqa: BLE001 - the indicator must never crash the app
            if not self._failed:
                log.exception("sync indicator: cannot read the outbox")
            self._failed = True
            return
        self._failed = False
        self.waiting = int(counts.get("pending", 0)) + int(counts.get("in_flight", 0))
        self.rejected = int(counts.get("rejected", 0))
        self.session_state = state
        self.level = texts.sync_level(self.waiting, self.rejected)
        self.damaged = bool(getattr(self.runtime, "store_damaged", False))
        if self.damaged:
            self.level = "damaged"
            return
        try:
            last = self.runtime.last_sync() if hasattr(self.runtime, "last_sync") else None  # an index's last key
            self.last_sync = last.astimezone().strftime("%H:%M") if last else ""
            self.offline = getattr(self.runtime, "online", None) is False
            refused = self.runtime.refused_reports() if hasattr(self.runtime, "refused_reports") else []
            if refused:  # a report a mail server refused needs staff as much as a session the server refused
                self.rejected += len(refused)
                self.level = texts.sync_level(self.waiting, self.rejected)
            sessions = self.runtime.rejected_sessions() if self.rejected > len(refused) else []
            self.rejected_list = [{
                "name": texts.display_name(r["family_name"], r["given_name"]),
                "date": texts.format_date((r["opened_at"] or "")[:10]),
                "reason": r["reason"] or ""} for r in sessions] + [{
                "name": texts.display_name(r["family_name"], r["given_name"]),
                "date": texts.format_date((r["opened_at"] or "")[:10]),
                "recipient_kind": r["recipient_kind"], "recipient": r["recipient"],
                "refusal": r["refusal"]} for r in refused]
        except Exception:  # noqa: BLE001 - the indicator must never crash the app
            log.exception("sync indicator: cannot read the last sync")
