"""The site's recent history as it comes down from the server: Encounters → `history_sessions`, Observations →
`history_observations` (a blood pressure panel's components as rows of their own, under the same LOINC codes as
`measurements`), the report (Composition) → the session's summary; the session's NEWS2 computed here by the
clinical rules (sync.clinical) from the values pulled, never taken from a text.

A session this tablet holds itself (its idempotency key is in `sessions`) is never copied: it is already here.
Every row is compared with what is stored before it is written, so pulling the same thing twice changes nothing.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from typing import Any, Iterable

from sync import fhir
from sync.clinical.stored import news2_of_readings
from sync.fhir.terminology import MEASUREMENT_METHOD_SYSTEM, OBSERVATION_INTERPRETATION
from sync.pull.residents import identifier_value
from sync.store import Store

_SUMMARY_TITLES = ("Synthèse pour le médecin traitant", "Conclusion du médecin téléconsultant")
_TAG = re.compile(r"<[^>]+>")
_SESSION_COLUMNS = ("patient_id", "site_id", "started_at", "reason", "server_version")
_OBSERVATION_COLUMNS = ("patient_id", "session_id", "code", "value", "unit", "interpretation", "source",
                        "effective_at", "server_version")


def is_local_session(store: Store, key: str) -> bool:
    return bool(store.db.execute("SELECT 1 FROM sessions WHERE idempotency_key = ?", [key]).fetchone())


def _version(resource: dict[str, Any]) -> str | None:
    version = (resource.get("meta") or {}).get("versionId")
    return str(version) if version is not None else None


def _instant(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a date-time is missing")
    return fhir.fhir_datetime(value.replace("Z", "+00:00"))


def _upsert(store: Store, table: str, row: dict[str, Any], columns: Iterable[str]) -> str:
    """Insert, update the columns that differ, or leave alone: "created", "updated", "unchanged" (plain SQL: this
    runs once per value pulled)."""
    old = store.conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE id = ?", [row["id"]]).fetchone()
    if old is None:
        store.conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                           list(row.values()))
        return "created"
    changed = {c: row[c] for c, was in zip(columns, old) if was != row[c]}
    if not changed:
        return "unchanged"
    changed["pulled_at"] = row["pulled_at"]
    store.conn.execute(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in changed)} WHERE id = ?",
                       [*changed.values(), row["id"]])
    return "updated"


def apply_encounter(store: Store, encounter: dict[str, Any], *, patient_id: str, site_id: str | None,
                    now: dt.datetime) -> str:
    """One Encounter of the site as a history session; "own" when it is one of this tablet's sessions."""
    key = identifier_value(encounter, fhir.ENCOUNTER_ID_SYSTEM)
    if not key:
        raise ValueError("an Encounter without the product's encounter identifier")
    if is_local_session(store, key):
        return "own"
    reason = next((r.get("text") for r in encounter.get("reasonCode") or () if isinstance(r, dict)), None)
    row = {"id": key, "patient_id": patient_id, "site_id": site_id,
           "started_at": _instant((encounter.get("period") or {}).get("start")), "reason": reason,
           "server_version": _version(encounter), "pulled_at": store.stamp(now)}
    status = _upsert(store, "history_sessions", row, _SESSION_COLUMNS)
    refresh_news2(store, [key])
    return status


def _code(observation: dict[str, Any]) -> str:
    codes = [c.get("code") for c in (observation.get("code") or {}).get("coding") or () if isinstance(c, dict)]
    known = [c for c in codes if c in fhir.OBSERVATION_TYPES or c == fhir.BP_PANEL_CODE]
    if not known:
        raise ValueError("an Observation of an unknown code")
    return "59408-5" if "59408-5" in known else known[0]  # SpO2 travels as 2708-6 + 59408-5: stored as 59408-5


def _flag(concepts: Any) -> str | None:
    for concept in concepts or ():
        for coding in concept.get("coding") or ():
            if coding.get("system") == OBSERVATION_INTERPRETATION:
                return coding.get("code")
    return None


def _value(element: dict[str, Any]) -> tuple[str, str]:
    """(value as stored, UCUM unit) of a quantity, a coded answer or a yes/no."""
    if isinstance(element.get("valueQuantity"), dict):
        quantity = element["valueQuantity"]
        value = quantity.get("value")
        if not isinstance(value, (Decimal, int)) or isinstance(value, bool) or not quantity.get("code"):
            raise ValueError("a quantity without a value or a unit")
        return format(Decimal(value), "f"), quantity["code"]
    if isinstance(element.get("valueBoolean"), bool):
        return ("yes" if element["valueBoolean"] else "no"), ""
    codings = (element.get("valueCodeableConcept") or {}).get("coding") or ()
    if codings and codings[0].get("code"):
        return codings[0]["code"], ""
    raise ValueError("an Observation without a value")


