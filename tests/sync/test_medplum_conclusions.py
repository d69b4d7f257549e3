"""The doctor's conclusions on Medplum's FHIR engine (tests/medplum/server.mjs, every resource validated by Medplum):
written as the doctors' application writes them (a transaction holding `PUT ClinicalImpression?identifier=…`),
found by the tablet's search `ClinicalImpression?_tag=<site tag>` (Medplum pages by the watermark: no `next`
links), read back by the shared reader; writing again is a new version of the same resource, which replaces the
one staff have not accepted yet."""
from __future__ import annotations

import requests

from sync.fhir.exchange import CONCLUSIONS_ID_SYSTEM, conclusions_value
from sync.pull import SearchClient
from sync.pull.conclusions import pull_conclusions
from sync.seed import seed_sessions
from sync.store import Store
from sync.uploader import Uploader
from tests.support.doctor_side import SIGNED, doctor_signs, encounter_of
from tests.sync.test_medplum import medplum, pytestmark  # noqa: F401 - the engine, shared the same way


def stored_versions(url: str, key: str) -> list[dict]:
    reply = requests.get(f"{url}/ClinicalImpression",
                         params={"identifier": f"{CONCLUSIONS_ID_SYSTEM}|{conclusions_value(key)}"}, timeout=30)
    return [e["resource"] for e in reply.json().get("entry") or ()]


def test_conclusions_written_on_medplum_come_down_to_the_tablet(medplum, tmp_path):  # noqa: F811
    with Store(tmp_path / "tablet.db") as store:
        seed_sessions(store, 1, seed=7)  # one closed session of the demo site, its Encounter tagged with the site
        [session] = store.query("SELECT id, idempotency_key FROM sessions")
        session_id, key = session["id"], session["idempotency_key"]
        assert Uploader(medplum, max_entries=8).push(store).remaining == 0
        encounter = encounter_of(medplum, key)
        doctor_signs(medplum, key, encounter=encounter)
        assert pull_conclusions(store, SearchClient(medplum)) == {"created": 1}
        doctor_signs(medplum, key, encounter=encounter, conclusion="Finalement : angine.",
                     written_at="2026-11-22T08:20:00+01:00")
        [resource] = stored_versions(medplum, key)  # the same resource, a new version
        assert resource["summary"] == "Finalement : angine."
        assert pull_conclusions(store, SearchClient(medplum)) == {"updated": 1}
        waiting = store.waiting_conclusions(session_id)
        assert (waiting["conclusion"], waiting["doctor_rpps"]) == ("Finalement : angine.", SIGNED.doctor_rpps)
        assert waiting["version"] == resource["meta"]["versionId"]
        assert pull_conclusions(store, SearchClient(medplum)) == {}
