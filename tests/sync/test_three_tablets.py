"""Three tablets of one site against the development server: edits made offline on two tablets converge on every
tablet to the latest edit per field after push and pull rounds; a qualified identity cannot be changed from a
tablet (the store refuses, and so does the server); the same person created offline on two tablets is detected,
merged by an administrator on a third, and the merge reaches every tablet. Each tablet syncs as the app's
background loop does: the push (sync.uploader), then the site pull (sync.pull, as `python -m sync pull`)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import requests

from sync import fhir
from sync.fhir.patient_fields import resident_resource
from sync.pull.client import SearchClient
from sync.pull.run import pull as pull_site
from sync.store import IdentityError, Store
from sync.store.patient_stamps import stamps_of
from sync.uploader import Uploader
from tests.support.clocks import SettableClock
from tests.support.servers import DevServer

INS = "235047505612347"  # fictitious (born 1935-04 in Paris), valid key
TRAITS = dict(family_name="Démo-Tilleul", given_name="Lucette", birth_date="1935-04-02", sex="F",
              birth_place_insee="75056")
FIELDS = ("family_name", "given_name", "birth_date", "sex", "birth_place_insee", "identity_status", "ins",
          "usual_name", "room", "gp_name", "gp_mssante", "merged_into")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with DevServer(tmp_path_factory.mktemp("server") / "server.db") as srv:
        yield srv


@pytest.fixture
def clock():
    return SettableClock(dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc))


@pytest.fixture
def tablets(tmp_path, clock):
    stores = [Store(tmp_path / f"tablet-{name}.db", clock=clock) for name in "abc"]
    site = stores[0].add_site(kind="ehpad", name="EHPAD Démo des Tilleuls")
    for store in stores:
        if store is not stores[0]:
            with store.transaction():  # the same site on every tablet (site set-up copies it, in the field)
                store.db["sites"].insert(stores[0].get_site(site))
        store.set_setting("site_id", site)
    yield stores
    for store in stores:
        store.close()


def pull(server_url: str, store: Store) -> dict[str, int]:
    """The site pull; how many residents it created, updated, left unchanged, found probably duplicate."""
    return dict(pull_site(store, SearchClient(server_url)).counts["residents"])


def sync_rounds(server_url: str, stores: list[Store], rounds: int = 3) -> None:
    """What the app's background loop does on each tablet: push, then pull; a few times over."""
    for _ in range(rounds):
        for store in stores:
            result = Uploader(server_url).push(store)
            assert result.stopped is None, result
            pull(server_url, store)


def record(store: Store, patient_id: str) -> dict:
    row = store.get_patient(patient_id)
    return {column: row[column] for column in FIELDS}


def pending(store: Store) -> int:
    return store.query("SELECT count(*) AS n FROM patient_outbox WHERE state = 'pending'")[0]["n"]


def test_offline_edits_on_two_tablets_converge_to_the_latest_edit_per_field(server, tablets, clock):
    a, b, c = tablets
    resident = a.add_patient(**{**TRAITS, "given_name": "Odile"}, room="12")
    sync_rounds(server.url, tablets, rounds=1)
    assert all(store.get_patient(resident)["room"] == "12" for store in tablets)
    # the network is down; two tablets edit the same resident
    clock.advance(10)
    c.update_patient(resident, room="15")
    clock.advance(10)
    b.update_patient(resident, room="14")                       # the latest room
    b.set_patient_gp(resident, name="Dr Démo", address="dr.demo@medecin.mssante.test")
    clock.advance(10)
    c.update_patient(resident, usual_name="Martin")             # the latest usual name
    # back online: C then B push first, as it happens
    sync_rounds(server.url, [c, b, a])
    expected = {**record(a, resident), "room": "14", "usual_name": "Martin", "gp_name": "Dr Démo"}
    assert [record(store, resident) for store in tablets] == [expected] * 3
    assert [pending(store) for store in tablets] == [0, 0, 0]
    stamps = {json.dumps(stamps_of(store.get_patient(resident)), sort_keys=True) for store in tablets}
    assert len(stamps) == 1  # the same stamps everywhere: nothing left to settle
    [stored] = requests.get(f"{server.url}/Patient", params={
        "identifier": f"{fhir.PATIENT_ID_SYSTEM}|{resident}"}, timeout=10).json()["entry"]
    assert any(e.get("valueString") == "14" for e in stored["resource"]["extension"])


def test_a_qualified_identity_cannot_be_changed_from_a_tablet(server, tablets, clock):
    a, b, _c = tablets
    resident = a.add_patient(**{**TRAITS, "given_name": "Paule"}, identity_status="QUAL", ins=INS,
                             identity_method="INSI")
    sync_rounds(server.url, [a, b], rounds=1)
    with pytest.raises(IdentityError):
        b.update_patient(resident, family_name="Autre")
    # a tablet that would send it anyway (an old version, a bug): the server keeps the qualified identity
    changed = resident_resource({**b.get_patient(resident), "family_name": "Autre"},
                                stamps_of(b.get_patient(resident)), ins_system=fhir.INS_SYSTEM)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": changed, "request": {
        "method": "PUT", "url": "Patient?" + fhir.if_none_exist(fhir.PATIENT_ID_SYSTEM, resident)}}]}
    reply = requests.post(server.url, json=bundle, timeout=10, headers={"Content-Type": "application/fhir+json"})
    assert reply.status_code == 422 and reply.json()["resourceType"] == "OperationOutcome"
    clock.advance(60)
    b.update_patient(resident, room="2")  # what is not the identity still travels
    sync_rounds(server.url, [b, a], rounds=2)
    assert record(a, resident)["room"] == "2" and record(a, resident)["family_name"] == "Démo-Tilleul"


def test_the_same_person_created_offline_on_two_tablets_is_merged_by_an_administrator(server, tablets, clock):
    a, b, c = tablets
    on_b = b.add_patient(**{**TRAITS, "given_name": "Simone"}, room="7")
    clock.advance(60)
    on_c = c.add_patient(**{**TRAITS, "given_name": "Simone"}, usual_name="Martin")
    assert on_b != on_c
    for store in (b, c):
        Uploader(server.url).push(store)
    outcomes = {store: pull(server.url, store) for store in (a, b, c)}
    assert outcomes[b].get("duplicate") and outcomes[c].get("duplicate")
    (pair,) = a.open_duplicates()
    assert {pair["a"]["id"], pair["b"]["id"]} == {on_b, on_c}
    assert a.merge_duplicates(pair["id"]) == on_b  # the older record
    sync_rounds(server.url, [a, b, c], rounds=2)
    for store in tablets:
        assert store.get_patient(on_c)["merged_into"] == on_b
        assert store.open_duplicates() == []
        assert [p["id"] for p in store.find_patients("Simone")] == [on_b]
    merged = requests.get(f"{server.url}/Patient", params={
        "identifier": f"{fhir.PATIENT_ID_SYSTEM}|{on_c}"}, timeout=10).json()["entry"][0]["resource"]
    assert merged["active"] is False and merged["link"][0]["type"] == "replaced-by"
