"""Merge several frozen session bundles into one transaction Bundle, and map the server's answer back per session.

Why: after days offline a tablet holds hundreds of sessions; one request per session pays one
round trip each on a slow link. Merging N sessions into one transaction costs one round trip, and stays exactly-once
because every entry is still the conditional create frozen in its own session's payload (the outbox keeps each
session's bytes unchanged; the merged body is rebuilt from them on each try, which is harmless: the identifiers, not
the bytes, are what make a retry idempotent).

The merged body is spliced from the frozen texts, not re-encoded: a frozen payload is the codec's deterministic
form (sync.fhir.codec: sorted keys, no whitespace), so it begins with its `entry` array and each entry's text in
it is exactly that entry's canonical encoding. Each entry is read with the C decoder's `raw_decode`, which also
gives where it ends (Python docs, json.JSONDecoder.raw_decode); the body is those texts joined. A payload in any
other form (none is written by the app) is parsed and its entries encoded as before.

FHIR rules that shape the merge:
- fullUrl must be unique in a Bundle (R4 invariant bdl-7), and the development server refuses duplicates. Observation
  fullUrls derive from each session's idempotency key, so they never collide; the Patient's derives from the local
  patient id, so two sessions of the same patient carry the same Patient entry. Identical entries are merged into one
  (same fullUrl, same resource, same request); both sessions then depend on that one response entry.
- Same fullUrl with a different content (the identity was edited between two sessions) cannot share a transaction:
  that session is deferred to the next batch, where it goes first.
- A transaction is all-or-nothing on the server, yet the answer is checked entry by entry: a session counts as sent
  only when every one of its entries has a 200/201 response.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from sync import fhir
from sync.outbox import OutboxEntry

_DECODER = json.JSONDecoder(parse_float=Decimal)
_HEAD = '{"entry":['
_TAIL = '],"resourceType":"Bundle","type":"transaction"}'

Problem = tuple[str, dict[str, Any]]  # a diagnostic code and its parameters (stored via sync.outbox.error_record)


@dataclass(frozen=True)
class MergedBatch:
    """One request's worth of sessions. `positions[entry_id]` are the indexes of that session's entries in the
    merged Bundle (shared entries appear in several sessions' positions)."""

    entries: tuple[OutboxEntry, ...]
    body: bytes
    entry_count: int
    positions: Mapping[str, tuple[int, ...]]
    deferred: tuple[OutboxEntry, ...] = field(default=())

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.entries]


def _spliced_entries(payload: str) -> list[tuple[Any, str]] | None:
    """Each entry of a frozen payload with its exact text in it; None when the payload is not in the codec's form."""
    if not payload.startswith(_HEAD):
        return None
    found: list[tuple[Any, str]] = []
    start = len(_HEAD)
    if payload.startswith("]", start):
        return found
    while True:
        try:
            entry, end = _DECODER.raw_decode(payload, start)
        except ValueError:
            return None
        found.append((entry, payload[start:end]))
        if payload.startswith(",", end):
            start = end + 1
        elif payload.startswith("]", end):
            return found
        else:
            return None


def frozen_entries(payload: str) -> list[tuple[Any, str]]:
    """Each entry of a frozen bundle with its canonical text (sync.fhir.dumps of the entry), read without
    re-encoding when the payload is in the codec's form."""
    spliced = _spliced_entries(payload)
    if spliced is not None:
        return spliced
    return [(entry, fhir.dumps(entry)) for entry in fhir.loads(payload).get("entry") or []]


def merge(entries: Sequence[OutboxEntry]) -> MergedBatch:
    """Merge sessions oldest first. A single session is sent as its exact frozen bytes."""
    if not entries:
        raise ValueError("nothing to merge")
    if len(entries) == 1:
        only = entries[0]
        count = len(frozen_entries(only.payload))
        return MergedBatch((only,), only.payload_bytes, count, {only.id: tuple(range(count))})
    merged: list[str] = []  # the canonical text of each entry of the merged bundle
    by_full_url: dict[str, tuple[int, str]] = {}  # fullUrl → (index in merged, canonical text of the entry)
    included: list[OutboxEntry] = []
    deferred: list[OutboxEntry] = []
    positions: dict[str, tuple[int, ...]] = {}
    for outbox_entry in entries:
        bundle_entries = frozen_entries(outbox_entry.payload)
        # the same fullUrl twice inside one session is the server's verdict to give, not ours: never defer it
        if _conflicts(bundle_entries, by_full_url):
            deferred.append(outbox_entry)
            continue
        earlier = dict(by_full_url)  # dedupe only against earlier sessions, never inside one session
        indexes = []
        for entry, text in bundle_entries:
            url = entry.get("fullUrl") if isinstance(entry, dict) else None
            if url is not None and url in earlier:
                indexes.append(earlier[url][0])
                continue
            merged.append(text)
            if url is not None:
                by_full_url.setdefault(url, (len(merged) - 1, text))
            indexes.append(len(merged) - 1)
        positions[outbox_entry.id] = tuple(indexes)
        included.append(outbox_entry)
    if len(included) == 1:  # everything else was deferred: send the survivor's frozen bytes as they are
        return MergedBatch(tuple(included), included[0].payload_bytes, len(merged), positions, tuple(deferred))
    body = (_HEAD + ",".join(merged) + _TAIL).encode("utf-8")  # = fhir.dumps_bundle of the merged Bundle
    return MergedBatch(tuple(included), body, len(merged), positions, tuple(deferred))


