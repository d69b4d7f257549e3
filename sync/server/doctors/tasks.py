"""The requests for a doctor (FHIR R4 `Task`, sync.fhir.exchange) as the worklist and the session page show them:
what is asked (a teleconsultation or advice without a call), for whom, why, since when, and for which session.

Like sync.server.doctors.records, a Task that does not fit becomes an `Unreadable` row and never breaks a page.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sync.fhir.exchange import REQUEST_ID_SYSTEM, REQUEST_KIND_SYSTEM, WAITING_STATUSES, session_key_of
from sync.server.doctors import french
from sync.server.doctors.records import Unreadable, reference_id

KIND_WORDS = {"teleconsultation": "Téléconsultation", "teleexpertise": "Demande d'avis"}
STATUS_WORDS = {"requested": "en attente", "received": "reçue", "accepted": "acceptée", "in-progress": "en cours",
                "completed": "répondue", "cancelled": "annulée", "rejected": "refusée", "failed": "échouée"}


@dataclass
class RequestView:
    id: str
    kind: str               # a key of KIND_WORDS
    kind_words: str
    status: str
    status_words: str
    waiting: bool
    reason: str
    requested_at: str       # Paris time, dd/mm/yyyy HH:MM
    waited: str             # "12 min"
    sort_key: str
    encounter_id: str | None
    patient_reference: str | None
    session_key: str | None


def _kind(task: dict[str, Any]) -> str:
    codes = [c.get("code") for c in (task.get("code") or {}).get("coding") or []
             if c.get("system") == REQUEST_KIND_SYSTEM]
    if len(codes) != 1 or codes[0] not in KIND_WORDS:
        raise ValueError("no request kind")
    return str(codes[0])


def _session_key(task: dict[str, Any]) -> str | None:
    for identifier in task.get("identifier") or []:
        if identifier.get("system") == REQUEST_ID_SYSTEM:
            return session_key_of(str(identifier.get("value")), "request")
    return None


def request_view(task: Any, now: dt.datetime) -> RequestView | Unreadable:
    try:
        kind, status = _kind(task), str(task["status"])
        authored = french.parse_instant(task.get("authoredOn"))
        return RequestView(
            id=str(task["id"]), kind=kind, kind_words=KIND_WORDS[kind], status=status,
            status_words=STATUS_WORDS.get(status, status), waiting=status in WAITING_STATUSES,
            reason=str(task.get("description") or ""), requested_at=french.local_time(authored),
            waited=french.waited(authored, now),
            sort_key=authored.astimezone(dt.timezone.utc).isoformat() if authored else "",
            encounter_id=reference_id(task.get("encounter") or task.get("focus"), "Encounter"),
            patient_reference=(task.get("for") or {}).get("reference"), session_key=_session_key(task))
    except (AttributeError, KeyError, TypeError, ValueError):
        return Unreadable("Task", str(task.get("id", "?")) if isinstance(task, dict) else "?")
