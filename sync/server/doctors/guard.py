"""What every request of the doctors' application goes through: the signed-in doctor, the CSRF token of forms,
bounded form reading, and the brake on guessing passwords.

- The session is Starlette's signed cookie (itsdangerous): HttpOnly, SameSite=Lax (the OpenID Connect callback is
  a top-level cross-site navigation: Strict would drop the cookie holding the state), Secure outside loopback.
- Forms are bounded: 8 KB and 256 characters a field, except the doctor's texts (read_text_form) sized by their
  own limits.
- CSRF: a random per-session token in a hidden field of every form, compared in constant time on every POST
  (OWASP CSRF Prevention Cheat Sheet, "synchronizer token pattern"); a missing or wrong one is refused with 403
  before anything is read or stored.
- Lock-out: the tablets' brake (sync.server.tablets.AuthLimiter) applied twice, per account and per client
  address: from the 5th failure in a minute, 429 with Retry-After (RFC 6585 §4).
"""
from __future__ import annotations

import secrets
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from sync.server.doctors.accounts import Doctor

MAX_FORM_BYTES = 8 * 1024
MAX_FIELD_CHARS = 256


class Refused(Exception):
    """A request refused with a status and a French message for the page (and Retry-After when locked out)."""

    def __init__(self, status: int, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


class SignInRequired(Refused):
    """No doctor is signed in: a page asks for the sign-in page instead of showing anything."""


def signed_in(request: Request) -> Doctor | None:
    return Doctor.from_session(request.session.get("doctor"))


def require_doctor(request: Request) -> Doctor:
    doctor = signed_in(request)
    if doctor is None:
        raise SignInRequired(401, "Connectez-vous pour voir les dossiers.")
    return doctor


def require_site(doctor: Doctor, site: str) -> None:
    if site not in doctor.sites:
        raise Refused(403, "Ce site ne fait pas partie des sites que vous servez.")


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def _checked_form(request: Request, max_bytes: int, max_fields: int) -> FormData:
    """The parsed form once its size and its CSRF token are checked (413, 400, 403 otherwise)."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > max_bytes:
        raise Refused(413, "Formulaire trop volumineux.")
    try:
        form: FormData = await request.form(max_files=0, max_fields=max_fields, max_part_size=max_bytes)
    except Exception:  # python-multipart's and Starlette's parse errors: a malformed form
        raise Refused(400, "Formulaire illisible.") from None
    expected = request.session.get("csrf")
    given = form.get("csrf")
    if not isinstance(expected, str) or not isinstance(given, str) or not secrets.compare_digest(expected, given):
        raise Refused(403, "Jeton de formulaire invalide : rechargez la page et recommencez.")
    return form


async def read_form(request: Request, fields: tuple[str, ...]) -> dict[str, str]:
    """The form's fields after the CSRF check: refused when too big, a field is missing, empty or too long."""
    form = await _checked_form(request, MAX_FORM_BYTES, len(fields) + 2)
    values: dict[str, Any] = {}
    for name in fields:
        value = form.get(name)
        if not isinstance(value, str) or not value.strip():
            raise Refused(400, "Champ manquant : remplissez tous les champs.")
        if len(value) > MAX_FIELD_CHARS:
            raise Refused(400, "Champ trop long.")
        values[name] = value.strip()
    return values


async def read_text_form(request: Request, limits: dict[str, int]) -> dict[str, str]:
    """A form of longer texts (the doctor's conclusions): each field as typed, line ends as LF, "" when absent;
    the body may hold every field at its limit in any script (UTF-8 percent-encoded: up to 12 bytes a character).
    Checking each value against its limit is the caller's, so the page can say which field is wrong."""
    form = await _checked_form(request, 12 * sum(limits.values()) + 1024, len(limits) + 2)
    values = {}
    for name in limits:
        value = form.get(name)
        values[name] = value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""
    return values


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"