def _conflicts(bundle_entries: list[tuple[Any, str]], by_full_url: Mapping[str, tuple[int, str]]) -> bool:
    """True when an entry has the fullUrl of an earlier session's entry with another content."""
    for entry, text in bundle_entries:
        url = entry.get("fullUrl") if isinstance(entry, dict) else None
        if url is not None and url in by_full_url and by_full_url[url][1] != text:
            return True
    return False


def response_statuses(body: Any, expected_entries: int) -> tuple[list[str] | None, Problem | None]:
    """The status of each response entry, or (None, what is wrong: a diagnostic code and its parameters) when
    `body` is not a transaction-response for `expected_entries` requests (a captive portal's page, a
    batch-response, a reply for another request…)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return None, ("upload.reply.not_bundle", {})
    if body.get("type") != "transaction-response":
        return None, ("upload.reply.bundle_type", {"type": str(body.get("type"))})
    response_entries = body.get("entry") or []
    if not isinstance(response_entries, list) or len(response_entries) != expected_entries:
        count = len(response_entries) if isinstance(response_entries, list) else "?"
        return None, ("upload.reply.entry_count", {"count": count, "expected": expected_entries})
    statuses = []
    for entry in response_entries:
        status = ((entry or {}).get("response") or {}).get("status") if isinstance(entry, dict) else None
        statuses.append(status if isinstance(status, str) else "")
    return statuses, None


def entry_ok(status: str) -> bool:
    return status.startswith(("200", "201"))


def confirmed_sessions(batch: MergedBatch, statuses: Sequence[str]) -> list[str]:
    """Outbox ids whose every entry has a 200/201 response, in batch order."""
    return [e.id for e in batch.entries if all(entry_ok(statuses[i]) for i in batch.positions[e.id])]


def split(entries: Sequence[OutboxEntry]) -> tuple[list[OutboxEntry], list[OutboxEntry]]:
    """Bisect, keeping the order (oldest half first)."""
    middle = len(entries) // 2
    return list(entries[:middle]), list(entries[middle:])


def observation_identifiers(payloads: Iterable[str]) -> list[str]:
    """Every Observation identifier value in these frozen payloads (tests and the benchmark count with it)."""
    values = []
    for payload in payloads:
        for entry in fhir.loads(payload).get("entry") or []:
            resource = entry.get("resource") or {}
            if resource.get("resourceType") == "Observation":
                values.extend(i["value"] for i in resource.get("identifier") or [])
    return values


# -- transactions of a limited size ------------------------------------------------------------------------------
# Some engines cap a transaction: Medplum refuses more than 8 conditional entries in one ("requires strict
# isolation"), and a complete session has about 15. Such a bundle is sent as a sequence of smaller transactions in
# dependency order. Within one part, entries still point at each other by their urn:uuid fullUrls (FHIR R4 §3.1.0.11.2
# resolves them inside the transaction); an entry in a later part points at one sent earlier by the literal
# "Type/id" the server answered in response.location (R4 transaction-response: location is required for a 201 and
# given for a conditional-create match). Every part is still made of conditional creates, so re-sending the earlier
# parts after a failure in a later one creates nothing new: a session counts as sent only when all its parts are.

def _references(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                found.add(value)
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)
    return found


def dependency_parts(entries: Sequence[Mapping[str, Any]], max_entries: int) -> list[list[int]]:
    """Indexes of `entries` grouped into parts of at most `max_entries`, each part after every part holding an entry
    it references (original order kept where the references allow it). ValueError on a reference cycle, which no
    sequence of separate transactions can resolve."""
    if max_entries < 1:
        raise ValueError("max_entries must be at least 1")
    by_url = {e.get("fullUrl"): i for i, e in enumerate(entries) if isinstance(e, Mapping) and e.get("fullUrl")}
    needs: list[set[int]] = []
    for i, entry in enumerate(entries):
        refs = _references(entry.get("resource") if isinstance(entry, Mapping) else None, set())
        needs.append({by_url[r] for r in refs if r in by_url and by_url[r] != i})
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < len(entries):
        ready = next((i for i in range(len(entries)) if i not in placed and needs[i] <= placed), None)
        if ready is None:
            raise ValueError("circular references between the entries of the Bundle")
        order.append(ready)
        placed.add(ready)
    return [order[start:start + max_entries] for start in range(0, len(order), max_entries)]


def literal_reference(location: str) -> str | None:
    """"Patient/123" from a response location such as "Patient/123/_history/2" or "https://h/fhir/Patient/123"."""
    parts = [p for p in location.split("?")[0].split("/") if p]
    if "_history" in parts:
        parts = parts[:parts.index("_history")]
    if len(parts) < 2 or not parts[-2][:1].isupper():
        return None
    return f"{parts[-2]}/{parts[-1]}"


def conditional_reference(entry: Mapping[str, Any]) -> str | None:
    """"Patient?identifier=sys|val" for an entry whose server id is unknown (FHIR conditional reference)."""
    request = entry.get("request") or {}
    if request.get("url") and request.get("ifNoneExist"):
        return f"{request['url']}?{request['ifNoneExist']}"
    if request.get("method") == "PUT" and "?" in str(request.get("url") or ""):  # a conditional update's own query
        return str(request["url"])
    return None


def rewrite_references(node: Any, targets: Mapping[str, str]) -> Any:
    """A copy of `node` with every reference found in `targets` (fullUrl → literal reference) replaced."""
    if isinstance(node, dict):
        return {key: (targets.get(value, value) if key == "reference" and isinstance(value, str)
                      else rewrite_references(value, targets)) for key, value in node.items()}
    if isinstance(node, list):
        return [rewrite_references(item, targets) for item in node]
    return node
