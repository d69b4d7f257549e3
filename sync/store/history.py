"""A resident's recent history, for the trend charts and the usual values the alert rules compare with: every vital
sign of the last 90 days, from this tablet's sessions (closed, and the one in progress) and from the copy of the
site's other tablets' sessions that the pull keeps (`history_sessions`, `history_observations`, schema v10), each
reading with its time, value, unit, flag and where it was taken; and the NEWS2 of each session.

Only valid readings come out: a numeric LOINC code the vocabulary knows, a unit allowed for it, a decimal value the
clinical rules find plausible, a time with its zone. Anything else (a coded answer, a corrupt pulled row) is left
out, so a chart never draws what is not a real reading. SpO2 coded 2708-6 (the FHIR oxygensat profile's code) is
merged with 59408-5 (the oximeter's), as the tablet stores them.

Read by index only: `sessions(patient_id)` and `measurements(session_id)` for this tablet's,
`history_observations(patient_id, code, effective_at)` and `history_sessions(patient_id, started_at)` for the
pulled ones.
"""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from sync.clinical.rules import RULES, SPO2, SPO2_ARTERIAL, Implausible, check_plausible, comparable
from sync.clinical.stored import news2_of_readings
from sync.store.database import Database
from sync.vocabulary import OBSERVATION_TYPES, decimal_from_text

HISTORY_DAYS = 90
ORIGINS = ("local", "pulled")      # taken on this tablet / on another tablet of the site (pulled from the server)
# the history tables hold both: other tablets' sessions, and this tablet's kept after they left it (schema v12)
_ORIGIN = {"pulled": "pulled", "this_tablet": "local"}
NUMERIC_CODES = tuple(code for code, kind in OBSERVATION_TYPES.items() if kind.answers is None)
# The usual value: the median of the resident's last USUAL_READINGS readings of the last HISTORY_DAYS days, none
# below USUAL_MINIMUM readings. See usual_values for why.
USUAL_READINGS = 5
USUAL_MINIMUM = 3


@dataclass(frozen=True)
class Reading:
    """One valid reading: `value` in `unit` as stored, `flag` the interpretation the rules gave it then."""

    code: str
    at: dt.datetime
    value: Decimal
    unit: str
    flag: str | None
    origin: str                      # "local" (this tablet) or "pulled" (another tablet)
    session_id: str | None = None


@dataclass(frozen=True)
class SessionScore:
    """The NEWS2 of one session: `score` and `band` (sync.clinical.news2 risk bands), `complete` False when
    parameters were missing (the score is then a floor, never reassuring)."""

    session_id: str
    at: dt.datetime
    score: int
    band: str
    complete: bool
    origin: str


@dataclass(frozen=True)
class History:
    """A resident's readings by code (oldest first) and NEWS2 per session (oldest first), since `since`."""

    patient_id: str
    since: dt.datetime
    readings: Mapping[str, tuple[Reading, ...]] = field(default_factory=dict)
    news2: tuple[SessionScore, ...] = ()

    def of(self, code: str) -> tuple[Reading, ...]:
        return self.readings.get(code, ())

    @property
    def empty(self) -> bool:
        return not self.news2 and not any(self.readings.values())


@dataclass(frozen=True)
class Usual:
    """The resident's usual value of one sign, in the clinical rules' comparison unit (°C, %, /min, mmHg), and how
    many readings it is the median of."""

    code: str
    value: Decimal
    unit: str
    count: int


def _moment(text: Any) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def valid_reading(row: Mapping[str, Any], at: Any, origin: str, session_id: str | None) -> Reading | None:
    """The row as a Reading, or None when it is not a valid reading (see the module's docstring)."""
    code = SPO2 if row["code"] == SPO2_ARTERIAL else row["code"]
    kind = OBSERVATION_TYPES.get(code)
    moment = _moment(at)
    if kind is None or kind.answers is not None or row["unit"] not in kind.units or moment is None:
        return None
    try:
        value = decimal_from_text(row["value"])
        check_plausible(code, value, row["unit"])
    except (ValueError, Implausible):
        return None
    flag = row.get("interpretation")
    return Reading(code, moment, value, row["unit"], flag if flag in ("LL", "L", "H", "HH") else None, origin,
                   session_id)


def _loose_bound(since: dt.datetime) -> str:
    """A text lower bound for an indexed range on ISO time stamps written with any offset: a day early (no zone
    is 24 h away from UTC); the exact cut is made on the parsed times."""
    return (since - dt.timedelta(days=1)).astimezone(dt.timezone.utc).date().isoformat()


