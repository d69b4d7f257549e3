"""An open session is never lost by navigation, as plain Python with the real store: leaving parks it, the patient
list offers it back, resuming puts back the step, the accepted values with their device and flags, NEWS2, the call
and its timer and the notes typed — after a restart too — and the idle lock never interrupts the call."""
from __future__ import annotations

import asyncio
import gc
import json

import pytest

from mobile.workflow import DeviceClaims, SessionWorkflow
from sync import outbox, retention
from sync.store import Store
from tests.support.clocks import SettableClock
from tests.support.workflow import DEMO, NOW, PIN, ScriptedThermometer, begin, close_session, reading_from, refused
from tests.support.workflow import set_up_tablet, sign_in

OTHER = {**DEMO, "given_name": "Paulette", "birth_date": "1940-01-01"}


class Monotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def store(store):
    set_up_tablet(store)
    return store


def make(store, *results, clock=None, **kwargs):
    return SessionWorkflow(store, ScriptedThermometer(*results), clock=clock or (lambda: NOW), **kwargs)


async def test_leaving_parks_the_session_and_the_list_resumes_it_with_its_values(store):
    wf = make(store, reading_from("000A0F00FE"), reading_from("00700100FF"))
    patient = begin(wf, DEMO)
    session = wf.state.session_id
    await wf.measure_temperature()           # 38.50 °C: flagged H
    wf.accept()
    await wf.measure_temperature()           # on review, not accepted yet
    wf.leave_session()
    assert wf.state.step == "patient" and wf.state.session_id is None and wf.state.accepted == {}
    assert store.get_session(session)["state"] == "open"
    (row,) = wf.open_sessions()
    assert (row["session_id"], row["patient"]["id"], row["step"]) == (session, patient, "review")
    assert row["staff_name"] == "Camille Soignante" and row["opened_at"]
    assert wf.claims.holder("C0:DE:00:00:00:10") == session  # the parked session keeps its device

    wf.resume_session(session)
    state = wf.state
    assert (state.step, state.session_id, state.patient["id"], state.session_ready) == ("review", session, patient,
                                                                                       True)
    accepted = state.accepted["thermometer"]
    assert (str(accepted.value), accepted.flag, accepted.source) == ("38.50", "H", "bluetooth")
    assert accepted.reading.device.address == "C0:DE:00:00:00:10"
    assert str(state.proposal.value) == "36.8"
    wf.retake()
    wf.finish_measurements()
    (stored,) = store.measurements(session)
    assert (stored["value"], stored["interpretation"], stored["device_address"]) == ("38.50", "H",
                                                                                  "C0:DE:00:00:00:10")
    assert stored["raw"] == bytes.fromhex("000A0F00FE")


async def test_choosing_a_patient_with_an_open_session_resumes_it_instead_of_a_second(store):
    wf = make(store, reading_from("00B00E00FE"))
    patient = begin(wf, DEMO)
    session = wf.state.session_id
    await wf.measure_temperature()
    wf.accept()
    other = store.add_patient(**OTHER)
    wf.select_patient(other)                 # another resident: the first session is parked, not abandoned
    assert store.get_session(session)["state"] == "open" and wf.state.session_id != session
    wf.select_patient(patient)
    assert wf.state.session_id == session and wf.state.step == "measure" and "thermometer" in wf.state.accepted
    assert len(store.open_sessions()) == 2


def test_the_call_comes_back_after_a_restart_with_its_timer_news2_and_notes(tmp_path):
    clock = SettableClock(NOW)
    path = tmp_path / "relais.db"
    with Store(path, clock=clock) as store:
        set_up_tablet(store)
        wf = make(store, clock=clock)
        begin(wf, DEMO)
        wf.enter_manual_temperature("39,6")
        wf.accept()
        wf.finish_measurements()
        wf.confirm_vitals(respiration_rate="27", consciousness="V", on_oxygen=True)
        wf.start_call(doctor_name="Dr Marc Téléconsultant")
        session, started = wf.state.session_id, wf.state.call_started_at
        clock.advance(95)
        wf.keep_call_notes(conclusion="Pneumopathie probable", orientation="emergency")
        wf.lock()                            # the tablet locked by hand: the notes typed are kept
    clock.advance(30)
    with Store(path, clock=clock) as store:  # the app restarts
        wf = make(store, clock=clock)
        sign_in(wf)
        (row,) = wf.open_sessions()
        assert row["step"] == "teleconsult" and row["call_started_at"] == started.isoformat()
        wf.resume_session(session)
        state = wf.state
        assert (state.step, state.call_started_at, state.doctor_name) == ("teleconsult", started,
                                                                         "Dr Marc Téléconsultant")
        assert wf.call_seconds() == 125      # the timer counts from the call's start, not from the resume
        assert state.news2.score == 10 and state.vitals == {"respiration_rate": 27, "consciousness": "V",
                                                            "on_oxygen": True}
        assert state.call_notes == {"conclusion": "Pneumopathie probable", "orientation": "emergency"}
        wf.end_call(conclusion=state.call_notes["conclusion"], orientation="emergency")
        assert wf.close(summary=wf.state.summary_draft) == session


