"""A tablet ready for a session in plain-Python workflow tests: a site, a signed-in staff member, a patient chosen
with consent and the room checklist done; the end of a session (vitals, call, summary, close); and the checks that
a step was refused with a given code."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import pytest

from devices.parsers.temperature import parse_temperature_measurement
from devices.reading import DeviceIdentity, DeviceReading

PIN = "2468"
NOW = dt.datetime(2026, 11, 22, 7, 5, tzinfo=dt.timezone.utc)
DEMO = dict(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F", birth_place_insee="75056")


def reading_from(hexstr: str, received_at: dt.datetime = NOW) -> DeviceReading:
    raw = bytes.fromhex(hexstr)
    return DeviceReading("thermometer", parse_temperature_measurement(raw), raw,
                         DeviceIdentity("C0:DE:00:00:00:10", "Relais Thermo", "Sim", "M1", "SN1", "1.0"),
                         received_at, 80)


class ScriptedThermometer:
    """Hands out prepared readings (or errors) after reporting the states a real driver reports."""

    def __init__(self, *results):
        self.results = list(results)
        self.gate: asyncio.Event | None = None

    async def __call__(self, on_state, on_live):
        on_state("scanning")
        on_state("measuring")
        on_live(parse_temperature_measurement(bytes.fromhex("00700100FF")))  # 36.8 live
        if self.gate is not None:
            await self.gate.wait()
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def set_up_tablet(store) -> str:
    """A pharmacy-free EHPAD site and one nursing aide (PIN 2468); returns the staff id."""
    site_id = store.add_site(kind="ehpad", name="EHPAD Les Tilleuls")
    store.set_setting("site_id", site_id)
    return store.add_staff(display_name="Camille Soignante", role="aide_soignant", pin=PIN)


def sign_in(wf) -> str:
    staff = wf.staff_members()
    staff_id = staff[0]["id"] if staff else set_up_tablet(wf.store)
    wf.sign_in(staff_id, PIN)
    return staff_id


def start(wf, **consent: Any) -> None:
    """Consent given by the patient, the checklist done, a reason."""
    wf.start_session(reason=consent.pop("reason", "Toux et fièvre"), consent=consent.pop("consent", "given"),
                     room_closed=True, device_hygiene=True, accessibility=True, **consent)


def begin(wf, traits: dict[str, Any]) -> str:
    """Sign in (setting the tablet up if needed), create the patient, start the session. Returns the patient id."""
    if wf.state.staff is None:
        sign_in(wf)
    patient_id = wf.create_patient(**traits)
    start(wf)
    return patient_id


def close_session(wf, *, respiration_rate: str | None = "16", consciousness: str | None = "A",
                  on_oxygen: bool | None = False, doctor: str = "Dr Marc Téléconsultant",
                  conclusion: str = "Pas de signe de gravité.") -> str:
    """From the measurements to a closed session: store them, vitals by hand, the call, the summary."""
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate=respiration_rate, consciousness=consciousness, on_oxygen=on_oxygen)
    wf.start_call(doctor_name=doctor)
    wf.end_call(conclusion=conclusion, orientation="stay")
    return wf.close(summary=wf.state.summary_draft)


@contextlib.contextmanager
def refused(code: str):
    """The block raises a WorkflowError with this code (what staff are told is the catalog's business)."""
    from mobile.workflow import WorkflowError

    with pytest.raises(WorkflowError) as caught:
        yield caught
    assert caught.value.code == code, f"{caught.value!r}: {caught.value.code} instead of {code}"


@contextlib.contextmanager
def refused_by_store(french: str):
    """The block raises a WorkflowError for an input the store refused; staff read `french` in it (in French)."""
    from mobile.messages import error_text
    from mobile.workflow import WorkflowError

    with pytest.raises(WorkflowError) as caught:
        yield caught
    assert french in error_text(caught.value, "fr"), error_text(caught.value, "fr")
