"""Reading one search to its end, page by page, each page stored with its cursor in ONE store transaction.

Two ways a server pages (HL7 FHIR R4 RESTful API, "Paging"; Medplum documents `_count`, `_sort` and
`_lastUpdated`, https://www.medplum.com/docs/search/paginated-search):
- it gives a `next` link: follow it to the last page (the link is saved with the page, so an interrupted pull
  resumes at the next page);
- it gives none but did not return everything (`total` is larger than the page): ask again from the watermark,
  `_lastUpdated=ge<watermark>&_sort=_lastUpdated&_count=N`, and drop what was already stored at that instant
  (sync.pull.cursors). When a whole page is one instant already seen, `_count` is doubled, or the search would
  never get past it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from sync.pull import cursors
from sync.pull.client import PullError, SearchClient, next_link, split_entries
from sync.store import Store

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000  # Medplum's largest _count
# applies one page inside the page's transaction: (store, new matches, included resources)
ApplyPage = Callable[[Store, list[dict[str, Any]], list[dict[str, Any]]], None]


@dataclass
class ScopeResult:
    pages: int = 0


def watermark_query(params: list[tuple[str, str]], cursor: cursors.Cursor, count: int) -> list[tuple[str, str]]:
    query = list(params)
    if cursor.watermark:
        query.append(("_lastUpdated", f"ge{cursor.watermark}"))
    return query + [("_sort", "_lastUpdated"), ("_count", str(count))]


def _store_page(store: Store, cursor: cursors.Cursor, fresh: list[dict[str, Any]], included: list[dict[str, Any]],
                link: str | None, apply: ApplyPage) -> None:
    """Apply a page and move the cursor, in one transaction. A page that brought nothing new does not record its
    `next` link (resuming there would save nothing), so a pull that finds nothing new writes nothing at all."""
    with store.transaction():
        apply(store, fresh, included)
        cursor.advance(fresh)
        cursor.next_url = link
        if (fresh or link is None) and cursor.state() != cursor.saved:
            cursors.save(store, cursor)


def _done(bundle: dict[str, Any], matches: list[dict[str, Any]], count: int) -> bool:
    total = bundle.get("total")
    if isinstance(total, int):
        return total <= len(matches)
    return len(matches) < count


def pull_search(store: Store, client: SearchClient, scope: str, path: str, params: list[tuple[str, str]],
                apply: ApplyPage, *, page_size: int = PAGE_SIZE) -> ScopeResult:
    """Read the search `path?params` from the scope's cursor to its end; PullError when the server cannot be read
    (what was stored stays stored, with the cursor that goes with it)."""
    cursor = cursors.load(store, client.base_url, scope)
    result, count, server_pages = ScopeResult(), page_size, bool(cursor.next_url)
    url, query = (cursor.next_url, None) if cursor.next_url else (path, watermark_query(params, cursor, count))
    while True:
        try:
            bundle = client.search(url, query)
        except PullError as exc:
            if query is not None or exc.code != "pull.http":
                raise
            log.warning("pull: a saved next link was refused (%s); starting again from the watermark", exc)
            url, query = path, watermark_query(params, cursor, count)
            cursor.next_url = None
            continue
        matches, included = split_entries(bundle)
        fresh = [m for m in matches if cursors.version_key(m) not in cursor.seen]
        link = next_link(bundle)
        _store_page(store, cursor, fresh, included, link, apply)
        result.pages += 1
        if link:
            url, query, server_pages = link, None, True
            continue
        if server_pages or _done(bundle, matches, count):  # a server that pages says where its last page is
            return result
        if not fresh:  # a full page of one instant already stored: widen the page
            if count >= MAX_PAGE_SIZE:
                log.warning("pull: more than %d resources share one lastUpdated in %s", MAX_PAGE_SIZE, scope)
                return result
            count = min(count * 2, MAX_PAGE_SIZE)
        url, query = path, watermark_query(params, cursor, count)

