"""Signing doctors in, over real HTTP: a local account (scrypt password and TOTP, a code used once only), OpenID
Connect against a local provider (oidc-provider-mock, as Pro Santé Connect would answer), the session cookie's
flags, CSRF on every form, bad forms refused, and the lock-out after repeated failures."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pyotp
import pytest
import requests
from sync.server.doctors.app import DoctorsSettings, create_app, is_loopback
from sync.server.doctors.oidc import OidcSettings
from sync.server.doctors.serve import BackgroundServer, bind
from sync.server.doctors.signin import Brake
from tests.server.doctors.conftest import PASSWORD, serve_doctors

# the provider mock (a test tool) runs on Authlib's deprecated modules
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the provider mock imports Authlib's deprecated jose module
    from oidc_provider_mock import User, run_server_in_thread


def form(doctors, session, **fields):
    return session.post(doctors.url + "/signin", data={"csrf": doctors.csrf(session), **fields}, timeout=10)


def signed_in(doctors, session) -> bool:
    return session.get(doctors.url + "/", timeout=10, allow_redirects=False).headers["Location"] != "/signin"


def test_local_sign_in_sets_a_strict_cookie_and_refuses_a_replayed_code(record, doctors):
    account, secret = doctors.account(record.site_a)
    code = pyotp.TOTP(secret).now()
    session = requests.Session()
    reply = form(doctors, session, account=account, password=PASSWORD, code=code)
    assert reply.status_code == 200 and reply.url.endswith(f"/sites/{record.site_a}")
    cookie = reply.history[0].headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # loopback: plain http
    again = requests.Session()
    replay = form(doctors, again, account=account, password=PASSWORD, code=code)
    assert replay.status_code == 401 and "incorrect" in replay.text and not signed_in(doctors, again)


def test_a_cookie_is_secure_outside_loopback(record, tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("192.0.2.10")
    settings = DoctorsSettings(record.url, tmp_path / "d.json", tmp_path / "v.sqlite", secure_cookies=True)
    secure = BackgroundServer(create_app(settings), bind("127.0.0.1", 0)).start()
    try:
        assert "; secure" in requests.get(secure.url + "/signin", timeout=10).headers["set-cookie"].lower()
    finally:
        secure.stop()


@pytest.mark.parametrize("fields, status", [
    ({"password": PASSWORD, "code": "123456"}, 400),                      # account missing
    ({"account": "x", "password": "", "code": "123456"}, 400),             # empty password
    ({"account": "x" * 300, "password": PASSWORD, "code": "123456"}, 400),  # a field too long
    ({"account": "x", "password": "p" * 9000, "code": "123456"}, 413),     # the form too big
])
def test_bad_sign_in_forms_are_refused_clearly(doctors, fields, status):
    session = requests.Session()
    reply = form(doctors, session, **fields)
    assert reply.status_code == status and 'class="message"' in reply.text
    assert not signed_in(doctors, session)


def test_a_forged_or_missing_csrf_token_is_refused_and_nothing_happens(record, doctors):
    account, secret = doctors.account(record.site_a)
    session = requests.Session()
    doctors.csrf(session)
    code = pyotp.TOTP(secret).now()
    for token in ("forged", None):
        data = {"account": account, "password": PASSWORD, "code": code}
        if token:
            data["csrf"] = token
        reply = session.post(doctors.url + "/signin", data=data, timeout=10)
        assert reply.status_code == 403 and "Jeton de formulaire invalide" in reply.text
        assert not signed_in(doctors, session)
    # refused before anything was read: the code was not used up
    assert form(doctors, session, account=account, password=PASSWORD, code=code).status_code == 200
    assert signed_in(doctors, session)
    signed = doctors.sign_in(record.site_a)
    assert signed.post(doctors.url + "/signout", data={"csrf": "forged"}, timeout=10).status_code == 403
    assert signed_in(doctors, signed)
    signed.post(doctors.url + "/signout", data={"csrf": doctors.csrf(signed, f"/sites/{record.site_a}")},
                timeout=10)
    assert not signed_in(doctors, signed)


def test_repeated_failures_lock_out_with_retry_after(record, tmp_path):
    server, doctors = serve_doctors(record.url, tmp_path)  # its own brake: the shared app stays usable
    try:
        account, secret = doctors.account(record.site_a)
        session = requests.Session()
        statuses = [form(doctors, session, account=account, password="wrong password", code="000000").status_code
                    for _ in range(5)]
        assert statuses == [401, 401, 401, 401, 429]
        locked = form(doctors, session, account=account, password=PASSWORD, code=pyotp.TOTP(secret).now())
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1
        assert not signed_in(doctors, session)
    finally:
        server.stop()


def test_the_brake_counts_per_account_and_per_address():
    brake = Brake()
    for n in range(5):
        brake.failed(f"192.0.2.{n}", "dr-target")   # five addresses, one account
    with pytest.raises(Exception) as locked:
        brake.check("198.51.100.1", "dr-target")
    assert locked.value.status == 429
    brake.check("198.51.100.1", "dr-other")          # another account from a fresh address: allowed


def test_doctors_add_prints_the_enrolment_secret_once_and_keeps_only_hashes(tmp_path):
    accounts = tmp_path / "doctors.json"
    command = [sys.executable, "-m", "sync", "doctors", "add", "--file", str(accounts), "--id", "dr-demo",
               "--name", "Dr Claire Démo", "--rpps", "10000000025", "--site", "000000018", "--site", "000000026"]
    done = subprocess.run(command, input="un mot de passe assez long\n", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.split("secret TOTP : ")[1].split()[0]
    assert f"otpauth://totp/Relais%20M%C3%A9decins:dr-demo?secret={secret}" in done.stdout
    [entry] = json.loads(accounts.read_text())["doctors"]
    assert entry["sites"] == ["000000018", "000000026"] and "un mot de passe" not in accounts.read_text()
    assert set(entry["password"]) == {"scrypt", "salt", "n", "r", "p"}
    short = subprocess.run(command, input="court\n", capture_output=True, text=True, timeout=60)
    assert short.returncode == 2 and "12 characters" in short.stderr


@pytest.fixture(scope="module")
def provider():
    users = [User(sub="f-123", claims={"SubjectNameID": "810000000033", "acr": "eidas1", "name": "Dr Jean Démo"}),
             User(sub="f-456", claims={"SubjectNameID": "810000000041", "name": "Dr Sans Niveau"}),
             User(sub="f-789", claims={"SubjectNameID": "810000000058", "acr": "eidas1"})]
    with run_server_in_thread(port=0, user_claims=users, require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def oidc_doctors(record, provider, tmp_path_factory):
    settings = OidcSettings(f"{provider}/.well-known/openid-configuration", "relais-doctors", "secret",
                            acr_values="eidas1")
    server, doctors = serve_doctors(record.url, tmp_path_factory.mktemp("oidc"), oidc=settings)
    for rpps in ("10000000033", "10000000041"):
        doctors.accounts.add(f"dr-{rpps}", "Dr Jean Démo", rpps, [record.site_a], PASSWORD)
    yield doctors
    server.stop()


def oidc_sign_in(doctors, sub: str, *, state: str | None = None) -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    to_provider = session.get(doctors.url + "/signin/oidc", timeout=10, allow_redirects=False)
    assert to_provider.status_code == 303
    authorize = to_provider.headers["Location"]
    assert "code_challenge_method=S256" in authorize and "nonce=" in authorize and "acr_values=eidas1" in authorize
    back = requests.post(authorize, data={"sub": sub}, timeout=10, allow_redirects=False).headers["Location"]
    if state is not None:
        back = back.split("&state=")[0].split("?state=")[0] + ("&" if "?" in back else "?") + f"state={state}"
    return session, session.get(back, timeout=10)


def test_openid_connect_signs_a_doctor_in_by_their_rpps(record, oidc_doctors):
    page = oidc_doctors.url + "/signin"
    assert "Se connecter avec Pro Santé Connect" in requests.get(page, timeout=10).text
    session, reply = oidc_sign_in(oidc_doctors, "f-123")
    assert reply.status_code == 200 and reply.url.endswith(f"/sites/{record.site_a}") and "RPPS 10000000033" in reply.text


@pytest.mark.parametrize("sub, state, status", [
    ("f-456", None, 401),        # no acr: below the required level
    ("f-789", None, 403),        # a valid identity without a Relais account
    ("f-123", "forged", 400),    # a callback that this browser did not start
])
def test_openid_connect_refusals(oidc_doctors, sub, state, status):
    session, reply = oidc_sign_in(oidc_doctors, sub, state=state)
    assert reply.status_code == status and 'class="message"' in reply.text
    assert not signed_in(oidc_doctors, session)
