"""One decision per value, everywhere: every threshold boundary of the clinical rules (sync.clinical.rules), just
below, at and just above, gives the same flag (a) in what the workflow proposes for review, (b) in the stored
measurement row, (c) in the FHIR Observation of the frozen bundle and (d) in the rows of the doctors' session
page, read back over FHIR from a real development server after a real upload. One patient and one session per
value, one store, one server."""
from __future__ import annotations

import re
from decimal import Decimal

import requests

from mobile.workflow.readings import check_temperature, decided_values
from mobile.workflow.state import ProposedValue
from mobile.workflow.vitals import manual_rows, manual_vitals
from sync import closing, fhir, outbox
from sync.server.doctors import records
from sync.store import Store
from sync.uploader import Uploader
from tests.support.servers import DevServer
from tests.sync.test_clinical_rules import BOUNDARIES

CHECKED = [(code, unit, value, flag) for code, unit, value, flag in BOUNDARIES if code != "8478-0"]  # no rule
FLAG_CODES = re.compile(r"\((LL|L|H|HH)\)")


def proposed(code: str, unit: str, value: str) -> tuple[ProposedValue, ...]:
    """What the workflow proposes for this value (with the device's other values, in their usual range)."""
    v, d = Decimal(value), Decimal
    if code == "8310-5":
        return (ProposedValue("temperature", code, v, unit, check_temperature(v, unit).flag),)
    if code == "9279-1":
        return tuple(ProposedValue("respiration_rate", c, d(val), u, f)
                     for c, val, u, f in manual_rows(manual_vitals(value, None, None)))
    if code in ("59408-5", "2708-6"):
        return decided_values("oximeter", (ProposedValue("spo2", code, v, unit),
                                           ProposedValue("pulse_rate", "8867-4", d(72), "/min")))[0]
    if code == "8867-4":
        return decided_values("oximeter", (ProposedValue("spo2", "59408-5", d(97), "%"),
                                           ProposedValue("pulse_rate", code, v, unit)))[0]
    systolic = v if code == "8480-6" else d(150)
    diastolic = v if code == "8462-4" else d(70)
    return decided_values("blood_pressure", (ProposedValue("systolic", "8480-6", systolic, unit),
                                             ProposedValue("diastolic", "8462-4", diastolic, unit)))[0]


def bundle_flags(payload: str) -> dict[tuple[str, Decimal], str | None]:
    """(LOINC, value) → the flag of every Observation and blood pressure component of a frozen bundle."""
    found = {}
    for entry in fhir.loads(payload)["entry"]:
        obs = entry["resource"]
        if obs["resourceType"] != "Observation":
            continue
        for item in [obs, *obs.get("component", [])]:
            if "valueQuantity" in item:
                codes = [c["code"] for i in item.get("interpretation", []) for c in i["coding"]]
                for coding in item["code"]["coding"]:  # SpO2 is coded twice (59408-5 and 2708-6)
                    found.setdefault((coding["code"], item["valueQuantity"]["value"]), codes[0] if codes else None)
    return found


def test_every_boundary_gives_one_flag_on_the_tablet_in_the_store_the_bundle_and_the_doctors_page(tmp_path):
    sessions = {}
    with Store(tmp_path / "tablet.db") as store:
        for n, (code, unit, value, flag) in enumerate(CHECKED):
            values = proposed(code, unit, value)
            mine = next(p for p in values if p.code == code and p.value == Decimal(value))
            assert mine.flag == flag, ("tablet", code, value)                                     # (a)
            pid = store.add_patient(family_name=f"Borne{'abcdefghij'[n // 10]}{'abcdefghij'[n % 10]}",
                                    given_name="Valeur", birth_date="1930-01-01", sex="F", birth_place_insee="75056")
            sid = store.open_session(pid)
            panel = "cuff" if code in ("8480-6", "8462-4") else None
            for p in values:
                store.add_measurement(sid, code=p.code, value=str(p.value), unit=p.unit, source="manual",
                                      panel_id=panel, interpretation=p.flag)
            row = next(m for m in store.measurements(sid) if m["code"] == code)
            assert row["interpretation"] == flag, ("store", code, value)                           # (b)
            payload = outbox.get_entry(store, closing.close_session(store, sid)).payload
            assert bundle_flags(payload)[(code, Decimal(value))] == flag, ("bundle", code, value)  # (c)
            sessions[n] = (code, value, flag, pid)
        with DevServer(tmp_path / "server.db") as server:
            result = Uploader(server.url).push(store)
            assert (result.rejected, result.remaining) == (0, 0)
            for n, (code, value, flag, pid) in sessions.items():
                flags = doctors_page_flags(server.url, pid)
                assert FLAG_CODES.findall(flags) == ([flag] if flag else []), ("page", code, value)  # (d)


def doctors_page_flags(url: str, patient_id: str) -> str:
    """The flags the doctors' session page writes for this patient's measurements (sync.server.doctors.records
    reads them back from the server over FHIR, as the page does)."""
    [patient] = requests.get(f"{url}/Patient", params={"identifier": f"{fhir.PATIENT_ID_SYSTEM}|{patient_id}"},
                             timeout=10).json()["entry"]
    found = requests.get(f"{url}/Observation", params={"subject": f"Patient/{patient['resource']['id']}"},
                         timeout=10).content
    rows = [records.measurement(e["resource"]) for e in fhir.loads(found)["entry"]]
    assert all(isinstance(r, records.Measurement) for r in rows)
    return " ".join(f for r in rows for f in r.flags)
