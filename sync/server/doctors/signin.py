"""Signing doctors in, two ways behind one interface (`SignInMethod`): a local account (password and TOTP, for the
embedded development server) or OpenID Connect (Pro Santé Connect in production, sync.server.doctors.oidc). Either
ends in `open_session`, which starts a fresh session holding the doctor and a new CSRF token.
"""
from __future__ import annotations

from typing import Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sync.server.doctors.accounts import AccountBook, Doctor
from sync.server.doctors.guard import Refused, client_address, read_form
from sync.server.tablets import AuthLimiter

SIGNIN_FIELDS = ("account", "password", "code")


class SignInMethod(Protocol):
    """What the sign-in page needs from a way of signing in: its routes, and whether it shows the local form."""

    local_form: bool

    def routes(self) -> list[Route]: ...


def open_session(request: Request, doctor: Doctor) -> Response:
    """A new session (nothing from before sign-in is kept: no session fixation) holding the doctor."""
    request.session.clear()
    request.session["doctor"] = doctor.as_session()
    return RedirectResponse("/", status_code=303)


class Brake:
    """Failed sign-ins counted per client address and per account; either locked out refuses with 429."""

    def __init__(self) -> None:
        self.by_address, self.by_account = AuthLimiter(), AuthLimiter()

    def check(self, address: str, account: str | None = None) -> None:
        wait = max(self.by_address.retry_after(address), self.by_account.retry_after(account) if account else 0)
        if wait > 0:
            raise Refused(429, "Trop d'essais manqués : patientez avant de réessayer.", retry_after=wait)

    def failed(self, address: str, account: str) -> None:
        self.by_address.failed(address)
        self.by_account.failed(account)

    def succeeded(self, address: str, account: str) -> None:
        self.by_address.succeeded(address)
        self.by_account.succeeded(account)


class LocalSignIn:
    """Account id, password and the current TOTP code, posted by the sign-in page's form."""

    local_form = True

    def __init__(self, accounts: AccountBook, brake: Brake | None = None) -> None:
        self.accounts, self.brake = accounts, brake or Brake()

    def routes(self) -> list[Route]:
        return [Route("/signin", self.submit, methods=["POST"])]

    async def submit(self, request: Request) -> Response:
        address = client_address(request)
        self.brake.check(address)
        form = await read_form(request, SIGNIN_FIELDS)
        self.brake.check(address, form["account"])
        doctor = await run_in_threadpool(self.accounts.check_local, form["account"], form["password"], form["code"])
        if doctor is None:
            self.brake.failed(address, form["account"])
            self.brake.check(address, form["account"])
            raise Refused(401, "Identifiant, mot de passe ou code incorrect.")
        self.brake.succeeded(address, form["account"])
        return open_session(request, doctor)
