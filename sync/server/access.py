"""Who is asking the development server: the bearer token names a tablet (RFC 6750), and repeated failures lock
the client address out for a while (429 with Retry-After, RFC 6585 §4).

The registry of tablets and the lock-out brake are in sync.server.tablets; this module applies them to one request
and answers with a FhirError (401, 429) before anything is read or stored. What the tablet may then see and write
(its own sites only) is sync.server.sites.
"""
from __future__ import annotations

import logging
from typing import Any

from sync.fhir import FINESS_SYSTEM, SITE_ID_SYSTEM
from sync.server.outcome import FhirError
from sync.server.tablets import AuthLimiter, Tablet, TabletRegistry

log = logging.getLogger(__name__)


def authenticate(registry: TabletRegistry, limiter: AuthLimiter, address: str, authorization: str | None) -> Tablet:
    """The tablet behind this `Authorization` header; 401 without a valid one, 429 while `address` is locked out
    after repeated failures."""
    wait = limiter.retry_after(address)
    if wait > 0:
        raise FhirError(429, "too many failed authentications: wait before trying again", "throttled",
                        retry_after=wait)
    tablet = registry.authenticate(authorization or "")
    if tablet is None:
        # a request without credentials guesses nothing (a browser opening the page): only wrong ones count
        if authorization and limiter.failed(address):
            log.warning("authentication: %s locked out after repeated failures", address)
        raise FhirError(401, "missing or invalid bearer token", "login")
    limiter.succeeded(address)
    return tablet


def site_identifiers(organization: dict[str, Any]) -> set[str]:
    """The FINESS numbers and local site ids an Organization carries."""
    return {str(i.get("value")) for i in organization.get("identifier") or () if isinstance(i, dict)
            and i.get("system") in (FINESS_SYSTEM, SITE_ID_SYSTEM)}
