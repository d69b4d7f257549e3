"""A session with a request to a remote doctor, for the tests of the live sends (sync.live): a site, a nurse, a
resident, the session open with a first temperature."""
from __future__ import annotations

from typing import Any

from sync.fhir.exchange import REQUEST_ID_SYSTEM, request_value
from sync.fhir.terminology import ENCOUNTER_ID_SYSTEM
from tests.support.samples import SAMPLE_TRAITS

READINGS = (("8310-5", "37.60", "Cel"), ("8867-4", "88", "/min"), ("59408-5", "95", "%"), ("8310-5", "38.10", "Cel"))


def open_session_with_staff(store: Any) -> str:
    """A session for a new resident, at the store's site by its nurse (both made on first use)."""
    sites, staff = store.list_sites(), store.list_staff()
    site_id = sites[0]["id"] if sites else store.add_site(kind="ehpad", name="EHPAD Les Tilleuls",
                                                          finess="750712184")
    staff_id = staff[0]["id"] if staff else store.add_staff(display_name="Inès Infirmière", role="infirmier",
                                                            adeli="751234567")
    patient_id = store.add_patient(**{**SAMPLE_TRAITS, "birth_date": f"1938-04-{len(store.find_patients()) + 2:02d}"})
    session_id = store.open_session(patient_id, site_id=site_id, staff_id=staff_id, reason="Fièvre")
    add_reading(store, session_id, 0)
    return session_id


def add_reading(store: Any, session_id: str, n: int) -> str:
    code, value, unit = READINGS[n]
    at = f"2024-05-01T10:{10 + n:02d}:00+02:00"
    return store.add_measurement(session_id, code=code, value=value, unit=unit, source="manual", measured_at=at,
                                 received_at=at)


def identifiers(store: Any, session_id: str) -> dict[str, str]:
    """The search values (`identifier=SYSTEM|VALUE`) of the session's Encounter and Task."""
    key = store.get_session(session_id)["idempotency_key"]
    return {"Encounter": f"{ENCOUNTER_ID_SYSTEM}|{key}", "Task": f"{REQUEST_ID_SYSTEM}|{request_value(key)}"}


def conclude(store: Any, session_id: str) -> None:
    """What staff note when the doctor concluded (the Task then ends completed)."""
    store.update_session(session_id, started_at="2024-05-01T10:20:00+02:00", ended_at="2024-05-01T10:35:00+02:00",
                         remote_doctor_name="Dr Lucie Distant")
    store.add_note(session_id, kind="remote_doctor_conclusion", text="Pas de signe de gravité.",
                   author="Dr Lucie Distant")
