"""A tablet ready for a session in plain-Python workflow tests: a site, a signed-in staff member, a patient chosen
with consent and the room checklist done; and the end of a session (vitals, call, summary, close)."""
from __future__ import annotations

from typing import Any

PIN = "2468"


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
