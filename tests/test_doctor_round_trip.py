"""The whole exchange with the remote doctor, over real HTTP, with the tablet's real workflow and store, the real
development server process and the doctors' application in front of it:

- a call: the request file goes when the call starts, the doctor sees it in their worklist, a value measured during
  the call reaches their page, they sign their conclusions, the tablet pulls them, staff take them unchanged, the
  session closes, and the server ends with one Encounter, one Task and each Observation once;
- advice without a call: the request waits in the doctor's worklist, the answer comes back, the patient list says
  so, staff resume the session and take it, and the report for the patient's own doctor carries the doctor's words.

Every name, INS and RPPS here is invented."""
from __future__ import annotations

import html
import json
import re
from collections import Counter

import pytest
import requests

from mobile.workflow import SessionWorkflow
from sync.fhir.terminology import ENCOUNTER_ID_SYSTEM, OBSERVATION_ID_SYSTEM
from sync.pull.client import SearchClient
from sync.pull.conclusions import pull_conclusions
from sync.store import Store
from sync.uploader import Uploader
from tests.server.doctors.conftest import serve_doctors
from tests.support.servers import DevServer
from tests.sync.delivery import pdftext
from tests.support.workflow import DEMO, NOW, PIN, ScriptedThermometer, start

FINESS = "000000018"
CONCLUSION = "Pneumopathie débutante probable.\nReprendre la température à 16 h."
PRESCRIPTIONS = "Paracétamol 1 g si fièvre > 38,5 °C, 3 fois par jour au plus."


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("round-trip")
    with DevServer(folder / "server.db") as fhir_server:
        web, doctors = serve_doctors(fhir_server.url, folder)
        try:
            yield fhir_server.url, doctors
        finally:
            web.stop()


@pytest.fixture
def tablet(tmp_path):
    with Store(tmp_path / "tablet.db") as store:
        site_id = store.add_site(kind="ehpad", name="EHPAD Les Tilleuls", finess=FINESS)
        store.set_setting("site_id", site_id)
        staff_id = store.add_staff(display_name="Camille Soignante", role="aide_soignant", pin=PIN)
        wf = SessionWorkflow(store, ScriptedThermometer(), clock=lambda: NOW)
        wf.sign_in(staff_id, PIN)
        yield store, wf


def push(store: Store, url: str) -> None:
    result = Uploader(url).push(store, ignore_backoff=True)
    assert result.remaining == 0, result


def to_the_call(wf: SessionWorkflow, traits: dict) -> str:
    wf.create_patient(**traits)
    start(wf)
    wf.enter_manual_temperature("38,6")
    wf.accept()
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="22", consciousness="A", on_oxygen=False)
    return wf.state.session_id


def encounter_id(url: str, store: Store, session_id: str) -> str:
    key = store.get_session(session_id)["idempotency_key"]
    found = requests.get(f"{url}/Encounter", params={"identifier": f"{ENCOUNTER_ID_SYSTEM}|{key}"}, timeout=10)
    (entry,) = found.json()["entry"]
    return entry["resource"]["id"]


