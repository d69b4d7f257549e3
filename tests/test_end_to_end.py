"""End to end: simulated thermometer (GATT on Bumble, read through bleak) → workflow → SQLite store → outbox →
uploader (requests) → the development sync server as a real subprocess → stored exactly once."""
from __future__ import annotations

import json

import pytest
import requests

from devices.drivers import ThermometerDriver
from devices.simulated import SimulatedThermometer, VirtualRadio
from devices.simulated.bleak_backend import simulated_transport
from mobile.workflow import SessionWorkflow
from sync import frozen_payloads
from sync.server.process import LocalServer
from sync.store import Store
from sync.uploader import Uploader
from tests.support.workflow import begin, close_session

pytestmark = pytest.mark.timeout(90)

DEMO = dict(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F", birth_place_insee="75056")


async def measured_session(store: Store) -> tuple[str, str]:
    radio = VirtualRadio()
    thermometer = SimulatedThermometer(radio)
    await thermometer.start()

    async def read(on_state, on_live):
        return await ThermometerDriver(simulated_transport(radio), on_state=on_state, on_live=on_live).read()

    workflow = SessionWorkflow(store, read)
    patient_id = begin(workflow, DEMO)  # signed in, patient chosen, consent and room checklist recorded
    proposal = await workflow.measure_temperature()
    assert proposal is not None and str(proposal.value) == "37.60"
    # nothing assessed by hand here: the session carries the one Bluetooth reading
    session_id = close_session(workflow, respiration_rate=None, consciousness=None, on_oxygen=None)
    await thermometer.stop()
    return patient_id, session_id


def server_holds(url: str, resource_type: str) -> list[dict]:
    """Every resource of a type on the server, read over HTTP."""
    reply = requests.get(f"{url}/{resource_type}", timeout=10)
    reply.raise_for_status()
    return [e["resource"] for e in reply.json().get("entry", [])]


def observation_values(url: str) -> list[tuple[str, object, str, str]]:
    out = []
    for obs in server_holds(url, "Observation"):
        out.append((obs["code"]["coding"][0]["code"], obs["valueQuantity"]["value"], obs["valueQuantity"]["code"],
                    obs["subject"]["reference"]))
    return out


async def test_thermometer_reading_reaches_the_server_exactly_once(tmp_path):
    store = Store(tmp_path / "tablet.db")
    _, session_id = await measured_session(store)
    with LocalServer(tmp_path / "server.db") as server:
        result = Uploader(server.url).push(store)
        assert (result.sent, result.remaining) == (1, 0)
        assert store.session_sync_state(session_id) == "sent"
        patients = server_holds(server.url, "Patient")
        assert len(patients) == 1 and patients[0]["name"][0]["family"] == "DÉMO"
        assert observation_values(server.url) == [("8310-5", 37.6, "Cel", f"Patient/{patients[0]['id']}")]
        raw = requests.get(f"{server.url}/Observation", timeout=10).text
        assert "37.60" in raw  # the precision the device sent survives to the server


async def test_same_upload_sent_twice_creates_nothing_new(tmp_path):
    store = Store(tmp_path / "tablet.db")
    _, session_id = await measured_session(store)
    (payload,) = store.db.query("SELECT * FROM outbox WHERE session_id = ?", [session_id])
    with LocalServer(tmp_path / "server.db") as server:
        assert Uploader(server.url).push(store).sent == 1
        # The reply was "lost": the tablet resends the very same frozen bytes.
        again = requests.post(server.url, data=frozen_payloads.unpack(payload["payload"]).encode(),
                              headers={"Content-Type": "application/fhir+json"}, timeout=10)
        assert again.status_code == 200
        statuses = [e["response"]["status"] for e in again.json()["entry"]]
        assert all(s.startswith("200") for s in statuses), statuses
        assert len(server_holds(server.url, "Patient")) == 1
        assert len(observation_values(server.url)) == 1


async def test_server_down_first_then_up(tmp_path):
    store = Store(tmp_path / "tablet.db")
    _, session_id = await measured_session(store)
    server = LocalServer(tmp_path / "server.db")
    server.start()
    url = server.url
    server.stop()                                   # the network is gone
    first = Uploader(url, connect_timeout=1, read_timeout=2).push(store)
    assert first.sent == 0 and first.remaining == 1
    assert store.session_sync_state(session_id) == "pending"
    with LocalServer(tmp_path / "server.db", port=server.port) as again:  # the network is back
        result = Uploader(again.url).push(store, ignore_backoff=True)  # "send now": skip the backoff wait
        assert (result.sent, result.remaining) == (1, 0)
        assert len(observation_values(again.url)) == 1
        assert store.session_sync_state(session_id) == "sent"


def test_frozen_payload_is_what_the_session_says(tmp_path):
    """Sanity: the outbox payload is a transaction of conditional creates on stable identifiers."""
    import asyncio

    store = Store(tmp_path / "tablet.db")
    _, session_id = asyncio.run(measured_session(store))
    (row,) = store.db.query("SELECT * FROM outbox WHERE session_id = ?", [session_id])
    bundle = json.loads(frozen_payloads.unpack(row["payload"]))
    assert bundle["type"] == "transaction"
    for entry in bundle["entry"]:  # the Encounter and the request's Task are conditional updates (sync.live)
        rtype = entry["resource"]["resourceType"]
        if rtype in ("Encounter", "Task"):
            assert entry["request"]["method"] == "PUT" and entry["request"]["url"].startswith(f"{rtype}?identifier=")
            continue
        assert entry["request"]["method"] == "POST"
        assert entry["request"]["ifNoneExist"].startswith("identifier=")
