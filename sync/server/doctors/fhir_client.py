"""The doctors' application reads the record only through the FHIR R4 REST API of the configured server (read,
search, and the one write it makes: a transaction Bundle, http://hl7.org/fhir/R4/http.html), so it works in front
of the development server and of any other FHIR server (tested with Medplum's engine).

TLS verification stays on (a private CA file may be given); the server token, when the FHIR server needs one, goes
in `Authorization: Bearer` (RFC 6750). Searches follow the Bundle's `next` links (R4 "Paging") up to a cap, and
decimals are kept exact (sync.fhir.loads). A server that cannot be read raises `FhirUnavailable`; the pages say
so instead of answering 500.
"""
from __future__ import annotations

from typing import Any

import httpx

from sync.fhir import dumps, loads

MAX_PAGES = 20


class FhirUnavailable(Exception):
    """The FHIR server did not answer, or answered something that is not the expected JSON."""


class FhirRefused(Exception):
    """The FHIR server answered a write with an error: nothing of the transaction was stored (R4 "transaction":
    all or nothing). Carries the status only: the OperationOutcome may quote patient data."""

    def __init__(self, status: int) -> None:
        super().__init__(f"transaction refused: {status}")
        self.status = status


class FhirReader:
    def __init__(self, base_url: str, *, token: str | None = None, ca_bundle: str | None = None,
                 timeout: float = 15.0) -> None:
        headers = {"Accept": "application/fhir+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(headers=headers, timeout=timeout, verify=ca_bundle or True)

    def close(self) -> None:
        self._client.close()

    def _get(self, url: str, params: Any = None) -> tuple[int, Any]:
        try:
            reply = self._client.get(url, params=params)
            body = loads(reply.content) if reply.content else None
        except (httpx.HTTPError, ValueError) as exc:
            raise FhirUnavailable(type(exc).__name__) from None
        return reply.status_code, body

    def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a transaction Bundle; the transaction-response Bundle, FhirRefused when the server said no."""
        try:
            reply = self._client.post(self.base_url, content=dumps(bundle).encode("utf-8"),
                                      headers={"Content-Type": "application/fhir+json"})
            body = loads(reply.content) if reply.content else None
        except (httpx.HTTPError, ValueError) as exc:
            raise FhirUnavailable(type(exc).__name__) from None
        if reply.status_code >= 300:
            raise FhirRefused(reply.status_code)
        if not isinstance(body, dict) or body.get("type") != "transaction-response":
            raise FhirUnavailable(f"transaction: {reply.status_code}")
        return body

    def read(self, rtype: str, rid: str) -> dict[str, Any] | None:
        """One resource, None when the server has none with this id (404/410)."""
        status, body = self._get(f"{self.base_url}/{rtype}/{rid}")
        if status in (404, 410):
            return None
        if status != 200 or not isinstance(body, dict) or body.get("resourceType") != rtype:
            raise FhirUnavailable(f"read {rtype}: {status}")
        return body

    def search(self, rtype: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every resource of every page (matches and includes), at most MAX_PAGES pages."""
        status, body = self._get(f"{self.base_url}/{rtype}", params)
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if status != 200 or not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                raise FhirUnavailable(f"search {rtype}: {status}")
            found += [e["resource"] for e in body.get("entry") or []
                      if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
            following = next((link.get("url") for link in body.get("link") or []
                              if isinstance(link, dict) and link.get("relation") == "next"), None)
            if not following:
                break
            status, body = self._get(following)
        return found
