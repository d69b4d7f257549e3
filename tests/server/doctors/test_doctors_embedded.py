"""`python -m sync serve --doctors FILE` serves the doctors' application beside the development FHIR server: `/`
leads to its sign-in, and it reads the FHIR server with a token of its own when tablets need theirs."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pyotp
import requests

from sync.seed import seed_sessions
from sync.server.doctors.accounts import AccountBook
from sync.server.tablets import add_tablet
from sync.store import Store
from sync.uploader import Uploader
from tests.server.doctors.conftest import PASSWORD
from tests.support.servers import PROJECT_ROOT, DevServer


def test_serve_with_doctors_and_tablet_tokens(tmp_path):
    token = add_tablet(tmp_path / "tablets.json", "ehpad-demo-1", ["000000018"])
    secret, _ = AccountBook(tmp_path / "doctors.json").add("dr-demo", "Dr Claire Démo", "10000000025",
                                                           ["000000018"], PASSWORD)
    with Store(tmp_path / "tablet.db") as store, \
            DevServer(tmp_path / "server.db", tablets=tmp_path / "tablets.json", doctors=tmp_path / "doctors.json") \
            as server:
        seed_sessions(store, 2, seed=4)
        assert Uploader(server.url, token=token).push(store).remaining == 0
        browser = requests.Session()
        signin = browser.get(server.url.removesuffix("/fhir") + "/", timeout=10)
        assert signin.url.endswith("/signin") and signin.url != server.url.removesuffix("/fhir") + "/signin"
        csrf = re.search(r'name="csrf" value="([^"]+)"', signin.text).group(1)
        worklist = browser.post(signin.url, timeout=10, data={"csrf": csrf, "account": "dr-demo", "password": PASSWORD,
                                                              "code": pyotp.TOTP(secret).now()})
        assert worklist.status_code == 200 and worklist.text.count("/sessions/") == 2
        assert requests.get(f"{server.url}/Patient", timeout=10).status_code == 401  # the FHIR API still wants one
    assert (tmp_path / "server.db.doctor-views.sqlite").exists()


def test_doctors_serve_alone_in_front_of_a_fhir_server(tmp_path):
    """`python -m sync doctors serve`: the application on its own, for a FHIR server other than the embedded one."""
    with DevServer(tmp_path / "server.db") as server:
        child = subprocess.Popen([sys.executable, "-m", "sync", "doctors", "serve", "--fhir", server.url, "--port", "0",
                                  "--doctors", str(tmp_path / "doctors.json")], stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
        try:
            banner = child.stdout.readline()
            assert banner.startswith("doctors on http://127.0.0.1:"), banner
            signin = requests.get(banner.split()[-1], timeout=10)
            assert signin.url.endswith("/signin") and "Connexion des médecins" in signin.text
        finally:
            child.terminate()
            assert child.wait(10) == 0
