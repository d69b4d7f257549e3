"""A small FHIR search client for the pull: GET a search, read a searchset Bundle, count requests and bytes.

The same rules as the uploader (sync.uploader): https, or plain http to this machine only; TLS verification always
on (a CA file for a private PKI is the only knob); the tablet's bearer token; timeouts; no redirects followed (a
Wi-Fi login page is not a FHIR server). Decimals are read exactly (sync.fhir.loads), so a pulled "36.90" stays
36.90. Anything but HTTP 200 with a searchset Bundle is a `PullError`: the caller stores nothing from it.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from sync import fhir
from sync.errors import RelaisError
from sync.uploader import FHIR_JSON, check_server_url


class PullError(RelaisError):
    """The server could not be read: `pull.network`, `pull.tls`, `pull.auth`, `pull.http`, `pull.not_fhir`."""


class SearchClient:
    """GETs searches under one FHIR base URL; `requests_made` and `bytes_received` count what it did."""

    def __init__(self, base_url: str, *, token: str | None = None, ca_bundle: str | None = None,
                 connect_timeout: float = 5, read_timeout: float = 60, http: requests.Session | None = None) -> None:
        if ca_bundle is not None and not isinstance(ca_bundle, str):
            raise TypeError("ca_bundle must be a path; TLS verification cannot be disabled")
        check_server_url(base_url)
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.verify: bool | str = ca_bundle or True
        self.timeout = (connect_timeout, read_timeout)
        self.http = http or requests.Session()
        self.requests_made = 0
        self.bytes_received = 0

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def search(self, url: str, params: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """The searchset Bundle at `url` (a path under the base, or an absolute `next` link of the same server)."""
        if not url.startswith(("http://", "https://")):
            url = self.url(url)
        elif urlsplit(url).netloc != urlsplit(self.base_url).netloc:
            raise PullError("pull.foreign_link")  # a next link elsewhere: the token must not follow it
        try:
            self.requests_made += 1
            response = self.http.get(url, params=params, headers=self._headers(), timeout=self.timeout,
                                     verify=self.verify, allow_redirects=False)
        except requests.exceptions.SSLError:
            raise PullError("pull.tls") from None
        except requests.RequestException as exc:
            raise PullError("pull.network", error=type(exc).__name__) from None
        self.bytes_received += len(response.content)
        if response.status_code in (401, 403):
            raise PullError("pull.auth", status=response.status_code)
        if response.status_code != 200:
            raise PullError("pull.http", status=response.status_code)
        try:
            bundle = fhir.loads(response.content)
        except ValueError:
            bundle = None
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or bundle.get("type") != "searchset":
            raise PullError("pull.not_fhir")
        return bundle


def next_link(bundle: dict[str, Any]) -> str | None:
    """The `next` link of a searchset (FHIR R4 Bundle.link, relation "next"), None on the last page."""
    for link in bundle.get("link") or ():
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


def split_entries(bundle: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(matches, included) resources of a searchset page; entries without a resource are dropped."""
    matches, included = [], []
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        mode = (entry.get("search") or {}).get("mode") if isinstance(entry.get("search"), dict) else None
        (included if mode == "include" else matches).append(resource)
    return matches, included
