"""Search on the development server (HL7 FHIR R4 RESTful API, "search"): what a tablet needs to pull its site's
residents, staff and recent history, page by page.

- `identifier`, `patient` / `subject`, and the references of `sync.server.search_index` (`organization`,
  `service-provider`, `encounter`, `practitioner`) as `Type/id` or a bare id; `_tag=system|code`; the codes of
  `search_index.TOKENS` (Task `status`), several joined by commas meaning any of them;
- `_lastUpdated` and `date` with the prefixes `eq` (default), `ge`, `gt`, `le`, `lt`, repeatable (all must hold);
  a value covers its precision (`ge2026-11-30` is from that midnight, `gt2026-11-30` from the next one), as R4
  "date" search says;
- `_sort=_lastUpdated` (results always come oldest first, ties by insertion order), `_count` (at most MAX_COUNT a
  page; `_count=0` gives the `total` alone), `_include=Type:parameter` for the reference parameters above;
- paging: a page that is not the last carries a `next` link (R4 Bundle.link, absolute URL) whose `_cursor` holds
  the (lastUpdated, insertion order) of the page's last match. The next page starts after it, so resources stored
  between two pages come on a later page, never shift a page, never repeat one.
Anything else is refused with 400, so a client never mistakes an ignored filter for an applied one.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sync.fhir import loads
from sync.server import sites
from sync.server.outcome import FhirError
from sync.server.search_index import DATES, REFERENCES, TOKENS, parse_instant, reference_of

MAX_COUNT = 500
_PREFIXES = ("eq", "ge", "gt", "le", "lt")
_PASSIVE = ("_format",)


@dataclass
class Query:
    """One search, parsed: SQL conditions on `resources r`, paging and includes. Each condition is a subquery
    that does not refer to `r` (SQLite then runs it once, not once per row)."""

    rtype: str
    where: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)
    count: int | None = None
    after: tuple[str, int] | None = None
    includes: list[str] = field(default_factory=list)  # elements whose references to include
    scope: sites.Scope = None  # the caller's sites (sync.server.sites): matches and includes of these only

    def add(self, condition: str, *args: Any) -> None:
        self.where.append(condition)
        self.args.extend(args)


def _precision(text: str) -> dt.timedelta:
    """How much time a date search value covers: a day, a minute, a second or its fraction digits."""
    body = text.split("T", 1)
    if len(body) == 1:
        return dt.timedelta(days=1)
    clock = body[1].replace("Z", "+").split("+")[0].split("-")[0]
    if clock.count(":") == 1:
        return dt.timedelta(minutes=1)
    fraction = clock.partition(".")[2]
    return dt.timedelta(seconds=1) / (10 ** len(fraction)) if fraction else dt.timedelta(seconds=1)


def date_range(name: str, value: str) -> tuple[str, dt.datetime, dt.datetime]:
    """(prefix, start, end) of a date search value: the instants it covers are [start, end)."""
    prefix = value[:2] if value[:2].isalpha() else "eq"
    text = value[2:] if value[:2].isalpha() else value
    if prefix not in _PREFIXES:
        raise FhirError(400, f"{name}: prefix {prefix!r} is not supported", "not-supported")
    try:
        start = parse_instant(text)
    except ValueError:
        raise FhirError(400, f"{name}: {text!r} is not a date") from None
    step = _precision(text)
    return prefix, start, start + max(step, dt.timedelta(microseconds=1))


def _date_condition(column: str, prefix: str, start: str, end: str) -> tuple[str, list[str]]:
    return {"eq": (f"{column} >= ? AND {column} < ?", [start, end]), "ge": (f"{column} >= ?", [start]),
            "gt": (f"{column} >= ?", [end]), "le": (f"{column} < ?", [end]),
            "lt": (f"{column} < ?", [start])}[prefix]


def _ms(moment: dt.datetime) -> str:
    """An instant as `last_updated` is stored (UTC, milliseconds), rounded up: `x >= bound` keeps its meaning."""
    moment = moment.astimezone(dt.timezone.utc)
    if moment.microsecond % 1000:
        moment += dt.timedelta(microseconds=1000 - moment.microsecond % 1000)
    return moment.isoformat(timespec="milliseconds")


def _add_last_updated(query: Query, value: str) -> None:
    prefix, start, end = date_range("_lastUpdated", value)
    condition, args = _date_condition("r.last_updated", prefix, _ms(start), _ms(end))
    query.add(condition, *args)


def _add_date(query: Query, value: str) -> None:
    if query.rtype not in DATES:
        raise FhirError(400, f"unsupported search parameter 'date' on {query.rtype}", "not-supported")
    prefix, start, end = date_range("date", value)
    condition, args = _date_condition("value", prefix, start.astimezone(dt.timezone.utc).isoformat(
        timespec="microseconds"), end.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"))
    query.add(f"r.id IN (SELECT id FROM search_index WHERE type = ? AND name = 'date' AND {condition})",
              query.rtype, *args)


def _add_identifier(query: Query, value: str) -> None:
    system, bar, val = value.partition("|")
    cond, extra = (("system = ? AND value = ?", [system, val]) if system else ("value = ?", [val])) if bar \
        else ("value = ?", [value])
    query.add(f"r.id IN (SELECT resource_id FROM identifiers WHERE type = ? AND {cond})", query.rtype, *extra)


def _add_reference(query: Query, name: str, value: str) -> None:
    target = value if "/" in value else None
    if target is None:
        query.add("r.id IN (SELECT id FROM search_index WHERE type = ? AND name = ? AND value LIKE ?)",
                  query.rtype, name, f"%/{value}")
    else:
        query.add("r.id IN (SELECT id FROM search_index WHERE type = ? AND name = ? AND value = ?)",
                  query.rtype, name, "/".join(target.split("/")[-2:]))


def _add_subject(query: Query, name: str, value: str) -> None:
    reference = value if "/" in value else f"Patient/{value}"
    if name == "patient" and not reference.startswith("Patient/"):
        raise FhirError(400, "patient must be a Patient id or Patient/<id>")
    query.add("r.subject = ?", reference)


def _add_tag(query: Query, value: str) -> None:
    if "|" in value:
        query.add("r.id IN (SELECT id FROM search_index WHERE type = ? AND name = '_tag' AND value = ?)",
                  query.rtype, value)
    else:
        query.add("r.id IN (SELECT id FROM search_index WHERE type = ? AND name = '_tag' AND value LIKE ?)",
                  query.rtype, f"%|{value}")


def _add_token(query: Query, name: str, value: str) -> None:
    """A code among several (`status=requested,in-progress`: any of them, R4 search "OR")."""
    codes = [code for code in value.split(",") if code]
    if not codes:
        raise FhirError(400, f"{name}: a code is needed")
    marks = ", ".join("?" * len(codes))
    query.add(f"r.id IN (SELECT id FROM search_index WHERE type = ? AND name = ? AND value IN ({marks}))",
              query.rtype, name, *codes)


def _set_count(query: Query, value: str) -> None:
    if not value.isdigit():
        raise FhirError(400, "_count must be a whole number")
    query.count = min(int(value), MAX_COUNT)


def _add_include(query: Query, value: str) -> None:
    source, _, name = value.partition(":")
    element = REFERENCES.get((source, name))
    if source != query.rtype or element is None:
        raise FhirError(400, f"unsupported _include {value!r}", "not-supported")
    query.includes.append(element)


def encode_cursor(last_updated: str, rowid: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([last_updated, rowid]).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[str, int]:
    try:
        last_updated, rowid = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(last_updated, str) and isinstance(rowid, int):
            return last_updated, rowid
    except (ValueError, TypeError):
        pass
    raise FhirError(400, "_cursor is not a cursor this server gave")


def parse(rtype: str, params: list[tuple[str, str]], scope: sites.Scope = None) -> Query:
    query = Query(rtype, scope=scope)
    if scope is not None:
        marks = ", ".join("?" * len(scope))
        query.add(f"r.id IN (SELECT id FROM resource_sites WHERE type = ? AND site IN ({marks}))", rtype,
                  *sorted(scope))
    for name, value in params:
        if name == "identifier":
            _add_identifier(query, value)
        elif name in ("patient", "subject") and rtype != "Patient" and (rtype, name) not in REFERENCES:
            _add_subject(query, name, value)
        elif (rtype, name) in REFERENCES:
            _add_reference(query, name, value)
        elif (rtype, name) in TOKENS:
            _add_token(query, name, value)
        elif name == "_lastUpdated":
            _add_last_updated(query, value)
        elif name == "date":
            _add_date(query, value)
        elif name == "_tag":
            _add_tag(query, value)
        elif name == "_count":
            _set_count(query, value)
        elif name == "_sort":
            if value != "_lastUpdated":
                raise FhirError(400, "only _sort=_lastUpdated is supported", "not-supported")
        elif name == "_include":
            _add_include(query, value)
        elif name == "_cursor":
            query.after = decode_cursor(value)
        elif name not in _PASSIVE:
            raise FhirError(400, f"unsupported search parameter {name!r}", "not-supported")
    return query


@dataclass
class Page:
    matches: list[dict[str, Any]]
    total: int
    next_cursor: str | None
    included: list[dict[str, Any]]


def run(conn: sqlite3.Connection, query: Query) -> Page:
    """The page of matches after the cursor (all of them without `_count`), the total, and the included resources."""
    where = " AND ".join(["r.type = ?", *query.where]) or "1"
    args = [query.rtype, *query.args]
    total = conn.execute(f"SELECT count(*) FROM resources r WHERE {where}", args).fetchone()[0]
    paged_where, paged_args = where, list(args)
    if query.after is not None:
        paged_where += " AND (r.last_updated > ? OR (r.last_updated = ? AND r.rowid > ?))"
        paged_args += [query.after[0], query.after[0], query.after[1]]
    sql = f"SELECT r.rowid AS rowid, r.last_updated, r.json FROM resources r WHERE {paged_where} " \
          "ORDER BY r.last_updated, r.rowid"
    if query.count is not None:
        sql += f" LIMIT {query.count + 1}"
    rows = conn.execute(sql, paged_args).fetchall()
    next_cursor = None
    if query.count is not None and len(rows) > query.count:
        rows = rows[:query.count]
        next_cursor = encode_cursor(rows[-1]["last_updated"], rows[-1]["rowid"]) if rows else None
    matches = [loads(row["json"]) for row in rows]
    return Page(matches, total, next_cursor, _included(conn, matches, query.includes, query.scope))


def _included(conn: sqlite3.Connection, matches: list[dict[str, Any]], elements: list[str],
              scope: sites.Scope) -> list[dict[str, Any]]:
    seen: set[str] = set()
    found = []
    for resource in matches:
        for element in elements:
            reference = reference_of(resource, element)
            if reference is None or reference in seen:
                continue
            seen.add(reference)
            target_type, target_id = reference.split("/")
            condition, args = sites.scope_condition(scope)
            row = conn.execute(f"SELECT json FROM resources r WHERE type = ? AND id = ? AND {condition}",
                               (target_type, target_id, *args)).fetchone()
            if row is not None:
                found.append(loads(row["json"]))
    return found


def searchset(page: Page, rtype: str, params: list[tuple[str, str]], base: str) -> dict[str, Any]:
    """The searchset Bundle of a page: matches then included resources, `self` and (when there is more) `next`."""
    kept = [(n, v) for n, v in params if n != "_cursor"]
    links = [{"relation": "self", "url": f"{base}/{rtype}" + (f"?{urlencode(params)}" if params else "")}]
    if page.next_cursor is not None:
        links.append({"relation": "next", "url": f"{base}/{rtype}?{urlencode(kept + [('_cursor', page.next_cursor)])}"})
    entries = [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": mode}}
               for mode, group in (("match", page.matches), ("include", page.included)) for r in group]
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset", "total": page.total,
            "link": links, "entry": entries}
