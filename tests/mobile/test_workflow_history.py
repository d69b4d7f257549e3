"""The history step in plain Python: opened from the patient list for any resident (no session opened, the look
traced in the audit trail) or from the vitals for the session's resident, refused elsewhere, and closed back to
where it came from with the session as it was."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mobile.workflow import SessionWorkflow
from tests.support.history import add_pulled_session
from tests.support.workflow import DEMO, NOW, begin, refused, sign_in

pytestmark = pytest.mark.timeout(30)


def test_from_the_patient_list_no_session_is_opened_and_the_look_is_traced(store, clock):
    wf = SessionWorkflow(store, clock=clock)
    sign_in(wf)
    patient_id = store.add_patient(**DEMO)
    add_pulled_session(store, patient_id, NOW - dt.timedelta(days=3), [("8867-4", "71", "/min", None)])
    wf.open_history(patient_id)
    assert (wf.state.step, wf.state.session_id, wf.state.history_patient["id"]) == ("history", None, patient_id)
    assert [r.value for r in wf.resident_history().of("8867-4")] == [Decimal(71)]
    views = store.query("SELECT subject_id, detail FROM audit_log WHERE action = 'view' AND subject_kind = 'patient'")
    assert {"subject_id": patient_id, "detail": "history"} in views
    wf.close_history()
    assert (wf.state.step, wf.state.history_patient, wf.resident_history()) == ("patient", None, None)
    assert store.open_sessions() == []


def test_from_the_vitals_and_back_to_them(store, clock):
    wf = SessionWorkflow(store, clock=clock)
    patient_id = begin(wf, DEMO)
    wf.enter_manual_temperature("37.2")
    wf.accept()
    wf.finish_measurements()
    session_id = wf.state.session_id
    wf.open_history()
    assert wf.state.history_patient["id"] == patient_id and wf.state.step == "history"
    # the session in progress is drawn, not part of its own usual values
    assert [r.origin for r in wf.resident_history().of("8310-5")] == ["local"]
    wf.close_history()
    assert (wf.state.step, wf.state.session_id) == ("vitals", session_id)
    wf.confirm_vitals(respiration_rate="16", consciousness="A", on_oxygen=False)
    assert wf.state.step == "teleconsult"


def test_not_during_a_measurement_nor_signed_out(store, clock):
    wf = SessionWorkflow(store, clock=clock)
    begin(wf, DEMO)
    wf.enter_manual_temperature("37.2")
    with refused("history.not_from_here"):
        wf.open_history()
    wf.sign_out()
    with refused("auth.sign_in_first"):
        wf.open_history(store.add_patient(**{**DEMO, "given_name": "Odette"}))
