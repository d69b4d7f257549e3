"""Closing a session: its record frozen into a FHIR bundle and queued for the server, and its report frozen for the
patient's doctor and the patient (sync.delivery.freeze), in the transaction that closes it; the same for an addendum
written after close (the report's next version).

The live sends still waiting for the session (sync.live) are superseded in the same transaction: the final bundle
says everything they said, and writes the Encounter and the request's Task as conditional updates so the final
state wins over any live send arriving later.

Either the session is closed AND its outbox entry exists, or neither (one transaction): an outbox row exists if
and only if the session is closed, and its payload is never rebuilt (the schema refuses any change to it). This is
the one place where the store (sync.store) meets the FHIR mapping (sync.fhir): the store itself only knows the
vocabulary of what is measured (sync.vocabulary).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from sync import fhir, outbox
from sync.delivery.freeze import freeze_report
from sync.ids import new_id
from sync.store.consents import consents as session_consents
from sync.store.database import Database
from sync.store.errors import SessionStateError
from sync.store.live import supersede_pending
from sync.store.measurements import check_panels, measurements as session_measurements
from sync.store.notes import get_summary, insert_addendum, notes as session_notes
from sync.store.sessions import closable_row, mark_closed
from sync.store.trail import trace


def _authority(db: Database, ins_system: str | None) -> str | None:
    """The INS authority for a bundle: the one asked for, else the store's own (a demo or training store), else the
    FHIR mapping's default (None)."""
    return ins_system if ins_system is not None else getattr(db, "ins_system", None)


def session_bundle(db: Database, session: Mapping[str, Any], measurements: Sequence[Mapping[str, Any]],
                   consents: Sequence[Mapping[str, Any]], summary: Mapping[str, Any] | None, *,
                   ins_system: str | None = None) -> dict[str, Any]:
    """The session's transaction Bundle, from everything it is built from, read in the caller's transaction."""
    patient = db.row("patients", session["patient_id"])
    site = db.row("sites", session["site_id"]) if session.get("site_id") else None
    notes = session_notes(db, session["id"])
    staff_ids = {session.get("staff_id"), *(c["recorded_by"] for c in consents), *(n["staff_id"] for n in notes)}
    staff = {sid: db.row("staff", sid) for sid in sorted(s for s in staff_ids if s)}
    return fhir.session_bundle(patient, session, measurements, site=site, staff=staff, consents=consents,
                               notes=notes, summary=summary, ins_system=_authority(db, ins_system))


def close_session(db: Database, session_id: str, *, require_complete: bool = False,
                  ins_system: str | None = None) -> str:
    """Close the session and queue its frozen bundle, in one transaction. Returns the outbox entry id. Closing
    twice, or closing a session without measurements, is refused; so is an incomplete blood pressure reading.
    `require_complete=True` also demands a recorded consent decision and the summary for the patient's own
    doctor (the complete teleconsultation record). `ins_system`: the INS authority of the bundle (None: the store's,
    else the FHIR mapping's default)."""
    outbox_id = new_id()
    with db.transaction():
        session = closable_row(db, session_id)
        measurements = session_measurements(db, session_id)
        if not measurements:
            raise SessionStateError("session.no_measurement", session_id=session_id)
        check_panels(measurements)
        consents = session_consents(db, session_id)
        summary = get_summary(db, session_id)
        if require_complete and not consents:
            raise SessionStateError("session.consent_missing", session_id=session_id)
        if require_complete and summary is None:
            raise SessionStateError("session.summary_missing", session_id=session_id)
        session = mark_closed(db, session, db.stamp())
        supersede_pending(db, session_id)  # the final bundle says it all
        bundle = session_bundle(db, session, measurements, consents, summary, ins_system=ins_system)
        outbox.enqueue(db, entry_id=outbox_id, session_id=session_id, idempotency_key=session["idempotency_key"],
                       payload=fhir.dumps_bundle(bundle).decode("utf-8"), created_at=session["closed_at"])
        freeze_report(db, session_id)
        trace(db, "close", "session", session_id)
    return outbox_id


def add_addendum(db: Database, session_id: str, *, staff_id: str, text: str, ins_system: str | None = None) -> str:
    """A later remark on a CLOSED session, queued in the same transaction as its own frozen bundle, after the
    session's (sync.outbox sends it only once the session's bundle is on the server). Returns the addendum id."""
    with db.transaction():
        addendum, session, author = insert_addendum(db, session_id, staff_id=staff_id, text=text)
        patient = db.row("patients", session["patient_id"])
        bundle = fhir.addendum_bundle(patient, session, addendum, author=author,
                                      ins_system=_authority(db, ins_system))
        outbox.enqueue(db, entry_id=new_id(), session_id=session_id, addendum_id=addendum["id"],
                       idempotency_key=addendum["id"], payload=fhir.dumps_bundle(bundle).decode("utf-8"),
                       created_at=addendum["created_at"])
        freeze_report(db, session_id, addendum_id=addendum["id"])
        trace(db, "change", "session", session_id, "addendum", staff_id=staff_id)
    return addendum["id"]
