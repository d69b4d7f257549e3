"""Signing in with OpenID Connect (OpenID Connect Core 1.0), as Pro Santé Connect, the French health
professionals' identity federation, offers it (https://industriels.esante.gouv.fr/produits-et-services/pro-sante-connect).

- the provider's endpoints come from its discovery document (OpenID Connect Discovery 1.0; Pro Santé Connect
  publishes it under a non-standard name, so the URL is configured whole);
- authorization code flow with PKCE S256 (RFC 7636), `state` against forged callbacks and `nonce` against replayed
  ID tokens (Core §3.1.2.1), both kept in the signed session;
- the ID token is validated with joserfc: RS256 signature against the provider's JWKS, `iss`, `aud`, `exp`, `nonce`,
  and `acr` when a level is required (Pro Santé Connect's connector asks `acr_values=eidas1`);
- the RPPS comes from the claims: `SubjectNameID` or `preferred_username` (Pro Santé Connect's national id, the
  IDNAT_PS "8" + RPPS) or `sub`; the doctor must also have a Relais account for that RPPS, which says their sites.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sync.server.doctors.accounts import AccountBook, Doctor
from sync.server.doctors.guard import Refused
from sync.server.doctors.signin import open_session

RPPS_CLAIMS = ("SubjectNameID", "preferred_username", "sub")


@dataclass
class OidcSettings:
    discovery_url: str
    client_id: str
    client_secret: str
    scope: str = "openid profile"
    acr_values: str | None = None  # "eidas1" for Pro Santé Connect
    ca_bundle: str | None = None
    _metadata: dict[str, Any] = field(default_factory=dict, repr=False)


def rpps_of(claims: dict[str, Any]) -> str | None:
    """The 11-digit RPPS in the first claim holding one ("8" + RPPS, the national id, counts too)."""
    for name in RPPS_CLAIMS:
        value = str(claims.get(name) or "")
        if len(value) == 12 and value.startswith("8") and value.isdigit():
            return value[1:]
        if len(value) == 11 and value.isdigit():
            return value
    return None


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class OidcSignIn:
    local_form = False

    def __init__(self, settings: OidcSettings, accounts: AccountBook) -> None:
        self.settings, self.accounts = settings, accounts
        self._http = httpx.Client(timeout=15.0, verify=settings.ca_bundle or True)

    def routes(self) -> list[Route]:
        return [Route("/signin/oidc", self.start), Route("/signin/callback", self.callback, name="oidc_callback")]

    def _metadata(self) -> dict[str, Any]:
        if not self.settings._metadata:
            try:
                self.settings._metadata.update(self._http.get(self.settings.discovery_url).raise_for_status().json())
            except (httpx.HTTPError, ValueError):
                raise Refused(503, "Le service d'identification ne répond pas.") from None
        return self.settings._metadata

    def start(self, request: Request) -> Response:
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        request.session["oidc"] = {"state": state, "nonce": nonce, "verifier": verifier}
        params = {"response_type": "code", "client_id": self.settings.client_id, "scope": self.settings.scope,
                  "redirect_uri": str(request.url_for("oidc_callback")), "state": state, "nonce": nonce,
                  "code_challenge": _challenge(verifier), "code_challenge_method": "S256"}
        if self.settings.acr_values:
            params["acr_values"] = self.settings.acr_values
        return RedirectResponse(f"{self._metadata()['authorization_endpoint']}?{urlencode(params)}", 303)

    def callback(self, request: Request) -> Response:
        pending = request.session.pop("oidc", None)
        code, state = request.query_params.get("code"), request.query_params.get("state")
        if not isinstance(pending, dict) or not code or not state \
                or not secrets.compare_digest(str(pending.get("state")), state):
            raise Refused(400, "Retour d'identification invalide : recommencez la connexion.")
        claims = self._claims(self._exchange(request, code, pending["verifier"]), pending["nonce"])
        rpps = rpps_of(claims)
        doctor = self.accounts.by_rpps(rpps) if rpps else None
        if doctor is None:
            raise Refused(403, "Aucun compte Relais n'est ouvert pour ce professionnel.")
        return open_session(request, Doctor(doctor.id, doctor.name, doctor.rpps, doctor.sites))

    def _exchange(self, request: Request, code: str, verifier: str) -> str:
        meta = self._metadata()
        try:
            reply = self._http.post(meta["token_endpoint"], auth=(self.settings.client_id, self.settings.client_secret),
                                    data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                          "redirect_uri": str(request.url_for("oidc_callback"))})
            token = reply.raise_for_status().json()["id_token"]
        except (httpx.HTTPError, ValueError, KeyError):
            raise Refused(401, "Le service d'identification a refusé la connexion.") from None
        return str(token)

    def _claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        meta = self._metadata()
        try:
            keys = KeySet.import_key_set(self._http.get(meta["jwks_uri"]).raise_for_status().json())
            token = jwt.decode(id_token, keys, algorithms=["RS256"])
            options: dict[str, Any] = {"iss": {"essential": True, "value": meta["issuer"]},
                                       "aud": {"essential": True, "value": self.settings.client_id},
                                       "exp": {"essential": True}, "nonce": {"essential": True, "value": nonce}}
            if self.settings.acr_values:
                options["acr"] = {"essential": True, "values": self.settings.acr_values.split()}
            jwt.JWTClaimsRegistry(leeway=60, **options).validate(token.claims)
        except (JoseError, httpx.HTTPError, ValueError, KeyError):
            raise Refused(401, "Jeton d'identité invalide : connexion refusée.") from None
        return dict(token.claims)
