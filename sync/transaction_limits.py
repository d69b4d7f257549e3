"""How many entries a server takes in one transaction: recognising a refusal that says "too large", choosing the
next size to try, and remembering what was learned per server in the store's settings.

Why: FHIR R4 sets no limit on the size of a transaction (https://hl7.org/fhir/R4/http.html#transaction), but real
servers do. Medplum refuses a transaction that needs serializable isolation (any conditional entry: ifNoneExist,
or a PUT/DELETE whose URL has a search) and holds more than 8 entries, and one with more than 50 updates, each
with HTTP 400 and an OperationOutcome whose `issue.details.text` is a fixed sentence (Medplum's `batch.ts`,
`maxSerializableTransactionEntries = 8` and `maxUpdates = 50`; https://github.com/medplum/medplum/pull/9477).
Any server or proxy may answer 413 Content Too Large (RFC 9110 section 15.5.14). Neither says anything against the
data, so such a refusal never quarantines a session: the uploader sends the same entries again in smaller
dependency-ordered transactions (sync.batching.dependency_parts) and keeps the size that was accepted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.store import Store

# Medplum's sentences (issue.details.text) and the limit each one stands for
KNOWN_REFUSALS: tuple[tuple[str, int], ...] = (
    ("Transaction requires strict isolation", 8),
    ("Transaction contains more update operations than allowed", 50),
)
SETTING_PREFIX = "server_transaction_limit:"


@dataclass(frozen=True)
class SizeRefusal:
    """A server's "this transaction is too large". `limit`: the size its wording stands for, when known."""

    status: int
    text: str
    limit: int | None = None


def _issue_texts(body: Any) -> list[str]:
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    texts = []
    for issue in body.get("issue") or []:
        if isinstance(issue, dict):
            details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
            texts += [t for t in (details.get("text"), issue.get("diagnostics")) if isinstance(t, str)]
    return texts


def size_refusal(status: int, body: Any) -> SizeRefusal | None:
    """The refusal when HTTP `status` with the parsed `body` says the transaction was too large, else None."""
    texts = _issue_texts(body)
    if status == 400:
        for text in texts:
            for wording, limit in KNOWN_REFUSALS:
                if text.startswith(wording):
                    return SizeRefusal(status, text, limit)
        return None
    if status == 413:
        return SizeRefusal(status, "; ".join(texts))
    return None


def next_size(refusal: SizeRefusal, refused_entries: int) -> int | None:
    """How many entries to try after `refused_entries` were refused as too many: the limit the server's wording
    stands for when it is below, else half; None when a single entry was refused (nothing left to split)."""
    if refused_entries <= 1:
        return None
    if refusal.limit is not None and refusal.limit < refused_entries:
        return refusal.limit
    return refused_entries // 2


def _key(server_url: str) -> str:
    return SETTING_PREFIX + server_url.rstrip("/")


def load(store: "Store", server_url: str) -> int | None:
    """The limit learned for `server_url`, or None."""
    value = store.get_setting(_key(server_url))
    return int(value) if value and value.isdigit() and int(value) >= 1 else None


def save(store: "Store", server_url: str, limit: int) -> None:
    """Remember that `server_url` took a transaction of `limit` entries after refusing a larger one."""
    if limit < 1:
        raise ValueError("a transaction limit is at least 1")
    if load(store, server_url) != limit:
        store.set_setting(_key(server_url), str(limit))


def learned(store: "Store") -> dict[str, int]:
    """Every server's learned limit, by URL (`python -m sync status`)."""
    rows = store.query("SELECT key, value FROM settings WHERE substr(key, 1, ?) = ? ORDER BY key",
                       [len(SETTING_PREFIX), SETTING_PREFIX])
    return {row["key"][len(SETTING_PREFIX):]: int(row["value"]) for row in rows if row["value"].isdigit()}
