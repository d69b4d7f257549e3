"""Reading a search to its end (sync.pull.paging) against a scripted server: `next` links are followed; without
them the `_lastUpdated` watermark pages with `ge` and drops what it already stored, so resources sharing one
millisecond across a page boundary all come down; a page and its cursor are stored in one transaction, so an
interrupted pull resumes without losing or repeating anything."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from sync.pull import cursors
from sync.pull.client import PullError
from sync.pull.paging import pull_search
from sync.store import Store


class ScriptedServer:
    """Resources (id, versionId, lastUpdated) in lastUpdated order; pages by `next` links or not at all."""

    base_url = "https://fhir.test/fhir"

    def __init__(self, stamps: list[str], *, links: bool) -> None:
        self.resources = [self.resource(i, stamp) for i, stamp in enumerate(stamps)]
        self.links = links
        self.requests_made = 0
        self.bytes_received = 0
        self.fail_at: int | None = None
        self.queries: list[dict[str, str]] = []

    @staticmethod
    def resource(i: int, stamp: str, version: str = "1") -> dict:
        return {"resourceType": "Patient", "id": f"r{i}", "meta": {"versionId": version, "lastUpdated": stamp}}

    def search(self, url: str, params=None) -> dict:
        self.requests_made += 1
        if self.fail_at is not None and self.requests_made >= self.fail_at:
            raise PullError("pull.network", error="ConnectionError")
        query = dict(params or parse_qsl(urlsplit(url).query))
        self.queries.append(query)
        found = list(self.resources)
        lower = query.get("_lastUpdated", "")
        if lower.startswith("ge"):
            found = [r for r in found if r["meta"]["lastUpdated"] >= lower[2:]]
        elif lower.startswith("gt"):
            found = [r for r in found if r["meta"]["lastUpdated"] > lower[2:]]
        start = int(query.get("_offset", 0))
        count = int(query.get("_count", 100))
        page = found[start:start + count]
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                  "entry": [{"resource": r, "search": {"mode": "match"}} for r in page]}
        if self.links and start + count < len(found):
            rest = {k: v for k, v in query.items() if k != "_offset"}
            bundle["link"] = [{"relation": "next", "url": f"{self.base_url}/Patient?" + "&".join(
                f"{k}={v}" for k, v in {**rest, "_offset": start + count}.items())}]
        return bundle


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "tablet.db") as s:
        s.conn.execute("CREATE TABLE pulled (id TEXT PRIMARY KEY, version TEXT)")
        yield s


def keep(store: Store, fresh: list, included: list) -> None:
    for r in fresh:
        store.conn.execute("INSERT INTO pulled (id, version) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET "
                           "version = excluded.version", [r["id"], r["meta"]["versionId"]])


def pulled(store: Store) -> list[str]:
    return sorted((r["id"] for r in store.query("SELECT id FROM pulled")), key=lambda i: int(i[1:]))


# 30 resources, 25 of them in one millisecond: what Medplum gave one transaction of 30 Devices
TIES = ["2026-11-30T20:48:10.619Z"] * 3 + ["2026-11-30T20:48:10.620Z"] * 25 + ["2026-11-30T20:48:10.700Z"] * 2


@pytest.mark.parametrize("links", [False, True])
def test_every_resource_comes_down_even_when_many_share_a_millisecond(store, links):
    server = ScriptedServer(TIES, links=links)
    result = pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=3)
    assert pulled(store) == [f"r{i}" for i in range(30)]
    assert result.pages > 1
    cursor = cursors.load(store, server.base_url, "Patient@site")
    assert cursor.watermark == TIES[-1] and cursor.seen == {("r28", "1"), ("r29", "1")} and cursor.next_url is None


def test_without_links_the_watermark_asks_ge_and_widens_a_page_full_of_one_instant(store):
    server = ScriptedServer(TIES, links=False)
    pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=3)
    lowers = [q.get("_lastUpdated", "") for q in server.queries]
    assert all(lower == "" or lower.startswith("ge") for lower in lowers)
    assert max(int(q["_count"]) for q in server.queries) > 3  # a page of one instant already seen was widened
    assert all(q.get("_sort") == "_lastUpdated" for q in server.queries)


def test_next_links_are_followed_to_the_last_page(store):
    server = ScriptedServer([f"2026-11-30T10:00:00.{i:03d}Z" for i in range(10)], links=True)
    result = pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=4)
    assert pulled(store) == [f"r{i}" for i in range(10)]
    assert result.pages == 3 and server.requests_made == 3
    assert [q.get("_offset") for q in server.queries] == [None, "4", "8"]


def test_a_second_pull_with_nothing_new_changes_nothing(store):
    server = ScriptedServer(TIES, links=False)
    pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=5)
    before = store.query("SELECT * FROM pull_cursors"), store.query("SELECT * FROM pulled")
    again = pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=5)
    assert (store.query("SELECT * FROM pull_cursors"), store.query("SELECT * FROM pulled")) == before
    assert again.pages >= 1


def test_a_newer_version_at_the_watermark_instant_comes_down(store):
    server = ScriptedServer(TIES, links=False)
    pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=5)
    server.resources[29] = ScriptedServer.resource(29, TIES[-1], version="2")  # updated within the same ms
    pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=5)
    assert store.query("SELECT version FROM pulled WHERE id = 'r29'") == [{"version": "2"}]


@pytest.mark.parametrize("links", [False, True])
def test_an_interrupted_pull_keeps_what_it_stored_and_resumes(store, links):
    server = ScriptedServer([f"2026-11-30T10:00:00.{i:03d}Z" for i in range(10)], links=links)
    server.fail_at = 3
    with pytest.raises(PullError):
        pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=4)
    # two pages stored, each with its cursor (from the watermark, the second page starts with the last one seen)
    stored = 8 if links else 7
    assert pulled(store) == [f"r{i}" for i in range(stored)]
    cursor = cursors.load(store, server.base_url, "Patient@site")
    assert cursor.watermark == f"2026-11-30T10:00:00.{stored - 1:03d}Z"
    assert (cursor.next_url is not None) == links
    server.fail_at, server.queries = None, []
    pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=4)
    assert pulled(store) == [f"r{i}" for i in range(10)]
    if links:  # resumed at the saved next page, not from the start
        assert server.queries[0].get("_offset") == "8"


def test_the_cursor_never_runs_ahead_of_the_rows_it_stands_for(store):
    """A page whose rows cannot be stored leaves the cursor where the last stored page put it."""
    server = ScriptedServer([f"2026-11-30T10:00:00.{i:03d}Z" for i in range(10)], links=False)
    calls = []

    def breaks_on_the_second_page(store_, fresh, included):
        calls.append(len(fresh))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        keep(store_, fresh, included)

    with pytest.raises(RuntimeError):
        pull_search(store, server, "Patient@site", "Patient", [], breaks_on_the_second_page, page_size=4)
    cursor = cursors.load(store, server.base_url, "Patient@site")
    assert pulled(store) == ["r0", "r1", "r2", "r3"] and cursor.watermark == "2026-11-30T10:00:00.003Z"
    pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=4)
    assert pulled(store) == [f"r{i}" for i in range(10)]


def test_a_saved_next_link_the_server_no_longer_knows_restarts_from_the_watermark(store):
    server = ScriptedServer([f"2026-11-30T10:00:00.{i:03d}Z" for i in range(6)], links=True)
    with store.transaction():
        cursors.save(store, cursors.Cursor(server.base_url, "Patient@site", None, set(),
                                           f"{server.base_url}/Patient?_cursor=gone"))
    original = server.search

    def refuses_old_cursors(url, params=None):
        if "_cursor=gone" in url:
            server.requests_made += 1
            raise PullError("pull.http", status=400)
        return original(url, params)

    server.search = refuses_old_cursors
    pull_search(store, server, "Patient@site", "Patient", [], keep, page_size=4)
    assert pulled(store) == [f"r{i}" for i in range(6)]
