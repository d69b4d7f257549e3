"""The doctor's pages: the worklist of a site, a session (its live measurements, the doctor's conclusions), a
resident's trends, and the sign-in page.

Each handler checks the signed-in doctor and their site before reading anything, records every view of a
patient's data in the view log (a page once when it loads, not each time its live part refreshes; a signature of
conclusions as a write), and renders a French template. A session or patient of another site is answered like an
unknown one (404); a site the doctor does not serve is refused (403).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from sync.fhir.exchange import ORIENTATIONS_FR, DoctorConclusions
from sync.server.doctors import charts, reading, records, signing
from sync.server.doctors.accounts import Doctor
from sync.server.doctors.fhir_client import FhirReader, FhirRefused
from sync.server.doctors.guard import Refused, csrf_token, read_form, read_text_form, require_doctor, require_site, \
    signed_in
from sync.server.doctors.signin import SignInMethod
from sync.server.doctors.viewlog import ViewLog


@dataclass
class PageContext:
    templates: Jinja2Templates
    reader: FhirReader
    view_log: ViewLog
    signin: SignInMethod
    clock: Callable[[], dt.datetime]


class Pages:
    def __init__(self, context: PageContext) -> None:
        self.c = context

    def render(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        values.update(doctor=signed_in(request), csrf=csrf_token(request), signin=self.c.signin)
        return self.c.templates.TemplateResponse(request, name, values, status_code=status)

    def home(self, request: Request) -> Response:
        doctor = signed_in(request)
        if doctor is None:
            return RedirectResponse("/signin", 303)
        return RedirectResponse(f"/sites/{doctor.sites[0]}" if doctor.sites else "/signin", 303)

    def signin_page(self, request: Request) -> Response:
        return self.render(request, "signin.html")

    async def signout(self, request: Request) -> Response:
        await read_form(request, ())
        request.session.clear()
        return RedirectResponse("/signin", 303)

    def site(self, request: Request) -> Response:
        doctor = require_doctor(request)
        site = request.path_params["site"]
        require_site(doctor, site)
        return self.render(request, "worklist.html", worklist=reading.worklist(self.c.reader, site, self.c.clock()),
                           today=self.c.clock())

    def session(self, request: Request) -> Response:
        doctor = require_doctor(request)
        page = reading.session_page(self.c.reader, doctor, request.path_params["encounter_id"], self.c.clock())
        self._record_view(doctor, page, "session")
        return self._session_page(request, page)

    def _record_view(self, doctor: Doctor, page: reading.SessionPage, what: str) -> None:
        if isinstance(page.patient, (records.PatientView, records.Unreadable)):
            self.c.view_log.record(doctor_id=doctor.id, rpps=doctor.rpps, patient_id=page.patient.id, page=what,
                                   subject_id=page.encounter_id)

    def _session_page(self, request: Request, page: reading.SessionPage, status: int = 200,
                      form: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> Response:
        if form is None:
            last = next((c for c in reversed(page.conclusions) if isinstance(c, DoctorConclusions)), None)
            form = {"conclusion": last.conclusion, "orientation": last.orientation or "",
                    "orientation_detail": last.orientation_detail, "prescriptions": last.prescriptions} \
                if last else {name: "" for name in signing.LIMITS}
        return self.render(request, "session.html", status=status, page=page, live=page.measurements,
                           printed_at=self.c.clock(), form=form, errors=errors or {}, orientations=ORIENTATIONS_FR,
                           limits=signing.LIMITS)

    def live(self, request: Request) -> Response:
        """The measurements part alone, fetched every few seconds by static/live.js (not a view of its own)."""
        doctor = require_doctor(request)
        scoped = reading.scoped_encounter(self.c.reader, doctor, request.path_params["encounter_id"])
        task = reading.session_request(self.c.reader, scoped)
        return self.render(request, "live.html", live=reading.live_part(self.c.reader, scoped, task, self.c.clock()))

    async def sign(self, request: Request) -> Response:
        """The doctor's conclusions, written in one transaction; the session page again, with them. The form is
        read here; the FHIR exchanges (blocking) run in the thread pool, like the other pages."""
        doctor = require_doctor(request)
        values = await read_text_form(request, signing.LIMITS)
        return await run_in_threadpool(self._sign, request, doctor, values)

    def _sign(self, request: Request, doctor: Doctor, values: dict[str, str]) -> Response:
        encounter_id = request.path_params["encounter_id"]
        scoped = reading.scoped_encounter(self.c.reader, doctor, encounter_id)
        signing.check_signer(doctor, scoped)
        errors = signing.form_errors(values)
        if errors:
            page = reading.session_page(self.c.reader, doctor, encounter_id, self.c.clock())
            self._record_view(doctor, page, "session")
            return self._session_page(request, page, 400, values, errors)
        now = self.c.clock()
        conclusions = signing.signed(doctor, scoped, values, now)
        task = reading.session_request(self.c.reader, scoped)
        try:
            self.c.reader.transaction(signing.conclusions_bundle(conclusions, scoped, task, doctor, now))
        except FhirRefused as refused:
            raise Refused(502, "Le serveur des dossiers a refusé les conclusions : rien n'a été enregistré. "
                               "Réessayez ou prévenez l'administrateur.") from refused
        self.c.view_log.record(doctor_id=doctor.id, rpps=doctor.rpps, patient_id=str(scoped.patient_id),
                               page="conclusions", subject_id=encounter_id)
        return RedirectResponse(f"/sessions/{encounter_id}#conclusions", 303)

    def trends(self, request: Request) -> Response:
        doctor = require_doctor(request)
        now = self.c.clock()
        patient_id = request.path_params["patient_id"]
        resource = reading.patient_at_doctors_site(self.c.reader, doctor, patient_id)
        history = reading.patient_history(self.c.reader, patient_id, now)
        self.c.view_log.record(doctor_id=doctor.id, rpps=doctor.rpps, patient_id=patient_id, page="trends",
                               subject_id=patient_id)
        drawn = [(s, Markup(charts.svg(s, now))) for s in charts.series_of(history)]
        return self.render(request, "trends.html", patient=records.patient_view(resource, now.date()),
                           charts=drawn, unreadable=[m for m in history if isinstance(m, records.Unreadable)],
                           printed_at=now)
