"""Sample data for store and upload tests: a fictitious patient's traits, a valid INS, one closed session."""
from __future__ import annotations

from typing import Any
from sync import closing

SAMPLE_TRAITS: dict[str, Any] = dict(family_name="Martin", given_name="Jeanne", birth_date="1938-04-02", sex="F",
                                     birth_place_insee="75056")


def valid_ins(first13: str = "2380475056123") -> str:
    """A 15-character INS (NIR) with a correct control key, for tests (fictitious person)."""
    body = first13.replace("2A", "19").replace("2B", "18") if first13[5:7] in ("2A", "2B") else first13
    return f"{first13}{97 - int(body) % 97:02d}"


def closed_session(store: Any, *, value: str = "37.60", measured_at: str | None = "2024-05-01T10:15:00+02:00",
                   received_at: str = "2024-05-01T08:15:30+00:00", patient_id: str | None = None,
                   **traits: Any) -> tuple[str, str, str]:
    """One patient (created unless given), one session with one temperature, closed: (patient, session, outbox)."""
    if patient_id is None:
        patient_id = store.add_patient(**{**SAMPLE_TRAITS, **traits})
    session_id = store.open_session(patient_id)
    store.add_measurement(session_id, code="8310-5", value=value, unit="Cel", measured_at=measured_at,
                          received_at=received_at, device={"address": "C0:FF:EE:00:00:01", "name": "Thermo-1",
                                                           "manufacturer": "Acme", "model": "T100"},
                          raw=b"\x00\x10\x0e\x00\xfe", status=["site:armpit"])
    return patient_id, session_id, closing.close_session(store, session_id)


def fill_pages(store, sessions: int = 30) -> None:
    """Enough closed sessions, of distinct residents, to spread the file over many pages, all checkpointed into the
    main file: a page in its middle can then be damaged on purpose."""
    for i in range(sessions):
        closed_session(store, value=f"37.{i:02d}", family_name="Nom" + "".join(chr(97 + int(d)) for d in f"{i:02d}"))
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
