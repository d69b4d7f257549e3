"""Sending an open session to the remote doctor: the request, then the session so far after each measurement.

Staff start the call (teleconsultation) or ask for advice without a call (téléexpertise): the session so far goes
to the server with the request (a FHIR Task, sync.fhir.exchange), and every measurement accepted after that sends
the session so far again, so the doctor sees the values within seconds. Each send is a "session so far" bundle
(sync.fhir.bundle, `live=True`) frozen into the live outbox (sync.store.live) in the transaction that read the
session; the uploader sends it before the closed sessions' bundles. Like sync.closing, this module sits above both
the store and the FHIR mapping: the store never builds FHIR.
"""
from __future__ import annotations

from typing import Any, Mapping

from sync import fhir
import sync.store.live as live_rows
from sync.store.consents import consents as session_consents
from sync.store.database import Database
from sync.store.errors import SessionStateError
from sync.store.measurements import measurements as session_measurements


def live_bundle(db: Database, session: Mapping[str, Any]) -> dict[str, Any]:
    """The session so far, read in the caller's transaction: Patient, Observations, Encounter in progress, the
    request's Task, Consents and the shared resources, every entry a conditional create."""
    patient = db.row("patients", session["patient_id"])
    site = db.row("sites", session["site_id"]) if session.get("site_id") else None
    consents = session_consents(db, session["id"])
    staff_ids = {session.get("staff_id"), *(c["recorded_by"] for c in consents)}
    staff = {sid: db.row("staff", sid) for sid in sorted(s for s in staff_ids if s)}
    return fhir.session_bundle(patient, session, session_measurements(db, session["id"]), site=site, staff=staff,
                               consents=consents, ins_system=getattr(db, "ins_system", None), live=True)


def _queue_now(db: Database, session: Mapping[str, Any]) -> str:
    payload = fhir.dumps_bundle(live_bundle(db, session)).decode("utf-8")
    return live_rows.queue(db, session["id"], payload)


def send_request(db: Database, session_id: str, *, kind: str) -> str:
    """Ask a remote doctor (`kind`: teleconsultation or teleexpertise, sync.fhir.exchange.REQUEST_KINDS): the
    session so far with its request is queued for the server. A second call for the same session creates no second
    request (the Task is the session's one): it queues the session so far again. Refused for a closed or abandoned
    session, or one without a patient or a staff member (SessionStateError). Returns the live send's id."""
    with db.transaction():
        session = live_rows.mark_requested(db, session_id, kind)
        return _queue_now(db, session)


def queue_live_update(db: Database, session_id: str) -> str | None:
    """The session so far queued again (a measurement was accepted), superseding the send still waiting. None when
    no request was sent for the session or it is no longer open: nothing to tell the doctor live."""
    with db.transaction():
        session = db.row("sessions", session_id)
        if session["state"] != "open" or not session.get("request_kind"):
            return None
        try:
            live_rows.requestable_row(db, session_id)
        except SessionStateError:
            return None
        return _queue_now(db, session)
