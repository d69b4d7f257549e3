"""Shared by the doctors' application tests: a development server holding demo sessions pushed by a tablet (two
sites, flagged values, a 15 call, a session waiting for the doctor, resources that do not fit), the application
in front of it under uvicorn on a random port, and signing in over real HTTP.

Every name, INS and RPPS here is invented (demo INS authority 1.2.250.1.213.1.4.10)."""
from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
import requests

from sync import closing, fhir
from sync.seed import seed_sessions
from sync.server.doctors.accounts import AccountBook
from sync.server.doctors.app import DoctorsSettings, create_app
from sync.server.doctors.serve import BackgroundServer, bind
from sync.store import Store
from sync.uploader import Uploader
from tests.support.servers import DevServer

SITE_B = "000000026"
PASSWORD = "mot de passe de démonstration"
_accounts = itertools.count(1)


@dataclass
class Record:
    """What the fixture put on the FHIR server, by id."""

    url: str
    site_a: str
    flagged_encounter: str = ""
    flagged_patient: str = ""
    waiting_encounter: str = ""
    unreadable_observation: str = ""
    unreadable_patient_encounter: str = ""
    site_b_encounter: str = ""
    site_b_patient: str = ""
    organizations: dict[str, str] = field(default_factory=dict)


def post(url: str, resource: dict) -> dict:
    reply = requests.post(f"{url}/{resource['resourceType']}", data=fhir.dumps(resource).encode(),
                          headers={"Content-Type": "application/fhir+json"}, timeout=10)
    assert reply.status_code == 201, reply.text
    return reply.json()


def one(url: str, rtype: str, **params: str) -> dict:
    [entry] = requests.get(f"{url}/{rtype}", params=params, timeout=10).json()["entry"]
    return entry["resource"]


def _flagged_session(store: Store) -> str:
    """A resident with a qualified identity, a usual name, flagged values (device and manual), a 15 call."""
    site = store.list_sites()[0]
    pid = store.add_patient(family_name="Démo-Alerte", given_name="Odette", birth_date="1936-03-14", sex="F",
                            birth_place_insee="75056", identity_status="QUAL", ins="236037505600008",
                            identity_method="CV", birth_given_names="Odette Marie", usual_name="Démo-Usage")
    now = dt.datetime.now(dt.timezone.utc)
    for days, (temperature, pulse, spo2, systolic) in zip((75, 50, 30, 12), (("36.8", "74", "96", "138"),
                                                                              ("37.1", "82", "95", "142"),
                                                                              ("36.9", "78", "96", "135"),
                                                                              ("37.6", "96", "94", "151"))):
        earlier = store.open_session(pid, reason="Suivi", site_id=site["id"])
        when = now - dt.timedelta(days=days)
        for code, value, unit in (("8310-5", temperature, "Cel"), ("8867-4", pulse, "/min"),
                                  ("59408-5", spo2, "%")):
            store.add_measurement(earlier, code=code, value=value, unit=unit, source="manual", measured_at=when)
        for code, value in (("8480-6", systolic), ("8462-4", "80")):
            store.add_measurement(earlier, code=code, value=value, unit="mm[Hg]", source="manual",
                                  panel_id="cuff", measured_at=when)
        closing.close_session(store, earlier)
    sid = store.open_session(pid, reason="Fièvre > 38,5 et essoufflement", site_id=site["id"])
    for code, value, unit, flag, source in (("8867-4", "115", "/min", "H", "manual"),
                                           ("8310-5", "38.9", "Cel", "H", "manual"),
                                           ("59408-5", "91", "%", "L", "manual"),
                                           ("9279-1", "24", "/min", "H", "manual"),
                                           ("67775-7", "A", "", None, "manual")):
        store.add_measurement(sid, code=code, value=value, unit=unit, source=source, interpretation=flag)
    for code, value, flag in (("8480-6", "182", "H"), ("8462-4", "95", None)):
        store.add_measurement(sid, code=code, value=value, unit="mm[Hg]", source="manual", panel_id="cuff",
                              interpretation=flag)
    store.add_note(sid, kind="emergency_call", text="Appel au 15 à 10:05, régulateur prévenu", author="Marc Démo")
    closing.close_session(store, sid)
    return pid


