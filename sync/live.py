"""Sending an open session to the remote doctor: the request, then the session so far after each measurement.

Staff start the call (teleconsultation) or ask for advice without a call (téléexpertise): the request is queued in
the live outbox (sync.store.live, through the Store's `send_request`), and every measurement accepted after that
queues the session so far again, so the doctor sees the values within seconds. The bundle of a send is built here
(sync.fhir.bundle, `live=True`) when the uploader first claims it (sync.live_pass), and frozen in its row: like
sync.closing, this module sits above both the store and the FHIR mapping, and the store never builds FHIR.
"""
from __future__ import annotations

from typing import Any, Mapping

import sync.store.live as live_rows
from sync import fhir
from sync.store.consents import consents as session_consents
from sync.store.database import Database
from sync.store.measurements import measurements as session_measurements


def live_bundle(db: Database, session: Mapping[str, Any]) -> dict[str, Any]:
    """The session so far, read in the caller's transaction: Patient, Observations, Encounter (in progress while
    the session is open), the request's Task, Consents and the shared resources, every entry a conditional
    create. An abandoned session's last send only withdraws the request: its Encounter and Task cancelled, no
    values (an abandoned session is never uploaded; what the doctor was already sent stays on the server)."""
    patient = db.row("patients", session["patient_id"])
    site = db.row("sites", session["site_id"]) if session.get("site_id") else None
    withdrawn = session["state"] == "abandoned"
    consents = [] if withdrawn else session_consents(db, session["id"])
    measurements = [] if withdrawn else session_measurements(db, session["id"])
    staff_ids = {session.get("staff_id"), *(c["recorded_by"] for c in consents)}
    staff = {sid: db.row("staff", sid) for sid in sorted(s for s in staff_ids if s)}
    return fhir.session_bundle(patient, session, measurements, site=site, staff=staff,
                               consents=consents, ins_system=getattr(db, "ins_system", None), live=True)


def freeze(db: Database, send_id: str) -> live_rows.LiveSend:
    """The send with its bundle frozen: built now from the session as it is, unless it was built already."""
    send = live_rows.get_send(db, send_id)
    if send.payload is not None:
        return send
    with db.transaction():
        session = db.row("sessions", send.session_id)
        payload = fhir.dumps_bundle(live_bundle(db, session)).decode("utf-8")
        return live_rows.freeze_payload(db, send_id, payload)