def test_the_idle_lock_never_interrupts_the_call_but_a_manual_lock_keeps_it(store, clock):
    ticks = Monotonic()
    store.set_setting("idle_lock_seconds", "120")
    wf = make(store, clock=clock, monotonic=ticks)
    begin(wf, DEMO)
    wf.enter_manual_temperature("37,2")
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="16", consciousness="A", on_oxygen=False)
    ticks.t += 121
    assert wf.check_idle() is True          # before the call: the tablet left alone locks
    wf.sign_in(wf.state.staff["id"], PIN)
    wf.start_call(doctor_name="Dr Marc Téléconsultant")
    started = wf.state.call_started_at
    ticks.t += 3600
    clock.advance(3600)
    assert wf.check_idle() is False and not wf.state.locked   # an hour of call: never locked by itself
    wf.lock()                                # but staff may lock it by hand: the call and its timer stay
    assert wf.state.locked and wf.state.call_started_at == started and wf.state.step == "teleconsult"
    wf.sign_in(wf.state.staff["id"], PIN)
    assert wf.state.step == "teleconsult" and wf.call_seconds() == 3600
    wf.end_call(conclusion="RAS")
    ticks.t += 121
    assert wf.check_idle() is True           # the call ended: the lock is back


async def test_a_measurement_running_when_leaving_is_cancelled_and_never_lands(store):
    reader = ScriptedThermometer(reading_from("00B00E00FE"))
    reader.gate = asyncio.Event()
    wf = SessionWorkflow(store, reader, clock=lambda: NOW)
    begin(wf, DEMO)
    first = wf.state.session_id
    task = asyncio.ensure_future(wf.measure_temperature())
    await asyncio.sleep(0.01)
    wf.leave_session()
    await asyncio.sleep(0.01)
    assert task.done() and await task is None   # cancelled at once, not left running for the next patient
    other = wf.create_patient(**OTHER)
    assert other and wf.state.session_id != first
    reader.gate.set()
    assert wf.state.proposal is None and wf.state.accepted == {}
    wf.resume_session(first)
    assert wf.state.proposal is None and wf.state.accepted == {} and wf.state.step == "measure"


def test_the_resume_document_stays_on_the_tablet_and_goes_with_the_session(store, clock):
    wf = make(store, clock=clock)
    begin(wf, DEMO)
    wf.enter_manual_temperature("38,4")
    wf.accept()
    session = wf.state.session_id
    assert store.resume_state(session)["accepted"]["thermometer"]["value"] == "38.4"
    session_id = close_session(wf)
    assert session_id == session and store.resume_state(session) is None   # closed: nothing to resume
    (entry,) = outbox.entries(store)
    assert "resume" not in json.dumps(entry.payload if hasattr(entry, "payload") else "")
    begin(wf, OTHER)
    abandoned = wf.state.session_id
    assert store.resume_state(abandoned) is not None
    wf.abandon()                             # abandoning is its own act: the session ends, its document goes
    assert store.resume_state(abandoned) is None and wf.open_sessions() == []
    with refused("session.no_longer_open"):
        wf.resume_session(abandoned)
    clock.advance(8 * 86400)
    assert retention.purge(store).sessions == 1


def test_a_session_open_without_a_document_resumes_at_the_step_the_store_says(store):
    wf = make(store)
    begin(wf, DEMO)
    session = wf.state.session_id
    with store.transaction():                # opened by an older version of the app
        store.conn.execute("DELETE FROM session_resume")
    wf2 = make(store, device_claims=DeviceClaims())
    sign_in(wf2)
    wf2.resume_session(session)
    assert wf2.state.step == "measure" and wf2.state.session_ready


def _held_anywhere(text: str) -> bool:
    """Whether any live container (dict, list, tuple…) still holds a string with `text` in it. (type(), not
    isinstance(): a weak proxy to a dead object, such as Kivy leaves, raises on isinstance.)"""
    gc.collect()
    for obj in gc.get_objects():
        kind = type(obj)
        values = obj.values() if issubclass(kind, dict) else obj if issubclass(kind, (list, tuple)) else ()
        if any(issubclass(type(value), str) and text in value for value in values):
            return True
    return False


async def test_a_closed_sessions_notes_are_not_kept_in_memory_once_the_next_one_is_under_way(store):
    """The resume document is compared with the one last written, to write only what changed: only the session on
    screen's is kept, not every closed session's values, notes and summary for the rest of the day."""
    wf = make(store, reading_from("04B00E00FE04"), reading_from("04B00E00FE04"))
    begin(wf, DEMO)
    await wf.measure_temperature()
    wf.accept()
    conclusion = "Conclusion de la première séance, " + "unique " * 3 + str(id(wf))
    close_session(wf, conclusion=conclusion)
    wf.new_session()
    begin(wf, OTHER)
    await wf.measure_temperature()
    wf.accept()
    assert not _held_anywhere(conclusion)

    writes = []
    real_save = store.save_resume
    store.save_resume = lambda session_id, doc: writes.append(session_id) or real_save(session_id, doc)
    wf.resume.save()  # nothing changed since the acceptance was written
    assert writes == []
