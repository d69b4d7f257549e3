"""Who may write what on the development server: the bearer token names a tablet (RFC 6750), repeated failures lock
the client address out for a while (429 with Retry-After, RFC 6585 §4), and a tablet writes only for its own sites.

The registry of tablets and the lock-out brake are in sync.server.tablets; this module applies them to one request
and answers with a FhirError (401, 403, 429) before anything is read or stored.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

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


def check_sites(tablet: Tablet | None, resources: list[Any],
                read: Callable[[str, str], dict[str, Any] | None]) -> None:
    """A tablet writes only for its own sites: every Organization the upload carries or points to must be one of
    them (FINESS or local site id). 403 otherwise, before anything is stored. `read(type, id)`: a stored
    resource, for references to Organizations the server already holds."""
    if tablet is None or tablet.sites is None:
        return
    organisations: list[set[str]] = []
    for resource in resources:
        if isinstance(resource, dict) and resource.get("resourceType") == "Organization":
            organisations.append(site_identifiers(resource))
    for reference in references(resources):
        if reference.startswith("Organization/"):
            stored = read("Organization", reference.split("/", 2)[1])
            organisations.append(site_identifiers(stored) if stored else {reference})
        elif reference.startswith("Organization?"):
            _, _, value = reference.partition("|")
            organisations.append({value})
    for identifiers in organisations:
        if not tablet.may_write_for(identifiers):
            log.warning("authentication: tablet %s refused for a site it is not registered for", tablet.id)
            raise FhirError(403, f"tablet {tablet.id} is not registered for this site", "forbidden")


def site_identifiers(organization: dict[str, Any]) -> set[str]:
    """The FINESS numbers and local site ids an Organization carries."""
    return {str(i.get("value")) for i in organization.get("identifier") or () if isinstance(i, dict)
            and i.get("system") in (FINESS_SYSTEM, SITE_ID_SYSTEM)}


def references(value: Any) -> list[str]:
    """Every `reference` string anywhere in these resources."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str):
                found.append(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