def session_of(observation: dict[str, Any]) -> str | None:
    """The session (idempotency key) an Observation belongs to: its identifier is `<key>/obs/<n>-<code>`."""
    ident = identifier_value(observation, fhir.OBSERVATION_ID_SYSTEM)
    return ident.split("/obs/")[0] if ident and "/obs/" in ident else None


def observation_rows(observation: dict[str, Any], *, patient_id: str, now_stamp: str) -> list[dict[str, Any]]:
    """The history rows of one Observation: one, or one per component of a blood pressure panel."""
    ident = identifier_value(observation, fhir.OBSERVATION_ID_SYSTEM)
    session = session_of(observation)
    if not ident or session is None:
        raise ValueError("an Observation without the product's observation identifier")
    methods = [c.get("code") for c in (observation.get("method") or {}).get("coding") or ()
               if c.get("system") == MEASUREMENT_METHOD_SYSTEM]
    base = {"patient_id": patient_id, "session_id": session,
            "source": {"manual": "manual", "device": "bluetooth"}.get(methods[0]) if methods else None,
            "effective_at": _instant(observation.get("effectiveDateTime")),
            "server_version": _version(observation), "pulled_at": now_stamp}
    code = _code(observation)
    if code != fhir.BP_PANEL_CODE:
        value, unit = _value(observation)
        return [{**base, "id": ident, "code": code, "value": value, "unit": unit,
                 "interpretation": _flag(observation.get("interpretation"))}]
    rows = []
    for component in observation.get("component") or ():
        component_code = _code(component)
        value, unit = _value(component)
        rows.append({**base, "id": f"{ident}/{component_code}", "code": component_code, "value": value,
                     "unit": unit, "interpretation": _flag(component.get("interpretation"))})
    if not rows:
        raise ValueError("a blood pressure panel without components")
    return rows


def apply_observation(store: Store, observation: dict[str, Any], *, patient_id: str, now: dt.datetime,
                      refresh: bool = True) -> str:
    """One Observation of the site; "own" when it belongs to one of this tablet's sessions. `refresh=False`: the
    caller recomputes the session's NEWS2 itself (once per page, `refresh_news2`)."""
    rows = observation_rows(observation, patient_id=patient_id, now_stamp=store.stamp(now))
    if is_local_session(store, rows[0]["session_id"]):
        return "own"
    statuses = {_upsert(store, "history_observations", row, _OBSERVATION_COLUMNS) for row in rows}
    if refresh:
        refresh_news2(store, [rows[0]["session_id"]])
    return "created" if "created" in statuses else "updated" if "updated" in statuses else "unchanged"


def summary_text(composition: dict[str, Any]) -> str | None:
    """The text of the report's summary for the médecin traitant, else the remote doctor's conclusion."""
    sections = {s.get("title"): s for s in composition.get("section") or () if isinstance(s, dict)}
    for title in _SUMMARY_TITLES:
        div = ((sections.get(title) or {}).get("text") or {}).get("div")
        if isinstance(div, str):
            paragraphs = [html.unescape(_TAG.sub("", p)).strip() for p in div.split("</p>")]
            return "\n".join(p for p in paragraphs if p) or None
    return None


def apply_composition(store: Store, composition: dict[str, Any], *, now: dt.datetime) -> str:
    """A session's report: its summary on the history session ("own" for this tablet's sessions, "skipped" for an
    addendum or a report whose session is not here)."""
    key = identifier_value(composition, fhir.COMPOSITION_ID_SYSTEM)
    if not key:
        return "skipped"
    if is_local_session(store, key):
        return "own"
    rows = store.query("SELECT summary FROM history_sessions WHERE id = ?", [key])
    if not rows:
        return "skipped"
    summary = summary_text(composition)
    if rows[0]["summary"] == summary:
        return "unchanged"
    store.conn.execute("UPDATE history_sessions SET summary = ?, pulled_at = ? WHERE id = ?",
                       [summary, store.stamp(now), key])
    return "updated"


def refresh_news2(store: Store, session_ids: Iterable[str]) -> None:
    """Recompute the NEWS2 of history sessions from their pulled values; written only when it changed."""
    for session_id in session_ids:
        current = store.query("SELECT news2_score, news2_band, news2_complete FROM history_sessions "
                                 "WHERE id = ?", [session_id])
        if not current:
            continue  # the values came before their session: computed when the session comes
        # the same rule as the report and the tablet's own history: sync.clinical.stored
        score = news2_of_readings(store.query("SELECT code, value, unit FROM history_observations WHERE "
                                              "session_id = ? ORDER BY effective_at, id", [session_id]))
        new = {"news2_score": score.score if score else None, "news2_band": score.risk if score else None,
               "news2_complete": int(score.complete) if score else None}
        if new != current[0]:
            store.db["history_sessions"].update(session_id, new)
