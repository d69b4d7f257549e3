"""Consent to the teleconsultation: the decision recorded after oral information, with the time, who decided
(the patient, their legal representative, or their personne de confiance, named) and the staff member who
recorded it (HAS, "Qualité et sécurité des actes de téléconsultation et de téléexpertise", 2019). A later record
replaces the decision; the earlier ones are kept."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sync.ids import new_id
from sync.store.database import Database
from sync.store.errors import InputError
from sync.store.fields import TextRule, aware_iso, bool_or_none, choice
from sync.store.sessions import open_session_row
from sync.store.staff import active_staff
from sync.store.trail import trace

CONSENT_DECISIONS = ("given", "refused")
CONSENT_GRANTORS = ("patient", "legal_representative", "trusted_person")
GRANTOR_NAME = TextRule("given_by_name", 100, "consent.given_by_name.too_long")


def record_consent(db: Database, session_id: str, *, decision: str, recorded_by: str, given_by: str = "patient",
                   given_by_name: str | None = None, recorded_at: str | dt.datetime | None = None,
                   mes_opposed: bool | None = None) -> str:
    """Record the decision; the name is given when someone other than the patient decides, and only then.
    `mes_opposed`: the answer to "does the patient oppose a copy of the report in their Mon espace santé?" (asked
    for a qualified identity only; None when not asked)."""
    decision_code = choice(decision, CONSENT_DECISIONS, "decision", "consent.decision.invalid")
    grantor = choice(given_by, CONSENT_GRANTORS, "given_by", "consent.given_by.invalid")
    name = GRANTOR_NAME.clean(given_by_name)
    if grantor == "patient" and name is not None:
        raise InputError("consent.given_by_name.not_for_patient", "given_by_name")
    if grantor != "patient" and name is None:
        raise InputError("consent.given_by_name.required", "given_by_name")
    opposed = bool_or_none(mes_opposed, "mes_opposed")
    when = aware_iso(recorded_at, "recorded_at") if recorded_at is not None else db.stamp()
    consent_id = new_id()
    with db.transaction():
        open_session_row(db, session_id)
        active_staff(db, recorded_by, "recorded_by")
        db.db["consents"].insert({"id": consent_id, "session_id": session_id, "decision": decision_code,
                                  "given_by": grantor, "given_by_name": name, "recorded_at": when,
                                  "recorded_by": recorded_by, "mes_opposed": opposed})
        trace(db, "change", "session", session_id, f"consent {decision_code} by {grantor}", staff_id=recorded_by)
    return consent_id


def consents(db: Database, session_id: str) -> list[dict[str, Any]]:
    """Every decision recorded for the session, oldest first: the last one is in force."""
    return db.query("SELECT * FROM consents WHERE session_id = ? ORDER BY rowid", [session_id])


def consent_decision(db: Database, session_id: str) -> str | None:
    """'given', 'refused', or None when nothing was recorded."""
    rows = consents(db, session_id)
    return rows[-1]["decision"] if rows else None
