"""The site's history as the pull leaves it (schema v10 `history_sessions`, `history_observations`), written
directly for the tests of the trend charts and the usual values: one session of another tablet with its readings."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Sequence

Observation = tuple[str, str, str, "str | None"]   # (LOINC code, value as decimal text, UCUM unit, flag)


def add_pulled_session(store: Any, patient_id: str, started_at: dt.datetime | str,
                       observations: Sequence[Observation] = (), *, news2: tuple[int, str, bool] | None = None,
                       session_id: str | None = None) -> str:
    """A session taken on another tablet: its readings at `started_at`, its NEWS2 (score, band, complete)."""
    session_id = session_id or f"pulled-{uuid.uuid4()}"
    at = started_at.isoformat() if isinstance(started_at, dt.datetime) else started_at
    score, band, complete = news2 if news2 is not None else (None, None, None)
    with store.transaction() as db:
        db["history_sessions"].insert({
            "id": session_id, "patient_id": patient_id, "site_id": None, "started_at": at, "reason": None,
            "summary": None, "news2_score": score, "news2_band": band,
            "news2_complete": None if complete is None else int(complete), "server_version": "1",
            "pulled_at": at})
        for code, value, unit, flag in observations:
            db["history_observations"].insert({
                "id": str(uuid.uuid4()), "patient_id": patient_id, "session_id": session_id, "code": code,
                "value": value, "unit": unit, "interpretation": flag, "source": "bluetooth", "effective_at": at,
                "server_version": "1", "pulled_at": at})
    return session_id
