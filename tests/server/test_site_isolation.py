"""Site isolation on the development server (sync.server.sites), against the real server process: a tablet token
registered for site A neither writes into site B nor reads it, whatever form its references take (literal,
conditional, `ifNoneExist`, absolute URL); each bypass found in an attack review is a test here. A refused bundle is
a 403 OperationOutcome with the code `forbidden`, and nothing of it is stored."""
from __future__ import annotations

import json
import sqlite3
import uuid

import pytest
import requests

from sync import audit_extracts, fhir
from sync.fhir import exchange
from sync.seed import seed_sessions
from sync.server import tablets
from sync.server.resources import ResourceDB
from sync.store import Store
from sync.uploader import Uploader
from tests.support.servers import DevServer

SITE_A, SITE_B = "750000010", "130000018"  # FINESS of the two sites
DEMO_FINESS = "000000018"  # sync.seed's demo EHPAD


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def tag(site: str) -> dict:
    return {"tag": [{"system": fhir.SITE_TAG_SYSTEM, "code": site}]}


def create(resource: dict, system: str, value: str, full_url: str | None = None) -> dict:
    return {"fullUrl": full_url or urn(), "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"],
                        "ifNoneExist": fhir.if_none_exist(system, value)}}


def organization(finess: str) -> dict:
    return {"resourceType": "Organization", "name": f"EHPAD {finess}",
            "identifier": [{"system": fhir.SITE_ID_SYSTEM, "value": f"local-{finess}"},
                           {"system": fhir.FINESS_SYSTEM, "value": finess}]}


def session(site: str, resident: str, key: str) -> dict:
    """A session as a tablet sends it: Organization, Patient, Encounter, Observation and the request (Task), bound
    by urn:uuid references, the site's records tagged."""
    org, pat, enc = urn(), urn(), urn()
    patient = {"resourceType": "Patient", "identifier": [{"system": fhir.PATIENT_ID_SYSTEM, "value": resident}],
               "managingOrganization": {"reference": org}}
    encounter = {"resourceType": "Encounter", "meta": tag(site), "status": "in-progress",
                 "identifier": [{"system": fhir.ENCOUNTER_ID_SYSTEM, "value": key}],
                 "subject": {"reference": pat}, "serviceProvider": {"reference": org}}
    observation = {"resourceType": "Observation", "meta": tag(site), "status": "final",
                   "identifier": [{"system": fhir.OBSERVATION_ID_SYSTEM, "value": f"{key}/obs/1"}],
                   "subject": {"reference": pat}, "encounter": {"reference": enc}}
    task = exchange.request_task(session_key=key, kind="teleconsultation", status="requested", reason=None,
                                 authored_on="2026-12-01T10:00:00+01:00", patient_ref=pat, encounter_ref=enc,
                                 requester_ref=None)
    task["meta"] = tag(site)
    return bundle(create(organization(site), fhir.FINESS_SYSTEM, site, org),
                  create(patient, fhir.PATIENT_ID_SYSTEM, resident, pat),
                  create(encounter, fhir.ENCOUNTER_ID_SYSTEM, key, enc),
                  create(observation, fhir.OBSERVATION_ID_SYSTEM, f"{key}/obs/1"),
                  create(task, exchange.REQUEST_ID_SYSTEM, exchange.request_value(key)))


