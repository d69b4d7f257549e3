"""The uploader against a FHIR engine written by others: Medplum's FHIR router (in-memory repository) behind a
small Node wrapper (tests/medplum/server.mjs), which validates every resource with Medplum's validator.

Known gap, shown by the last test: Medplum refuses a transaction of conditional creates with more than 8 entries
("requires strict isolation"), and a complete Relais session has about 15, so complete sessions do not yet land
on Medplum; sessions within the limit do, exactly once, retries included."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from sync import outbox
from sync.seed import seed_sessions
from sync.store import Store
from sync.uploader import Uploader

HERE = Path(__file__).parent / "medplum"
pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(shutil.which("node") is None or not (HERE / "node_modules" / "@medplum").exists(),
                                 reason="Node or the Medplum packages are missing (bash .ci/setup installs them)")]


@pytest.fixture(scope="module")
def medplum():
    proc = subprocess.Popen(["node", "--experimental-websocket", str(HERE / "server.mjs"), "0"], cwd=HERE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/fhir)", banner)
        assert match, banner + proc.stderr.read()
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(10)


def observations(url, ident):
    return requests.get(f"{url}/Observation", params={"identifier": ident}, timeout=30).json().get("entry", [])


def observation_identifiers(store):
    for entry in outbox.entries(store):
        for e in json.loads(entry.payload)["entry"]:
            if e["resource"]["resourceType"] == "Observation":
                yield e["request"]["ifNoneExist"].removeprefix("identifier=")


def test_sessions_land_exactly_once_and_a_resend_creates_nothing(medplum, tmp_path):
    with Store(tmp_path / "tablet.db") as store:
        seed_sessions(store, 6, seed=11, complete=False)
        result = Uploader(medplum, batch_size=2).push(store)
        assert (result.sent, result.rejected, result.remaining) == (6, 0, 0)
        idents = list(observation_identifiers(store))
        assert idents and all(len(observations(medplum, i)) == 1 for i in idents)
        for entry in outbox.entries(store):            # the reply was "lost": the same bytes again
            again = requests.post(medplum, data=entry.payload_bytes,
                                  headers={"Content-Type": "application/fhir+json"}, timeout=30)
            assert again.status_code == 200
            assert all(e["response"]["status"].startswith("200") for e in again.json()["entry"])
        assert all(len(observations(medplum, i)) == 1 for i in idents)


def test_medplum_validation_refuses_an_invalid_resource(medplum):
    """Missing required status and an unknown element: refused whole with an OperationOutcome."""
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": "urn:uuid:6f0c2a4e-1a3b-4c5d-8e9f-000000000001",
        "resource": {"resourceType": "Observation", "code": {"text": "x"}, "valueColour": "red"},  # no status
        "request": {"method": "POST", "url": "Observation"}}]}
    reply = requests.post(medplum, json=bundle, timeout=30)
    assert reply.status_code == 400
    assert reply.json()["resourceType"] == "OperationOutcome"


def test_complete_session_hits_medplums_transaction_size_limit(medplum, tmp_path):
    with Store(tmp_path / "tablet.db") as store:
        seed_sessions(store, 1, seed=5)
        result = Uploader(medplum, batch_size=1).push(store)
        (entry,) = outbox.entries(store)
        assert result.rejected == 1 and "strict isolation" in entry.last_error
