"""The uploader against a FHIR engine written by others: Medplum's FHIR router (in-memory repository) behind a
small Node wrapper (tests/medplum/server.mjs), which validates every resource with Medplum's validator.

Medplum refuses a transaction of conditional creates with more than 8 entries ("requires strict isolation") and a
complete Relais session has about 15: the uploader learns the limit from that refusal (or is given it,
`Uploader(max_entries=8)`), and each session goes as dependency-ordered transactions of at most 8 entries, later ones
referring to earlier ones by the ids Medplum answered; replies lost after Medplum committed are retried and nothing
is duplicated."""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from sync import fhir, outbox
from sync.seed import seed_sessions
from sync.store import Store
from sync.uploader import Uploader
from sync import closing

HERE = Path(__file__).resolve().parents[1] / "medplum"
ROOT = HERE.parents[1]
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


def searched(entry):
    """(type, identifier search value) of a bundle entry: its conditional create's or conditional update's query."""
    request = entry["request"]
    rtype, _, query = (request["url"] if request["method"] == "PUT" else
                       f"{request['url']}?{request['ifNoneExist']}").partition("?")
    return rtype, query.removeprefix("identifier=")


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


class Recording(requests.Session):
    """Forwards to Medplum and keeps each transaction's entry count and the status of the reply."""

    def __init__(self):
        super().__init__()
        self.exchanges: list[tuple[int, int]] = []

    def post(self, url, data=None, **kw):
        body = gzip.decompress(data) if kw.get("headers", {}).get("Content-Encoding") == "gzip" else data
        response = super().post(url, data=data, **kw)
        self.exchanges.append((len(json.loads(body)["entry"]), response.status_code))
        return response


def test_push_without_a_limit_learns_medplums_eight_and_starts_with_it_next_time(medplum, tmp_path):
    """No --max-entries: Medplum refuses the first transaction ("strict isolation"), the uploader sends the same
    complete sessions in dependency-ordered parts of 8, quarantines nothing, and the store remembers 8 for this
    server (shown by `status`), so the next pass never sends a transaction Medplum refuses."""
    db = tmp_path / "tablet.db"
    with Store(db) as store:
        seed_sessions(store, 3, seed=5)
        assert min(len(json.loads(e.payload)["entry"]) for e in outbox.entries(store)) > 8
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    pushed = subprocess.run([sys.executable, "-m", "sync", "push", "--db", str(db), "--server", medplum],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["sent"] == 3 and json.loads(pushed.stdout)["rejected"] == 0
    status = subprocess.run([sys.executable, "-m", "sync", "status", "--db", str(db)], capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=60)
    assert json.loads(status.stdout)["transaction_limits"] == {medplum: 8}
    with Store(db) as store:
        for payload in (json.loads(e.payload) for e in outbox.entries(store)):
            for e in payload["entry"]:  # every entry landed once, none twice
                rtype, ident = searched(e)
                assert len(requests.get(f"{medplum}/{rtype}", params={"identifier": ident},
                                        timeout=30).json().get("entry", [])) == 1
        seed_sessions(store, 2, seed=6)
        http = Recording()
        result = Uploader(medplum, http=http).push(store)
        assert (result.sent, result.rejected, result.remaining) == (2, 0, 0)
        assert http.exchanges and all(n <= 8 and status == 200 for n, status in http.exchanges)


class LosesReplies(requests.Session):
    """The reply to the POSTs numbered in `lose` is lost after Medplum committed."""

    def __init__(self, lose):
        super().__init__()
        self.lose, self.posts = lose, 0

    def post(self, url, data=None, **kw):
        self.posts += 1
        response = super().post(url, data=data, **kw)
        if self.posts in self.lose:
            raise requests.ConnectionError("reset after commit")
        return response


def test_complete_sessions_land_exactly_once_in_parts_of_eight(medplum, tmp_path):
    with Store(tmp_path / "tablet.db") as store:
        seed_sessions(store, 4, seed=21)
        payloads = [json.loads(e.payload) for e in outbox.entries(store)]
        assert min(len(p["entry"]) for p in payloads) > 8
        uploader = Uploader(medplum, max_entries=8, http=LosesReplies({2, 5, 9}))
        for _ in range(20):
            result = uploader.push(store, ignore_backoff=True)
            if result.remaining == 0:
                break
        assert store.outbox_counts()["sent"] == 4 and result.rejected == 0
        for payload in payloads:
            for e in payload["entry"]:
                rtype, ident = searched(e)
                found = requests.get(f"{medplum}/{rtype}", params={"identifier": ident},
                                     timeout=30).json().get("entry", [])
                assert len(found) == 1, (rtype, ident)
        # what Medplum holds is linked by its own ids: every Composition section entry resolves
        compositions = [found for payload in payloads for e in payload["entry"]
                        if e["resource"]["resourceType"] == "Composition"
                        for found in requests.get(f"{medplum}/Composition", timeout=30, params={
                            "identifier": e["request"]["ifNoneExist"].removeprefix("identifier=")}).json()["entry"]]
        assert len(compositions) == 4
        refs = [ref["reference"] for c in compositions for section in c["resource"].get("section", [])
                for ref in section.get("entry", [])] + [c["resource"]["subject"]["reference"] for c in compositions]
        assert len(refs) > 8 and not any(r.startswith("urn:uuid:") for r in refs)
        for ref in refs:
            assert requests.get(f"{medplum}/{ref}", timeout=30).status_code == 200, ref


def test_an_addendum_lands_on_medplum_after_its_session_and_points_at_its_encounter(medplum, tmp_path):
    with Store(tmp_path / "tablet.db") as store:
        result = seed_sessions(store, 1, seed=21)
        (session_id,) = result.sessions
        staff_id = store.get_session(session_id)["staff_id"]
        addendum_id = closing.add_addendum(store, session_id, staff_id=staff_id, text="Bilan biologique reçu : normal.")
        pushed = Uploader(medplum, max_entries=8).push(store)
        assert (pushed.sent, pushed.rejected, pushed.remaining) == (2, 0, 0)  # validated by Medplum
        key = store.get_session(session_id)["idempotency_key"]
        (encounter,) = [e["resource"] for e in requests.get(
            f"{medplum}/Encounter", params={"identifier": f"{fhir.ENCOUNTER_ID_SYSTEM}|{key}"}, timeout=30
        ).json()["entry"]]
        (addendum,) = [e["resource"] for e in requests.get(
            f"{medplum}/Composition", params={"identifier": f"{fhir.ADDENDUM_ID_SYSTEM}|{addendum_id}"}, timeout=30
        ).json()["entry"]]
        ident = addendum["encounter"]["identifier"]
        assert (ident["system"], ident["value"]) in [(i["system"], i["value"]) for i in encounter["identifier"]]
        assert addendum["relatesTo"] == [{"code": "appends", "targetIdentifier": {
            "system": fhir.COMPOSITION_ID_SYSTEM, "value": key}}]


def test_an_extract_of_the_audit_trail_lands_on_medplum(medplum, tmp_path):
    from sync import audit, audit_extracts

    with Store(tmp_path / "tablet.db") as store:
        seed_sessions(store, 2, seed=22)
        assert audit_extracts.freeze_extract(store, force=True) == 1
        uploader = Uploader(medplum, max_entries=8)
        result = uploader.push(store)
        assert (result.sent, result.audit_extracts, result.stopped) == (2, 1, None)  # validated by Medplum
        copy = uploader.fetch_audit_copy(audit_extracts.install_id(store))
        assert len(copy) == len(audit.rows(store)) and audit.compare(store, copy).ok