def bundle(*entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def observation_of(subject: str, site: str = SITE_A) -> dict:
    """A new Observation of site A about `subject` (any reference form)."""
    value = str(uuid.uuid4())
    return create({"resourceType": "Observation", "meta": tag(site), "status": "final",
                   "identifier": [{"system": fhir.OBSERVATION_ID_SYSTEM, "value": value}],
                   "subject": {"reference": subject}}, fhir.OBSERVATION_ID_SYSTEM, value)


class Sites:
    """The server with one tablet per site, each site holding one session."""

    def __init__(self, server: DevServer, tokens: dict[str, str]) -> None:
        self.server, self.tokens = server, tokens
        self.db = ResourceDB(server.db_path)

    def post(self, site: str, body: dict) -> requests.Response:
        return requests.post(self.server.url, data=json.dumps(body), timeout=10, headers={
            "Content-Type": "application/fhir+json", "Authorization": f"Bearer {self.tokens[site]}"})

    def get(self, site: str, path: str, **params: str) -> requests.Response:
        return requests.get(f"{self.server.url}/{path}", params=params, timeout=10,
                            headers={"Authorization": f"Bearer {self.tokens[site]}"})

    def ids(self, site: str, rtype: str) -> set[str]:
        reply = self.get(site, rtype)
        assert reply.status_code == 200, reply.text
        return {e["resource"]["id"] for e in reply.json().get("entry") or ()}

    def refused(self, site: str, body: dict) -> str:
        """Post `body` as `site`'s tablet; asserts the 403 OperationOutcome and that nothing was stored."""
        before = self.db.counts()
        reply = self.post(site, body)
        assert reply.status_code == 403, reply.text
        issue = reply.json()["issue"][0]
        assert reply.json()["resourceType"] == "OperationOutcome" and issue["code"] == "forbidden"
        assert self.db.counts() == before
        return issue["diagnostics"]


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sites")
    registry = folder / "tablets.json"
    tokens = {SITE_A: tablets.add_tablet(registry, "ehpad-a", [SITE_A]),
              SITE_B: tablets.add_tablet(registry, "ehpad-b", [SITE_B])}
    with DevServer(folder / "server.db", tablets=registry) as server:
        both = Sites(server, tokens)
        for site in (SITE_A, SITE_B):
            reply = both.post(site, session(site, f"resident-{site}", f"key-{site}"))
            assert reply.status_code == 200, reply.text
        yield both


def stored_id(sites: Sites, site: str, rtype: str) -> str:
    """The id of the site's first session's resource of this type."""
    identifier = {"Patient": f"{fhir.PATIENT_ID_SYSTEM}|resident-{site}",
                  "Organization": f"{fhir.FINESS_SYSTEM}|{site}",
                  "Encounter": f"{fhir.ENCOUNTER_ID_SYSTEM}|key-{site}"}[rtype]
    [found] = sites.get(site, rtype, identifier=identifier).json()["entry"]
    return found["resource"]["id"]


def test_each_tablet_sees_only_its_own_sites_records(sites):
    for rtype in ("Organization", "Patient", "Encounter", "Observation", "Task"):
        assert sites.ids(SITE_A, rtype) and sites.ids(SITE_B, rtype)
        assert sites.ids(SITE_A, rtype).isdisjoint(sites.ids(SITE_B, rtype))
    theirs = stored_id(sites, SITE_B, "Patient")
    assert sites.get(SITE_A, f"Patient/{theirs}").status_code == 404
    assert sites.get(SITE_B, f"Patient/{theirs}").status_code == 200
    # searching by their identifier or their Organization finds nothing either, included resources neither
    assert sites.get(SITE_A, "Patient", identifier=f"{fhir.PATIENT_ID_SYSTEM}|resident-{SITE_B}").json()["total"] == 0
    org_b = stored_id(sites, SITE_B, "Organization")
    assert sites.get(SITE_A, "Patient", organization=f"Organization/{org_b}").json()["total"] == 0
    mine = sites.get(SITE_A, "Encounter", _include="Encounter:subject").json()
    assert {e["resource"]["resourceType"] for e in mine["entry"]} == {"Encounter", "Patient"}


def test_an_organization_with_an_if_none_exist_on_another_sites_finess_is_refused(sites):
    """Attack 1: an Organization carrying A's FINESS but matched by B's, so the Encounter points at B's."""
    entries = session(SITE_A, "resident-new", "key-attack-1")["entry"]
    entries[0] = create(organization(SITE_A), fhir.FINESS_SYSTEM, SITE_B, entries[0]["fullUrl"])
    assert "not registered for" in sites.refused(SITE_A, bundle(*entries))
    # nor an Organization carrying both FINESS, matched by A's
    entries[0] = create({**organization(SITE_A), "identifier": [
        {"system": fhir.FINESS_SYSTEM, "value": SITE_A}, {"system": fhir.FINESS_SYSTEM, "value": SITE_B}]},
        fhir.FINESS_SYSTEM, SITE_A, entries[0]["fullUrl"])
    sites.refused(SITE_A, bundle(*entries))


def test_a_conditional_reference_to_another_sites_resident_is_refused(sites):
    """Attack 2: an Observation whose subject is `Patient?identifier=…|<B's resident id>`."""
    subject = f"Patient?{fhir.if_none_exist(fhir.PATIENT_ID_SYSTEM, f'resident-{SITE_B}')}"
    sites.refused(SITE_A, bundle(observation_of(subject)))
    # the same form to the tablet's own resident is fine
    mine = f"Patient?{fhir.if_none_exist(fhir.PATIENT_ID_SYSTEM, f'resident-{SITE_A}')}"
    assert sites.post(SITE_A, bundle(observation_of(mine))).status_code == 200


def test_a_bundle_naming_no_site_is_refused(sites):
    """Attack 3: a bundle with no Organization and no site tag, even one touching nothing of another site."""
    value = str(uuid.uuid4())
    device = create({"resourceType": "Device", "identifier": [{"system": fhir.DEVICE_SERIAL_SYSTEM, "value": value}]},
                    fhir.DEVICE_SERIAL_SYSTEM, value)
    assert "names no site" in sites.refused(SITE_A, bundle(device))
    # and one that takes B's resident over by a conditional update without naming a site: nothing changes at B
    takeover = {"resourceType": "Patient", "identifier": [{"system": fhir.PATIENT_ID_SYSTEM,
                                                           "value": f"resident-{SITE_B}"}], "gender": "male"}
    sites.refused(SITE_A, bundle({"resource": takeover, "request": {
        "method": "PUT", "url": "Patient?" + fhir.if_none_exist(fhir.PATIENT_ID_SYSTEM, f"resident-{SITE_B}")}}))


def test_literal_and_absolute_references_to_another_site_are_refused(sites):
    """Attack 4: an absolute URL reference (and a literal one, with or without _history) to B's resident."""
    theirs = stored_id(sites, SITE_B, "Patient")
    for reference in (f"Patient/{theirs}", f"Patient/{theirs}/_history/1", f"{sites.server.url}/Patient/{theirs}",
                      f"https://elsewhere.example/fhir/Patient/{theirs}"):
        assert "outside the tablet's sites" in sites.refused(SITE_A, bundle(observation_of(reference)))
    # a reference to nothing stored, or of a form that cannot be placed, is refused the same way
    sites.refused(SITE_A, bundle(observation_of("Patient/does-not-exist")))
    sites.refused(SITE_A, bundle(observation_of("urn:oid:1.2.250.1.71")))
    # a site tag or an Organization of another site
    sites.refused(SITE_A, bundle(observation_of(f"Patient/{stored_id(sites, SITE_A, 'Patient')}", site=SITE_B)))
    org_b = stored_id(sites, SITE_B, "Organization")
    value = str(uuid.uuid4())
    moved = {"resourceType": "Patient", "identifier": [{"system": fhir.PATIENT_ID_SYSTEM, "value": value}],
             "managingOrganization": {"reference": f"Organization/{org_b}"}}
    sites.refused(SITE_A, bundle(create(moved, fhir.PATIENT_ID_SYSTEM, value)))


def test_a_conditional_create_matching_another_sites_record_creates_the_tablets_own(sites):
    """`ifNoneExist` matches only the tablet's sites: B's Encounter is neither reused nor changed."""
    theirs = stored_id(sites, SITE_B, "Encounter")
    reply = sites.post(SITE_A, session(SITE_A, f"resident-{SITE_A}", f"key-{SITE_B}"))
    assert reply.status_code == 200, reply.text
    locations = [e["response"]["location"] for e in reply.json()["entry"]]
    assert not any(theirs in location for location in locations)
    assert sites.ids(SITE_B, "Encounter") == {theirs}


def test_the_final_bundle_and_the_doctors_conclusions_pass_within_the_site(sites):
    """What the tablet and the doctors' application send: conditional updates of the Encounter, the Task by
    urn:uuid, the ClinicalImpression by literal `Patient/id` and `Encounter/id` — within the site: 200; pointing at
    another site's Encounter: 403."""
    final = session(SITE_A, f"resident-{SITE_A}", f"key-{SITE_A}")
    encounter = final["entry"][2]
    encounter["request"] = {"method": "PUT", "url": "Encounter?" + fhir.if_none_exist(
        fhir.ENCOUNTER_ID_SYSTEM, f"key-{SITE_A}")}
    encounter["resource"]["status"] = "finished"
    assert sites.post(SITE_A, final).status_code == 200
    [stored] = sites.get(SITE_A, "Encounter", identifier=f"{fhir.ENCOUNTER_ID_SYSTEM}|key-{SITE_A}").json()["entry"]
    assert stored["resource"]["status"] == "finished" and stored["resource"]["meta"]["versionId"] == "2"

    def conclusions(site: str, encounter_id: str) -> dict:
        words = exchange.DoctorConclusions(session_key=f"key-{site}", doctor_name="Dr Martin", doctor_rpps=None,
                                           conclusion="Surveillance", orientation=None, orientation_detail="",
                                           prescriptions="", written_at="2026-12-01T11:00:00+01:00")
        resource = exchange.conclusions_resource(words, patient_ref=f"Patient/{stored_id(sites, site, 'Patient')}",
                                                 encounter_ref=f"Encounter/{encounter_id}",
                                                 site_tag=tag(site)["tag"][0])
        query = fhir.if_none_exist(exchange.CONCLUSIONS_ID_SYSTEM, exchange.conclusions_value(f"key-{site}"))
        return bundle({"resource": resource, "request": {"method": "PUT", "url": f"ClinicalImpression?{query}"}})

    assert sites.post(SITE_A, conclusions(SITE_A, stored["resource"]["id"])).status_code == 200
    assert len(sites.ids(SITE_A, "ClinicalImpression")) == 1 and not sites.ids(SITE_B, "ClinicalImpression")
    sites.refused(SITE_A, conclusions(SITE_A, stored_id(sites, SITE_B, "Encounter")))


def test_the_audit_trail_goes_up_under_the_tablets_site_and_only_it_reads_it_back(tmp_path):
    """An audit extract names the tablet's site (its tag), so a registered tablet sends it and reads it back, and a
    tablet of another site does not see it."""
    registry = tmp_path / "tablets.json"
    mine = tablets.add_tablet(registry, "ehpad-demo", [DEMO_FINESS])
    theirs = tablets.add_tablet(registry, "ehpad-b", [SITE_B])
    with Store(tmp_path / "tablet.db") as store, DevServer(tmp_path / "server.db", tablets=registry) as server:
        seed_sessions(store, 1, seed=5)
        assert audit_extracts.freeze_extract(store, force=True) == 1
        assert Uploader(server.url, token=mine).push(store).audit_extracts == 1
        install = audit_extracts.install_id(store)
        assert len(Uploader(server.url, token=mine).fetch_audit_copy(install)) > 0
        assert Uploader(server.url, token=theirs).fetch_audit_copy(install) == []


def test_resources_stored_before_the_sites_were_recorded_get_the_sites_their_json_names(tmp_path):
    path = tmp_path / "server.db"
    ResourceDB(path).transaction(session(SITE_A, "resident-old", "key-old"))
    with sqlite3.connect(path) as conn:  # a file from before the sites were recorded
        conn.execute("DROP TABLE resource_sites")
    db = ResourceDB(path)
    scope = frozenset({SITE_A})
    assert {r["resourceType"] for r in db.search("Encounter", [], scope) + db.search("Patient", [], scope)
            + db.search("Organization", [], scope)} == {"Encounter", "Patient", "Organization"}
    assert db.search("Encounter", [], frozenset({SITE_B})) == []


def test_an_included_resource_of_another_site_is_left_out(tmp_path):
    """An open writer (the shared development token) may link sites; a tablet's search still includes only its own."""
    db = ResourceDB(tmp_path / "server.db")
    db.transaction(session(SITE_B, "resident-b", "key-b"))
    [theirs] = db.search("Patient", [])
    value = str(uuid.uuid4())
    db.transaction(bundle(create({"resourceType": "Encounter", "meta": tag(SITE_A), "status": "finished",
                                  "identifier": [{"system": fhir.ENCOUNTER_ID_SYSTEM, "value": value}],
                                  "subject": {"reference": f"Patient/{theirs['id']}"}},
                                 fhir.ENCOUNTER_ID_SYSTEM, value)))
    page = db.search_bundle("Encounter", [("_include", "Encounter:subject")], "http://x/fhir", frozenset({SITE_A}))
    assert [e["resource"]["resourceType"] for e in page["entry"]] == ["Encounter"]
    assert db.read("Patient", theirs["id"], frozenset({SITE_A})) is None