def _hand_made(record: Record, patient_ref: str) -> None:
    """What no Relais tablet sends: a session still waiting, and resources that do not fit."""
    url, org_a = record.url, record.organizations[record.site_a]
    now = dt.datetime.now(dt.timezone.utc)
    waiting = post(url, {"resourceType": "Encounter", "status": "in-progress",
                         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"},
                         "subject": {"reference": patient_ref}, "serviceProvider": {"reference": org_a},
                         "period": {"start": (now - dt.timedelta(minutes=10)).isoformat()},
                         "reasonCode": [{"text": "Chute <script>alert('x')</script> ce matin"}]})
    record.waiting_encounter = waiting["id"]
    record.unreadable_observation = post(url, {
        "resourceType": "Observation", "status": "final", "subject": {"reference": patient_ref},
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "encounter": {"reference": f"Encounter/{waiting['id']}"}, "effectiveDateTime": now.isoformat(),
        "valueQuantity": {"value": "cent", "code": "/min"}})["id"]
    post(url, {"resourceType": "Observation", "status": "final", "subject": {"reference": patient_ref},
               "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
               "encounter": {"reference": f"Encounter/{waiting['id']}"}, "effectiveDateTime": now.isoformat(),
               "valueQuantity": {"value": 88, "code": "/min", "unit": "/min"}})
    bad = post(url, {"resourceType": "Patient", "name": 42, "managingOrganization": {"reference": org_a}})
    record.unreadable_patient_encounter = post(url, {
        "resourceType": "Encounter", "status": "finished", "subject": {"reference": f"Patient/{bad['id']}"},
        "serviceProvider": {"reference": org_a}, "period": {"start": (now - dt.timedelta(days=1)).isoformat()},
        "class": {"code": "VR"}})["id"]
    org_b = post(url, {"resourceType": "Organization", "name": "EHPAD de démonstration Les Ormes",
                       "identifier": [{"system": fhir.FINESS_SYSTEM, "value": SITE_B}]})
    record.organizations[SITE_B] = f"Organization/{org_b['id']}"
    patient_b = post(url, {"resourceType": "Patient", "name": [{"use": "official", "family": "Démo-Ailleurs",
                                                                "given": ["Jules"]}], "birthDate": "1940-01-01",
                           "managingOrganization": {"reference": f"Organization/{org_b['id']}"}})
    record.site_b_patient = patient_b["id"]
    record.site_b_encounter = post(url, {
        "resourceType": "Encounter", "status": "finished", "class": {"code": "VR"},
        "subject": {"reference": f"Patient/{patient_b['id']}"},
        "serviceProvider": {"reference": f"Organization/{org_b['id']}"},
        "period": {"start": (now - dt.timedelta(days=2)).isoformat()}, "reasonCode": [{"text": "Toux"}]})["id"]


def build_record(url: str, tablet_db: Path, *, hand_made: bool = True, max_entries: int | None = None) -> Record:
    with Store(tablet_db) as store:
        seed_sessions(store, 4, seed=5)
        pid = _flagged_session(store)
        site = store.list_sites()[0]
        assert Uploader(url, max_entries=max_entries).push(store, ignore_backoff=True).remaining == 0
    record = Record(url, site["finess"])
    org = one(url, "Organization", identifier=f"{fhir.FINESS_SYSTEM}|{site['finess']}")
    record.organizations[record.site_a] = f"Organization/{org['id']}"
    patient = one(url, "Patient", identifier=f"{fhir.PATIENT_ID_SYSTEM}|{pid}")
    record.flagged_patient = patient["id"]
    encounters = requests.get(f"{url}/Encounter", params={"subject": f"Patient/{patient['id']}"}, timeout=10).json()
    record.flagged_encounter = next(e["resource"]["id"] for e in encounters["entry"]
                                    if e["resource"]["reasonCode"][0]["text"].startswith("Fièvre"))
    if hand_made:
        _hand_made(record, f"Patient/{patient['id']}")
    return record


@dataclass
class Doctors:
    """The application under uvicorn: its URL, its accounts, its settings."""

    url: str
    accounts: AccountBook
    settings: DoctorsSettings

    def account(self, *sites: str) -> tuple[str, str]:
        """A new account for these sites: (id, TOTP secret)."""
        account_id = f"dr-test-{next(_accounts)}"
        secret, _ = self.accounts.add(account_id, "Dr Camille Démo", "10000000025", list(sites), PASSWORD)
        return account_id, secret

    def csrf(self, session: requests.Session, path: str = "/signin") -> str:
        return re.search(r'name="csrf" value="([^"]+)"', session.get(self.url + path, timeout=10).text).group(1)

    def sign_in(self, *sites: str) -> requests.Session:
        account_id, secret = self.account(*sites)
        session = requests.Session()
        reply = session.post(self.url + "/signin", timeout=10, data={
            "csrf": self.csrf(session), "account": account_id, "password": PASSWORD,
            "code": pyotp.TOTP(secret).now()})
        assert reply.status_code == 200 and "/sites/" in reply.url, reply.text
        session.account_id = account_id  # type: ignore[attr-defined]
        return session


def serve_doctors(fhir_url: str, folder: Path, **options) -> tuple[BackgroundServer, Doctors]:
    settings = DoctorsSettings(fhir_base=fhir_url, accounts=folder / "doctors.json",
                               view_log=folder / "views.sqlite", secure_cookies=False, **options)
    server = BackgroundServer(create_app(settings), bind("127.0.0.1", 0)).start()
    return server, Doctors(server.url, AccountBook(settings.accounts), settings)


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fhir")
    with DevServer(folder / "server.db") as server:
        yield build_record(server.url, folder / "tablet.db")


@pytest.fixture(scope="module")
def doctors(record, tmp_path_factory):
    server, app = serve_doctors(record.url, tmp_path_factory.mktemp("doctors"))
    yield app
    server.stop()