def _local(db: Database, patient_id: str, since: dt.datetime) -> tuple[list[Reading], list[SessionScore], set[str]]:
    """This tablet's closed sessions and the one in progress (abandoned ones never took place)."""
    sessions = db.query("SELECT id, opened_at, started_at FROM sessions WHERE patient_id = ? "
                        "AND state IN ('open', 'closed')", [patient_id])
    readings: list[Reading] = []
    scores: list[SessionScore] = []
    for session in sessions:
        rows = db.query("SELECT code, value, unit, interpretation, measured_at, received_at FROM measurements "
                        "WHERE session_id = ? ORDER BY rowid", [session["id"]])
        readings += [r for row in rows
                     if (r := valid_reading(row, row["measured_at"] or row["received_at"], "local", session["id"]))]
        at = _moment(session["started_at"] or session["opened_at"])
        score = news2_of_readings(rows)
        if score is not None and at is not None and at >= since:
            scores.append(SessionScore(session["id"], at, score.score, score.risk, score.complete, "local"))
    return [r for r in readings if r.at >= since], scores, {s["id"] for s in sessions}


def _pulled(db: Database, patient_id: str, since: dt.datetime, local_ids: set[str]
            ) -> tuple[list[Reading], list[SessionScore]]:
    """The site's other tablets' sessions, as pulled (a session of this tablet coming back is left out)."""
    marks = ", ".join("?" for _ in NUMERIC_CODES)
    rows = db.query("SELECT session_id, code, value, unit, interpretation, effective_at, origin "
                    f"FROM history_observations WHERE patient_id = ? AND code IN ({marks}) AND effective_at >= ?",
                    [patient_id, *NUMERIC_CODES, _loose_bound(since)])
    readings = [r for row in rows if row["session_id"] not in local_ids
                and (r := valid_reading(row, row["effective_at"], _ORIGIN[row["origin"]], row["session_id"]))
                and r.at >= since]
    scores = []
    for row in db.query("SELECT id, started_at, news2_score, news2_band, news2_complete, origin FROM history_sessions "
                        "WHERE patient_id = ? AND started_at >= ?", [patient_id, _loose_bound(since)]):
        at = _moment(row["started_at"])
        if row["id"] in local_ids or row["news2_score"] is None or not row["news2_band"] or at is None or at < since:
            continue
        scores.append(SessionScore(row["id"], at, row["news2_score"], row["news2_band"],
                                   row["news2_complete"] == 1, _ORIGIN[row["origin"]]))
    return readings, scores


def _by_code(readings: Iterable[Reading]) -> dict[str, tuple[Reading, ...]]:
    grouped: dict[str, list[Reading]] = {}
    for reading in sorted(readings, key=lambda r: r.at):
        grouped.setdefault(reading.code, []).append(reading)
    return {code: tuple(found) for code, found in grouped.items()}


def resident_history(db: Database, patient_id: str, *, days: int = HISTORY_DAYS) -> History:
    """Every valid reading of the resident over the last `days` days, by code, oldest first, with where it came
    from; the NEWS2 of each session (this tablet's computed from its readings by sync.clinical, as the report
    does; the other tablets' as they stored it)."""
    since = db.now() - dt.timedelta(days=days)
    with db.lock:
        local, local_scores, local_ids = _local(db, patient_id, since)
        pulled, pulled_scores = _pulled(db, patient_id, since, local_ids)
    scores = tuple(sorted(local_scores + pulled_scores, key=lambda s: s.at))
    return History(patient_id, since, _by_code(local + pulled), scores)


def comparable_value(reading: Reading) -> tuple[Decimal, str]:
    """The reading in its rule's comparison unit (°F → °C, kPa → mmHg), as the alert rules compare."""
    rule = RULES.get(reading.code)
    if rule is None:
        return reading.value, reading.unit
    return comparable(reading.code, reading.value, reading.unit), rule.unit


def usual_values(db: Database, patient_id: str, *, exclude_session: str | None = None) -> dict[str, Usual]:
    """The resident's usual value per code: the median of the last 5 readings of the last 90 days, in the rules'
    comparison unit, excluding the session in progress (`exclude_session`: today's values are compared with it,
    never part of it). None for a code with fewer than 3 readings.

    Why: the fever criteria for long-term care residents compare with the resident's "baseline" temperature
    (IDSA 2008, High et al., Clin Infect Dis 48:149; revised McGeer criteria, Stone et al., Infect Control Hosp
    Epidemiol 2012;33:965) without defining how to compute it. The median of a few recent readings is robust to
    one abnormal reading (a fever episode shifts a mean, not the median of five); the last 5 readings of 90 days
    follow the resident's current state, and 3 is the fewest for a median to ignore one outlier. An app design
    choice, to be validated by the physician in charge, like the thresholds of sync.clinical.rules."""
    history = resident_history(db, patient_id)
    usual: dict[str, Usual] = {}
    for code, readings in history.readings.items():
        kept = [r for r in readings if not (r.origin == "local" and r.session_id == exclude_session)]
        last = [comparable_value(r) for r in kept[-USUAL_READINGS:]]
        units = {unit for _value, unit in last}
        if len(last) >= USUAL_MINIMUM and len(units) == 1:
            usual[code] = Usual(code, statistics.median(value for value, _unit in last), units.pop(), len(last))
    return usual
