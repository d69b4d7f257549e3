"""The doctor answers a request, over real HTTP in front of the development server: the worklist shows the waiting
requests first (teleconsultation and advice), the doctor signs conclusions with the RPPS of their account, and ONE
transaction stores the ClinicalImpression and completes the Task; signing again makes a new version. Every refusal
leaves nothing on the FHIR server (checked by searching it)."""
from __future__ import annotations

import html
import json
import re

import pyotp
import pytest
import requests

from sync import fhir
from sync.fhir.exchange import (CONCLUSION_MAX, CONCLUSIONS_ID_SYSTEM, DETAIL_MAX, PRESCRIPTIONS_MAX,
                                REQUEST_ID_SYSTEM, conclusions_value, read_conclusions, request_value)
from sync.server.doctors.viewlog import ViewLog
from tests.server.doctors.conftest import PASSWORD, SITE_B, post
from tests.server.doctors.tablet_side import ask, request_bundle, tablet

RPPS = "10000000025"  # the conftest accounts' (invented)


@pytest.fixture(scope="module")
def tablets(record, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tablets")
    site_a, _ = tablet(folder / "a.db", record.site_a)
    site_b, _ = tablet(folder / "b.db", SITE_B, "EHPAD de démonstration Les Ormes")
    yield site_a, site_b
    site_a.close()
    site_b.close()


def found(url: str, rtype: str, system: str, value: str) -> list[dict]:
    reply = requests.get(f"{url}/{rtype}", params={"identifier": f"{system}|{value}"}, timeout=10)
    return [e["resource"] for e in reply.json().get("entry") or []]


def conclusions_stored(url: str, key: str) -> list[dict]:
    return found(url, "ClinicalImpression", CONCLUSIONS_ID_SYSTEM, conclusions_value(key))


def task_of(url: str, key: str) -> dict:
    [task] = found(url, "Task", REQUEST_ID_SYSTEM, request_value(key))
    return task


def sign(doctors, session, encounter_id: str, csrf: str | None = "page", **fields) -> requests.Response:
    data = {"conclusion": "Pneumopathie probable. Surveillance rapprochée.", "orientation": "gp",
            "orientation_detail": "Médecin traitant demain matin", "prescriptions": "Paracétamol 1 g x 3/j",
            **fields}
    if csrf == "page":
        data["csrf"] = doctors.csrf(session, f"/sessions/{encounter_id}")
    elif csrf is not None:
        data["csrf"] = csrf
    return session.post(f"{doctors.url}/sessions/{encounter_id}/conclusions", data=data, timeout=30)


def test_the_worklist_shows_waiting_requests_first(record, doctors, tablets):
    site_a, site_b = tablets
    older = ask(record.url, site_a, family="Démo-Attente", given="Lucienne", reason="Toux fébrile depuis hier",
                minutes_ago=75)
    advice = ask(record.url, site_a, family="Démo-Avis", given="Gaston", reason="Plaie du talon qui s'étend",
                 kind="teleexpertise", minutes_ago=12)
    elsewhere = ask(record.url, site_b, family="Démo-Ailleurs", given="Rose", reason="Vertiges")
    page = html.unescape(doctors.sign_in(record.site_a).get(f"{doctors.url}/sites/{record.site_a}", timeout=10).text)
    requested, rest = page.split("Séances en cours")
    in_progress = rest.split("Séances récentes")[0]
    assert requested.index("DÉMO-ATTENTE Lucienne") < requested.index("DÉMO-AVIS Gaston")  # longest waiting first
    rows = re.findall(r'<tr class="request kind-(\w+)">(.*?)</tr>', requested, re.DOTALL)
    kinds = {kind: row for kind, row in rows}
    assert "Téléconsultation" in kinds["teleconsultation"] and "Toux fébrile depuis hier" in kinds["teleconsultation"]
    assert "1 h 15" in kinds["teleconsultation"] and re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", kinds["teleconsultation"])
    assert "Demande d'avis" in kinds["teleexpertise"] and "12 min" in kinds["teleexpertise"]
    assert f"/sessions/{older.encounter_id}" in requested and f"/sessions/{advice.encounter_id}" in requested
    assert f"/sessions/{older.encounter_id}" not in in_progress          # listed once, as a request
    assert f"/sessions/{record.waiting_encounter}" in in_progress         # in progress, no request
    assert "Démo-Ailleurs".upper() not in page.upper() and elsewhere.encounter_id not in page
    other = doctors.sign_in(SITE_B).get(f"{doctors.url}/sites/{SITE_B}", timeout=10).text
    assert f"/sessions/{elsewhere.encounter_id}" in other.split("Séances en cours")[0]


def test_signing_stores_one_clinical_impression_and_completes_the_task(record, doctors, tablets):
    asked = ask(record.url, tablets[0], family="Démo-Signe", given="Marcel", reason="Dyspnée")
    session = doctors.sign_in(record.site_a)
    views = ViewLog(doctors.settings.view_log)
    reply = session.post(f"{doctors.url}/sessions/{asked.encounter_id}/conclusions", allow_redirects=False, timeout=30,
                     data={"csrf": doctors.csrf(session, f"/sessions/{asked.encounter_id}"),
                           "conclusion": "Pneumopathie probable.\r\nSurveillance rapprochée.",
                           "orientation": "gp", "orientation_detail": "Médecin traitant demain matin",
                           "prescriptions": "Paracétamol 1 g x 3/j"})
    assert reply.status_code == 303 and reply.headers["Location"] == f"/sessions/{asked.encounter_id}#conclusions"
    [stored] = conclusions_stored(record.url, asked.key)
    read = read_conclusions(stored)
    assert (read.doctor_name, read.doctor_rpps, read.orientation) == ("Dr Camille Démo", RPPS, "gp")
    assert read.conclusion == "Pneumopathie probable.\nSurveillance rapprochée."
    assert (read.orientation_detail, read.prescriptions) == ("Médecin traitant demain matin", "Paracétamol 1 g x 3/j")
    assert stored["subject"] == {"reference": f"Patient/{asked.patient_id}"}
    assert stored["encounter"] == {"reference": f"Encounter/{asked.encounter_id}"}
    assert stored["meta"]["tag"] == [{"system": fhir.SITE_TAG_SYSTEM, "code": record.site_a}]
    task = task_of(record.url, asked.key)
    assert task["status"] == "completed" and task["owner"]["identifier"]["value"] == RPPS
    assert task["output"][0]["valueReference"] == {"reference": f"ClinicalImpression/{stored['id']}"}
    assert task["meta"]["tag"] == stored["meta"]["tag"] and task["description"] == "Dyspnée"
    page = session.get(f"{doctors.url}/sessions/{asked.encounter_id}", timeout=10).text
    assert re.search(r"Conclusions signées par Dr Camille Démo \(RPPS 10000000025\) le \d\d/\d\d/\d{4} \d\d:\d\d "
                     r"— transmises à la tablette", page)
    assert "Consultation du médecin traitant — Médecin traitant demain matin" in page
    worklist = session.get(f"{doctors.url}/sites/{record.site_a}", timeout=10).text
    assert f"/sessions/{asked.encounter_id}" not in worklist.split("Séances en cours")[0]   # answered
    written = [v for v in views.views(asked.patient_id) if v["page"] == "conclusions"]
    assert [(v["rpps"], v["subject_id"]) for v in written] == [(RPPS, asked.encounter_id)]

    again = sign(doctors, session, asked.encounter_id, conclusion="Finalement : bronchite simple.",
                 orientation="", orientation_detail="", prescriptions="")
    assert again.status_code == 200 and "Finalement : bronchite simple." in again.text
    [replaced] = conclusions_stored(record.url, asked.key)
    assert replaced["id"] == stored["id"] and replaced["meta"]["versionId"] != stored["meta"]["versionId"]
    assert task_of(record.url, asked.key)["meta"]["versionId"] == task["meta"]["versionId"]  # answered already
    assert read_conclusions(replaced).orientation is None and "extension" not in replaced
    assert "Pneumopathie probable" not in again.text.split("Vos conclusions")[1].split("<form")[0]


def test_the_longest_conclusions_fit_in_the_form(record, doctors, tablets):
    """Every field at its limit, in accented French (6 bytes a character once percent-encoded): far beyond the
    8 KB and 256 characters the other forms allow, accepted on this route."""
    asked = ask(record.url, tablets[0], family="Démo-Long", given="Noé", reason="Bilan")
    session = doctors.sign_in(record.site_a)
    reply = sign(doctors, session, asked.encounter_id, conclusion="é" * CONCLUSION_MAX,
                 orientation_detail="è" * DETAIL_MAX, prescriptions="à" * PRESCRIPTIONS_MAX)
    assert reply.status_code == 200 and "Conclusions signées" in reply.text
    read = read_conclusions(conclusions_stored(record.url, asked.key)[0])
    assert (len(read.conclusion), len(read.orientation_detail), len(read.prescriptions)) == (4000, 500, 4000)


def test_a_request_for_advice_is_answered_with_the_same_form(record, doctors, tablets):
    asked = ask(record.url, tablets[0], family="Démo-Avis-Bis", given="Paule", reason="Ulcère de jambe",
                kind="teleexpertise")
    session = doctors.sign_in(record.site_a)
    page = html.unescape(session.get(f"{doctors.url}/sessions/{asked.encounter_id}", timeout=10).text)
    assert "<h1>Demande d'avis" in page and 'action="/sessions/' in page
    assert sign(doctors, session, asked.encounter_id, conclusion="Avis : soins locaux, revoir à J7.").status_code == 200
    assert read_conclusions(conclusions_stored(record.url, asked.key)[0]).conclusion.startswith("Avis : soins")
    assert task_of(record.url, asked.key)["status"] == "completed"


@pytest.mark.parametrize("fields, status, shown", [
    ({"conclusion": "   "}, 400, "La conclusion est obligatoire."),
    ({"prescriptions": "x" * (PRESCRIPTIONS_MAX + 1)}, 400, "Trop long : 4001 caractères pour 4000 au plus."),
    ({"orientation_detail": "é" * 501}, 400, "Trop long : 501 caractères pour 500 au plus."),
    ({"orientation": "morgue"}, 400, "Orientation inconnue"),
    ({"csrf": "forged"}, 403, "Jeton de formulaire invalide"),
    ({"csrf": None}, 403, "Jeton de formulaire invalide"),
    ({"conclusion": "x" * 120_000}, 413, "Formulaire trop volumineux"),
])
def test_a_bad_form_is_refused_and_nothing_is_stored(record, doctors, tablets, fields, status, shown):
    asked = ask(record.url, tablets[0], family="Démo-Refus", given="Anne", reason="Chute")
    session = doctors.sign_in(record.site_a)
    csrf = fields.pop("csrf", "page")
    reply = sign(doctors, session, asked.encounter_id, csrf=csrf, **fields)
    assert reply.status_code == status and shown in html.unescape(reply.text)
    if status == 400:  # the form again, as typed, with the error beside its field
        assert 'class="field-error"' in reply.text and "Les conclusions n'ont pas été enregistrées" in reply.text
    assert conclusions_stored(record.url, asked.key) == []
    assert task_of(record.url, asked.key)["status"] == "requested"


def test_other_sites_signed_out_and_accounts_without_rpps_write_nothing(record, doctors, tablets):
    site_a, site_b = tablets
    mine = ask(record.url, site_a, family="Démo-Mien", given="Jean", reason="Malaise")
    theirs = ask(record.url, site_b, family="Démo-Leur", given="Yves", reason="Malaise")
    doctor_a, doctor_b = doctors.sign_in(record.site_a), doctors.sign_in(SITE_B)
    csrf_a = doctors.csrf(doctor_a, f"/sites/{record.site_a}")
    csrf_b = doctors.csrf(doctor_b, f"/sites/{SITE_B}")
    # another site's encounter in the URL, either way: answered like an unknown id
    assert sign(doctors, doctor_a, theirs.encounter_id, csrf=csrf_a).status_code == 404
    assert sign(doctors, doctor_b, mine.encounter_id, csrf=csrf_b).status_code == 404
    # signed out: refused, not redirected to a page that would then post nothing
    anonymous = requests.Session()
    assert sign(doctors, anonymous, mine.encounter_id, csrf="x").status_code == 401
    # an account without a valid RPPS cannot sign
    account, _ = doctors.account(record.site_a)
    data = json.loads(doctors.accounts.path.read_text())
    next(d for d in data["doctors"] if d["id"] == account)["rpps"] = ""
    doctors.accounts.path.write_text(json.dumps(data))
    no_rpps = requests.Session()
    secret = next(d for d in data["doctors"] if d["id"] == account)["totp_secret"]
    no_rpps.post(doctors.url + "/signin", timeout=10, data={"csrf": doctors.csrf(no_rpps), "account": account,
                                                            "password": PASSWORD, "code": pyotp.TOTP(secret).now()})
    refused = sign(doctors, no_rpps, mine.encounter_id)
    assert refused.status_code == 403 and "pas de numéro RPPS valide" in html.unescape(refused.text)
    for asked in (mine, theirs):
        assert conclusions_stored(record.url, asked.key) == []
        assert task_of(record.url, asked.key)["status"] == "requested"


def test_a_session_tagged_for_another_site_is_refused(record, doctors, tablets):
    """Served by site A but tagged for site B (a record no Relais tablet makes): a doctor of A signs nothing."""
    asked = ask(record.url, tablets[0], family="Démo-Etiquette", given="Léa", reason="Fièvre")
    bundle = request_bundle(asked)
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Encounter":
            entry["resource"]["meta"]["tag"] = [{"system": fhir.SITE_TAG_SYSTEM, "code": SITE_B}]
            if entry["request"]["method"] == "POST":  # the Encounter is a conditional update in a final bundle
                entry["request"] = {"method": "PUT", "url": f"Encounter?{entry['request']['ifNoneExist']}"}
    requests.post(record.url, data=fhir.dumps(bundle).encode(), timeout=10,
                  headers={"Content-Type": "application/fhir+json"}).raise_for_status()
    session = doctors.sign_in(record.site_a)
    refused = sign(doctors, session, asked.encounter_id)
    assert refused.status_code == 403 and "un site que vous ne servez pas" in refused.text
    hand_made = sign(doctors, session, record.waiting_encounter)   # no session key, no tag: not from a tablet
    assert hand_made.status_code == 422 and "pas été envoyée par une tablette" in html.unescape(hand_made.text)
    assert conclusions_stored(record.url, asked.key) == []
    assert requests.get(f"{record.url}/ClinicalImpression", params={"encounter": record.waiting_encounter},
                        timeout=10).json()["total"] == 0


def test_a_write_the_server_refuses_is_said_and_leaves_everything_as_it_was(record, doctors, tablets):
    """Two conclusions already under the session's identifier (another client's doing): the conditional update
    is refused (412), the doctor is told, and the transaction's Task is not completed either."""
    asked = ask(record.url, tablets[0], family="Démo-Double", given="Carl", reason="Fièvre")
    twice = {"resourceType": "ClinicalImpression", "status": "completed",
             "identifier": [{"system": CONCLUSIONS_ID_SYSTEM, "value": conclusions_value(asked.key)}],
             "subject": {"reference": f"Patient/{asked.patient_id}"}, "summary": "copie"}
    for _ in range(2):
        post(record.url, twice)
    reply = sign(doctors, doctors.sign_in(record.site_a), asked.encounter_id)
    assert reply.status_code == 502 and "refusé les conclusions : rien n'a été enregistré" in html.unescape(reply.text)
    assert [c["summary"] for c in conclusions_stored(record.url, asked.key)] == ["copie", "copie"]
    assert task_of(record.url, asked.key)["status"] == "requested"


def test_conclusions_that_do_not_fit_are_shown_as_unreadable(record, doctors, tablets):
    asked = ask(record.url, tablets[0], family="Démo-Illisible", given="Rémi", reason="Douleur")
    bad = post(record.url, {"resourceType": "ClinicalImpression", "status": "completed",
                            "subject": {"reference": f"Patient/{asked.patient_id}"},
                            "encounter": {"reference": f"Encounter/{asked.encounter_id}"}, "summary": "sans auteur"})
    page = doctors.sign_in(record.site_a).get(f"{doctors.url}/sessions/{asked.encounter_id}", timeout=10)
    assert page.status_code == 200 and f"Conclusions illisibles (ClinicalImpression {bad['id']})" in page.text
    assert "sans auteur" not in page.text and 'name="conclusion"' in page.text


def test_the_development_server_searches_requests_and_conclusions(record, tablets):
    asked = ask(record.url, tablets[0], family="Démo-Recherche", given="Ida", reason="Toux")
    tag = f"{fhir.SITE_TAG_SYSTEM}|{record.site_a}"
    bundle = requests.get(f"{record.url}/Task", timeout=10, params=[
        ("_tag", tag), ("status", "received,requested"), ("_include", "Task:patient")]).json()
    kinds = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]}
    assert kinds == {("Task", "match"), ("Patient", "include")}
    assert asked.patient_id in {e["resource"]["id"] for e in bundle["entry"]}
    none = requests.get(f"{record.url}/Task", params={"_tag": tag, "status": "completed,cancelled"}, timeout=10)
    assert all(e["resource"]["status"] in ("completed", "cancelled") for e in none.json().get("entry") or [])
    assert requests.get(f"{record.url}/Task", params={"status": ""}, timeout=10).status_code == 400
    by_encounter = requests.get(f"{record.url}/Task", params={"encounter": f"Encounter/{asked.encounter_id}"},
                                timeout=10).json()
    assert [e["resource"]["id"] for e in by_encounter["entry"]] == [task_of(record.url, asked.key)["id"]]
