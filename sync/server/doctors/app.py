"""The doctors' web application (Starlette, Jinja2 templates): `create_app(settings)` assembles the pages, the
chosen way of signing in, the session cookie, the error pages and the security headers.

Every page answers with a Content-Security-Policy that allows nothing from elsewhere and no inline script (the
one script is static/live.js, which refreshes a session's measurements; W3C CSP Level 3), `Cache-Control:
no-store` (patient data stays out of shared caches, RFC 9111 §5.2.2.5) and no referrer.
A refusal is a French page with its status (and Retry-After when locked out); a FHIR server that cannot be read
gives 503, never a stack trace.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.server.doctors import french
from sync.server.doctors.accounts import AccountBook
from sync.server.doctors.fhir_client import FhirReader, FhirUnavailable
from sync.server.doctors.guard import Refused, SignInRequired
from sync.server.doctors.oidc import OidcSettings, OidcSignIn
from sync.server.doctors.pages import PageContext, Pages
from sync.server.doctors.signin import LocalSignIn, SignInMethod
from sync.server.doctors.viewlog import ViewLog

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
POLICY = ("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
          "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SESSION_SECONDS = 8 * 3600


@dataclass
class DoctorsSettings:
    fhir_base: str
    accounts: str | Path | None
    view_log: str | Path
    fhir_token: str | None = None
    ca_bundle: str | None = None
    session_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    secure_cookies: bool = True
    oidc: OidcSettings | None = None
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] += [(b"content-security-policy", POLICY.encode()),
                                       (b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"),
                                       (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]
            await send(message)
        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(local_time=french.local_time, local_clock=french.local_clock, number=french.number)
    return templates


def create_app(settings: DoctorsSettings) -> Starlette:
    accounts = AccountBook(settings.accounts)
    signin: SignInMethod = OidcSignIn(settings.oidc, accounts) if settings.oidc else LocalSignIn(accounts)
    templates = _templates()
    pages = Pages(PageContext(templates, FhirReader(settings.fhir_base, token=settings.fhir_token,
                                                    ca_bundle=settings.ca_bundle),
                              ViewLog(settings.view_log), signin, settings.clock))

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        if isinstance(exc, SignInRequired) and request.method == "GET":
            return RedirectResponse("/signin", 303)
        response = pages.render(request, "signin.html" if request.url.path == "/signin" else "refused.html",
                                status=exc.status, message=exc.message)
        if exc.retry_after:
            response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return response

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("FHIR server unavailable (%s)", exc)
        return pages.render(request, "refused.html", status=503,
                            message="Le serveur des dossiers ne répond pas : réessayez dans un instant.")

    routes = [Route("/", pages.home), Route("/signin", pages.signin_page, methods=["GET"]), *signin.routes(),
              Route("/signout", pages.signout, methods=["POST"]), Route("/sites/{site}", pages.site),
              Route("/sessions/{encounter_id}", pages.session), Route("/sessions/{encounter_id}/live", pages.live),
              Route("/sessions/{encounter_id}/conclusions", pages.sign, methods=["POST"]),
              Route("/patients/{patient_id}", pages.trends),
              Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    middleware = [Middleware(SecurityHeaders),
                  Middleware(SessionMiddleware, secret_key=settings.session_key, session_cookie="relais_doctors",
                             max_age=SESSION_SECONDS, same_site="lax", https_only=settings.secure_cookies)]
    return Starlette(routes=routes, middleware=middleware,
                     exception_handlers={Refused: refused, FhirUnavailable: unavailable})
