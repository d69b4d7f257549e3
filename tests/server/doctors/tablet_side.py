"""The tablet's side of a request, as the tests need it: a real tablet store opens a session at a site, takes
readings, and sends the session so far with its request (`Task`) as one transaction of conditional creates
(sync.fhir.session_bundle + sync.fhir.exchange.request_task), again after each new reading.

Every name here is invented."""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path

import requests

from sync import closing, fhir
from sync.fhir.bundle import conditional_create, resource_uuid, site_tag
from sync.fhir.exchange import REQUEST_ID_SYSTEM, request_task, request_value
from sync.store import Store

_births = itertools.count()


@dataclass
class Asked:
    """One session sent with its request: the tablet's ids and the server's."""

    store: Store
    session_id: str
    key: str
    kind: str
    reason: str
    authored_on: str
    url: str
    encounter_id: str = ""
    patient_id: str = ""


def tablet(path: Path, finess: str, name: str = "EHPAD de démonstration Les Tilleuls") -> tuple[Store, dict]:
    store = Store(path)
    store.add_site(kind="ehpad", name=name, finess=finess)
    return store, store.list_sites()[0]


def request_bundle(asked: Asked) -> dict:
    """The session so far (Encounter in progress, its readings) and its request, tagged with the site."""
    store = asked.store
    session = store.get_session(asked.session_id)
    bundle = closing.session_bundle(store, session, store.measurements(asked.session_id), [], None)
    site = store.list_sites()[0]
    patient_url = bundle["entry"][0]["fullUrl"]
    task = request_task(session_key=asked.key, kind=asked.kind, status="requested", reason=asked.reason,
                        authored_on=asked.authored_on, patient_ref=patient_url,
                        encounter_ref=f"urn:uuid:{resource_uuid(fhir.ENCOUNTER_ID_SYSTEM, asked.key)}",
                        requester_ref=None)
    task["meta"] = {"tag": [site_tag(site)]}
    bundle["entry"].append(conditional_create(task, REQUEST_ID_SYSTEM, request_value(asked.key)))
    return bundle


def send(asked: Asked) -> None:
    reply = requests.post(asked.url, data=fhir.dumps(request_bundle(asked)).encode(), timeout=30,
                          headers={"Content-Type": "application/fhir+json"})
    assert reply.status_code == 200, reply.text
    if not asked.encounter_id:
        [entry] = requests.get(f"{asked.url}/Encounter", timeout=30, params={
            "identifier": f"{fhir.ENCOUNTER_ID_SYSTEM}|{asked.key}"}).json()["entry"]
        asked.encounter_id = entry["resource"]["id"]
        asked.patient_id = entry["resource"]["subject"]["reference"].split("/")[-1]


def ask(url: str, store: Store, *, family: str, given: str, reason: str, kind: str = "teleconsultation",
        minutes_ago: int = 10, readings: tuple[tuple[str, str, str, str | None], ...] = (
            ("8867-4", "104", "/min", "H"), ("8310-5", "38.4", "Cel", "H"))) -> Asked:
    """A resident, an open session with these readings, and its request sent to the server at `url`."""
    site = store.list_sites()[0]
    born = dt.date(1930, 1, 1) + dt.timedelta(days=next(_births))  # residents of the same name stay distinct
    pid = store.add_patient(family_name=family, given_name=given, birth_date=born.isoformat(), sex="F",
                            birth_place_insee="75056")
    sid = store.open_session(pid, reason=reason, site_id=site["id"])
    for code, value, unit, flag in readings:
        store.add_measurement(sid, code=code, value=value, unit=unit, source="manual", interpretation=flag)
    authored = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)
    asked = Asked(store, sid, store.get_session(sid)["idempotency_key"], kind, reason,
                  authored.isoformat(timespec="seconds"), url)
    send(asked)
    return asked


def add_reading(asked: Asked, code: str, value: str, unit: str, flag: str | None = None) -> None:
    """One more reading, and the session so far sent again (the conditional creates add only the new one)."""
    asked.store.add_measurement(asked.session_id, code=code, value=value, unit=unit, source="manual",
                                interpretation=flag)
    send(asked)
