"""The doctor's pages: the worklist of a site, a session, a resident's trends, and the sign-in page.

Each handler checks the signed-in doctor and their site before reading anything, records every view of a
patient's data in the view log, and renders a French template. A session or patient of another site is answered
like an unknown one (404); a site the doctor does not serve is refused (403).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from sync.server.doctors import charts, reading, records
from sync.server.doctors.fhir_client import FhirReader
from sync.server.doctors.guard import csrf_token, read_form, require_doctor, require_site, signed_in
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
        now = self.c.clock()
        page = reading.session_page(self.c.reader, doctor, request.path_params["encounter_id"], now.date())
        patient = page.patient
        if isinstance(patient, (records.PatientView, records.Unreadable)):
            self.c.view_log.record(doctor_id=doctor.id, rpps=doctor.rpps, patient_id=patient.id, page="session",
                                   subject_id=page.encounter_id)
        return self.render(request, "session.html", page=page, printed_at=now)

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
