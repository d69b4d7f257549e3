"""How far the pull got, per server and scope (a resource type at a site): the `pull_cursors` rows of schema v10.

- `watermark`: the newest `meta.lastUpdated` stored — the server's clock, never the tablet's;
- `seen`: the (id, versionId) pairs stored at exactly that instant. The next search asks `_lastUpdated=ge` the
  watermark (not `gt`: two resources may share a millisecond, and one committed after the page was read would be
  skipped for ever) and drops what is in `seen`;
- `next_url`: the `next` link of a paged search not finished yet, so an interrupted pull resumes at that page.
A cursor is saved by the caller inside the transaction that stores the page's rows: it never runs ahead of them.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sync.store.database import Database


@dataclass
class Cursor:
    server: str
    scope: str
    watermark: str | None = None
    seen: set[tuple[str, str]] = field(default_factory=set)
    next_url: str | None = None
    saved: tuple[Any, ...] | None = None  # the state as stored (load / save), to write only a change

    def state(self) -> tuple[Any, ...]:
        return self.watermark, frozenset(self.seen), self.next_url

    def advance(self, resources: list[dict[str, Any]]) -> None:
        """Move the watermark to the newest of `resources` (a page just stored) and remember who sits on it."""
        for resource in resources:
            stamp = last_updated(resource)
            if stamp is None:
                continue
            if self.watermark is None or instant_key(stamp) > instant_key(self.watermark):
                self.watermark, self.seen = stamp, set()
            if instant_key(stamp) == instant_key(self.watermark):
                self.seen.add(version_key(resource))


def instant_key(stamp: str) -> str:
    """A `meta.lastUpdated` as a comparable UTC text (the servers write `Z` or `+00:00`, milliseconds or not)."""
    moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def last_updated(resource: dict[str, Any]) -> str | None:
    meta = resource.get("meta")
    stamp = meta.get("lastUpdated") if isinstance(meta, dict) else None
    return stamp if isinstance(stamp, str) else None


def version_key(resource: dict[str, Any]) -> tuple[str, str]:
    """(id, versionId): what tells a resource already stored from a newer version of it."""
    meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    return str(resource.get("id")), str(meta.get("versionId"))


def load(db: Database, server: str, scope: str) -> Cursor:
    rows = db.query("SELECT * FROM pull_cursors WHERE server = ? AND scope = ?", [server, scope])
    if not rows:
        return Cursor(server, scope)
    row = rows[0]
    cursor = Cursor(server, scope, row["watermark"], {tuple(pair) for pair in json.loads(row["seen"])},
                    row["next_url"])
    cursor.saved = cursor.state()
    return cursor


def save(db: Database, cursor: Cursor) -> None:
    """Inside the caller's transaction (the one storing the page's rows)."""
    db.require_transaction()
    db.conn.execute(
        "INSERT INTO pull_cursors (server, scope, watermark, seen, next_url, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (server, scope) DO UPDATE SET watermark = excluded.watermark, seen = excluded.seen, "
        "next_url = excluded.next_url, updated_at = excluded.updated_at",
        [cursor.server, cursor.scope, cursor.watermark, json.dumps(sorted(cursor.seen)), cursor.next_url,
         db.stamp()])
    cursor.saved = cursor.state()