def sign_conclusions(doctors, browser: requests.Session, encounter: str) -> None:
    page = browser.get(f"{doctors.url}/sessions/{encounter}", timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    reply = browser.post(f"{doctors.url}/sessions/{encounter}/conclusions", allow_redirects=False, timeout=10,
                         data={"csrf": csrf, "conclusion": CONCLUSION, "orientation": "gp",
                               "orientation_detail": "sous 48 h", "prescriptions": PRESCRIPTIONS})
    assert reply.status_code == 303, reply.text


def server_resources(url: str, store: Store, session_id: str, rtype: str) -> list[dict]:
    encounter = encounter_id(url, store, session_id)
    reply = requests.get(f"{url}/{rtype}", params={"encounter": f"Encounter/{encounter}", "_count": "100"},
                         timeout=10)
    return [e["resource"] for e in reply.json().get("entry", []) if e["resource"]["resourceType"] == rtype]


def test_a_call_from_the_request_file_to_one_encounter_holding_the_doctors_own_words(servers, tablet):
    url, doctors = servers
    store, wf = tablet
    session_id = to_the_call(wf, DEMO)
    wf.start_call(doctor_name="Dr Camille Démo")
    push(store, url)                                       # the request file, before the doctor says a word
    browser = doctors.sign_in(FINESS)
    worklist = browser.get(f"{doctors.url}/sites/{FINESS}", timeout=10).text
    waiting = worklist.split("Séances en cours")[0]
    assert "Téléconsultation" in waiting and "DÉMO" in waiting and "Toux et fièvre" in waiting
    encounter = encounter_id(url, store, session_id)
    live = browser.get(f"{doctors.url}/sessions/{encounter}/live", timeout=10).text
    assert "38,6 °C" in live and "93 %" not in live

    wf.enter_manual("oximeter", {"spo2": "93", "pulse_rate": "104"})   # the doctor asks for the SpO2
    wf.accept()                                            # accepted: on its way to the doctor at once
    push(store, url)
    live = browser.get(f"{doctors.url}/sessions/{encounter}/live", timeout=10).text
    assert "93 %" in live and "104 /min" in live
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="22", consciousness="A", on_oxygen=False)   # back to the call
    assert wf.state.step == "teleconsult"

    sign_conclusions(doctors, browser, encounter)
    assert pull_conclusions(store, SearchClient(url))["created"] == 1
    received = wf.received_conclusions()["waiting"]
    assert (received["conclusion"], received["prescriptions"]) == (CONCLUSION, PRESCRIPTIONS)
    assert received["doctor_rpps"] == "10000000025"
    wf.accept_conclusions()
    assert CONCLUSION.splitlines()[0] in wf.state.summary_draft
    wf.close(summary=wf.state.summary_draft)
    push(store, url)

    (enc,) = [requests.get(f"{url}/Encounter/{encounter}", timeout=10).json()]
    assert enc["status"] == "finished" and enc["period"].get("end")
    assert [t["status"] for t in server_resources(url, store, session_id, "Task")] == ["completed"]
    observations = server_resources(url, store, session_id, "Observation")
    identifiers = Counter(i["value"] for o in observations for i in o["identifier"]
                          if i["system"] == OBSERVATION_ID_SYSTEM)
    assert identifiers and set(identifiers.values()) == {1}
    codes = Counter(o["code"]["coding"][0]["code"] for o in observations)
    assert codes["2708-6"] == 1 and codes["8310-5"] == 1           # the SpO2 and the temperature, once each
    assert codes["9279-1"] == 1                                     # the breathing rate confirmed twice, sent once
    (impression,) = server_resources(url, store, session_id, "ClinicalImpression")
    assert impression["summary"] == CONCLUSION
    (report,) = server_resources(url, store, session_id, "Composition")
    text = json.dumps(report, ensure_ascii=False)
    assert "rédigées par le Dr Camille Démo" in text and "transcrites" not in text


def test_advice_without_a_call_waits_for_the_doctor_and_the_report_follows_the_answer(servers, tablet):
    url, doctors = servers
    store, wf = tablet
    other = dict(DEMO, given_name="Albertine", birth_date="1935-07-19")
    session_id = to_the_call(wf, other)
    patient_id = store.get_session(session_id)["patient_id"]
    wf.request_advice()
    wf.leave_session()                                     # staff go on with the next resident
    push(store, url)
    browser = doctors.sign_in(FINESS)
    worklist = html.unescape(browser.get(f"{doctors.url}/sites/{FINESS}", timeout=10).text)
    assert "Demande d'avis" in worklist.split("Séances en cours")[0]
    assert wf.conclusions_waiting_by_patient() == {}

    sign_conclusions(doctors, browser, encounter_id(url, store, session_id))
    pull_conclusions(store, SearchClient(url))
    assert patient_id in wf.conclusions_waiting_by_patient()   # the patient list says "Avis reçu"
    wf.resume_session(session_id)
    assert wf.received_conclusions()["waiting"]["conclusion"] == CONCLUSION
    wf.accept_conclusions()
    wf.close(summary=wf.state.summary_draft,
             gp={"name": "Dr Jean Traitant", "address": "jean.traitant@medecin.mssante.fr"})
    push(store, url)

    assert [t["status"] for t in server_resources(url, store, session_id, "Task")] == ["completed"]
    (report,) = server_resources(url, store, session_id, "Composition")
    text = json.dumps(report, ensure_ascii=False)
    assert "rédigées par le Dr Camille Démo" in text and "sous 48 h" in text and "Paracétamol 1 g" in text
    (document,) = store.query("SELECT pdf FROM report_documents WHERE session_id = ?", [session_id])
    printed = " ".join(pdftext.text(document["pdf"]).split())    # the report frozen for Dr Traitant at close
    assert "Pneumopathie débutante probable." in printed and "Dr Camille Démo" in printed
    assert printed.startswith("Compte rendu de demande d'avis (téléexpertise)") and "Médecin requis" in printed
    assert [r["address"] for r in store.report_recipients(session_id)] == ["jean.traitant@medecin.mssante.fr"]
