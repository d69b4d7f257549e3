"""Merge several frozen session bundles into one transaction Bundle, and map the server's answer back per session.

Why (shared/notes/sync.md): after days offline a tablet holds hundreds of sessions; one request per session pays one
round trip each on a slow link. Merging N sessions into one transaction costs one round trip, and stays exactly-once
because every entry is still the conditional create frozen in its own session's payload (the outbox keeps each
session's bytes unchanged; the merged body is rebuilt from them on each try, which is harmless: the identifiers, not
the bytes, are what make a retry idempotent).

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

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sync import fhir
from sync.outbox import OutboxEntry


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


def merge(entries: Sequence[OutboxEntry]) -> MergedBatch:
    """Merge sessions oldest first. A single session is sent as its exact frozen bytes."""
    if not entries:
        raise ValueError("nothing to merge")
    if len(entries) == 1:
        only = entries[0]
        count = len(fhir.loads(only.payload).get("entry") or [])
        return MergedBatch((only,), only.payload_bytes, count, {only.id: tuple(range(count))})
    merged: list[dict[str, Any]] = []
    by_full_url: dict[str, tuple[int, str]] = {}  # fullUrl → (index in merged, canonical text of the entry)
    included: list[OutboxEntry] = []
    deferred: list[OutboxEntry] = []
    positions: dict[str, tuple[int, ...]] = {}
    for outbox_entry in entries:
        bundle_entries = fhir.loads(outbox_entry.payload).get("entry") or []
        canon = [fhir.dumps(e) for e in bundle_entries]
        conflict = False
        for entry, text in zip(bundle_entries, canon):
            url = entry.get("fullUrl") if isinstance(entry, dict) else None
            if url is not None and url in by_full_url and by_full_url[url][1] != text:
                conflict = True
                break
        # the same fullUrl twice inside one session is the server's verdict to give, not ours: never defer it
        if conflict:
            deferred.append(outbox_entry)
            continue
        earlier = dict(by_full_url)  # dedupe only against earlier sessions, never inside one session
        indexes = []
        for entry, text in zip(bundle_entries, canon):
            url = entry.get("fullUrl") if isinstance(entry, dict) else None
            if url is not None and url in earlier:
                indexes.append(earlier[url][0])
                continue
            merged.append(entry)
            if url is not None:
                by_full_url.setdefault(url, (len(merged) - 1, text))
            indexes.append(len(merged) - 1)
        positions[outbox_entry.id] = tuple(indexes)
        included.append(outbox_entry)
    if len(included) == 1:  # everything else was deferred: send the survivor's frozen bytes as they are
        return MergedBatch(tuple(included), included[0].payload_bytes, len(merged), positions, tuple(deferred))
    body = fhir.dumps_bundle({"resourceType": "Bundle", "type": "transaction", "entry": merged})
    return MergedBatch(tuple(included), body, len(merged), positions, tuple(deferred))


def response_statuses(body: Any, expected_entries: int) -> tuple[list[str] | None, str | None]:
    """The status of each response entry, or (None, what is wrong) when `body` is not a transaction-response for
    `expected_entries` requests (a captive portal's page, a batch-response, a reply for another request…)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return None, "la réponse n'est pas un Bundle FHIR"
    if body.get("type") != "transaction-response":
        return None, f"Bundle de type {body.get('type')!r} au lieu de transaction-response"
    response_entries = body.get("entry") or []
    if not isinstance(response_entries, list) or len(response_entries) != expected_entries:
        count = len(response_entries) if isinstance(response_entries, list) else "?"
        return None, f"{count} réponses pour {expected_entries} entrées envoyées"
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
