"""No open session is lost by a tap, through the real app: "Change patient" on the measure, review, vitals and call
screens asks first ("Stay" keeps everything), leaving parks the session, the patient list shows it under "Open
sessions" and a tap brings it back where it was — after a restart too. The call shows what to read to the doctor,
the idle lock never interrupts it, and a manual lock brings it back with its timer and the notes typed."""
from __future__ import annotations

import asyncio
import re

import pytest
from kivy.core.window import Window

from mobile.screens.widgets import AbandonPopup, LeavePopup
from tests.support.clocks import SettableClock
from tests.support.ui import LANDSCAPE, PORTRAIT, begin_session, clipped_texts, frames, make_runtime, running_app, \
    screen, screenshot, small_touch_targets, tap, type_into, wait_for
from tests.support.workflow import NOW, PIN

pytestmark = pytest.mark.timeout(90)

DEMO = dict(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F", birth_place_insee="75056")


def popup(kind=LeavePopup):
    found = [w for w in Window.children if isinstance(w, kind)]
    return found[0] if found else None


async def ask_to_leave(app, step: str):
    await tap(screen(app, step).ids.banner.ids.change_patient)
    await wait_for(lambda: popup() is not None, what="the leave pop-up")
    await frames(2)
    return popup()


async def stay(app, step: str) -> None:
    await tap((await ask_to_leave(app, step)).ids.stay)
    await wait_for(lambda: popup() is None, what="the pop-up closed")
    assert app.screen_manager.current == step


async def leave_and_resume(app, step: str, shot: str | None = None, stay_on_list: float = 0.0) -> None:
    """`stay_on_list`: seconds on the patient list before resuming (what the list does between sessions is over)."""
    session = app.runtime.workflow.state.session_id
    await tap((await ask_to_leave(app, step)).ids.leave)
    await wait_for(lambda: app.screen_manager.current == "patient", what="the patient list")
    await asyncio.sleep(stay_on_list)
    await wait_for(lambda: popup() is None, what="the pop-up gone")  # it fades out, taking touches meanwhile
    assert app.runtime.store.get_session(session)["state"] == "open"
    patients = screen(app, "patient")
    await wait_for(lambda: len(patients.ids.open_list.children) == 1, what="the open session row")
    await frames(3)  # the list lays the new row out before a finger can find it
    if shot:
        await screenshot(app, shot)
    (row,) = patients.ids.open_list.children
    assert row.session_id == session and row.name == "DÉMO Jeanne"
    await tap(row)
    await wait_for(lambda: app.screen_manager.current == step, what=f"back at {step}")
    assert app.runtime.workflow.state.session_id == session


def clocked(runtime) -> SettableClock:
    clock = SettableClock(NOW)
    runtime.workflow.context.clock = clock
    return clock


def measured(tmp_path):
    """A runtime whose session has its temperature and waits on the vitals screen."""
    runtime = make_runtime(tmp_path)
    begin_session(runtime, DEMO)
    runtime.workflow.enter_manual_temperature("37,2")
    runtime.workflow.finish_measurements()
    return runtime


async def test_leaving_asks_first_and_the_list_resumes_each_step(tmp_path):
    runtime = make_runtime(tmp_path)
    clock = clocked(runtime)
    begin_session(runtime, DEMO)
    wf = runtime.workflow
    async with running_app(runtime, size=LANDSCAPE) as app:
        sm = app.screen_manager
        assert sm.current == "measure"
        wf.enter_manual_temperature("38,4")
        wf.accept()
        await wait_for(lambda: sm.current == "measure", what="the measure screen")
        await stay(app, "measure")
        assert "thermometer" in wf.state.accepted
        await leave_and_resume(app, "measure", shot="70-open-sessions-fr-landscape")
        card = screen(app, "measure").ids.card_thermometer
        assert card.done and "38,4" in card.state_text

        wf.enter_manual_temperature("38,6")                 # on review, not accepted yet
        await wait_for(lambda: sm.current == "review", what="the review screen")
        await stay(app, "review")
        await leave_and_resume(app, "review")
        assert screen(app, "review").ids.value.text.startswith("38,6")

        wf.retake()
        wf.finish_measurements()
        await wait_for(lambda: sm.current == "vitals", what="the vitals screen")
        await stay(app, "vitals")
        await leave_and_resume(app, "vitals")
        assert "Température\u00a0: 1" in screen(app, "vitals").ids.news2_lines.text   # 38.4 °C kept in NEWS2

        wf.confirm_vitals(respiration_rate="27", consciousness="V", on_oxygen=True)
        await wait_for(lambda: sm.current == "teleconsult", what="the call screen")
        call = screen(app, "teleconsult")
        await type_into(call.ids.doctor, "Dr Marc Téléconsultant")
        await tap(call.ids.start_call)
        await type_into(call.ids.conclusion, "Pneumopathie probable")
        clock.advance(125)
        app.models.tick()
        pop = await ask_to_leave(app, "teleconsult")
        assert "L'appel avec Dr Marc Téléconsultant est en cours (02:05)" in pop.ids.leave_text.text
        assert pop.ids.stay.text == "Rester" and pop.ids.leave.text == "Quitter (la séance reste ouverte)"
        await screenshot(app, "71-leave-during-call-fr-landscape")
        await tap(pop.ids.stay)
        await wait_for(lambda: popup() is None, what="the pop-up closed")
        assert wf.state.call_started_at == NOW and call.ids.conclusion.text == "Pneumopathie probable"
        await leave_and_resume(app, "teleconsult")
        clock.advance(10)
        app.models.tick()
        await frames(2)
        assert call.ids.timer.text == "02:15"               # the timer counts from the call's start
        assert call.ids.conclusion.text == "Pneumopathie probable"
        assert wf.state.doctor_name == "Dr Marc Téléconsultant"


async def test_an_open_session_comes_back_after_a_restart_with_its_call(tmp_path):
    runtime = make_runtime(tmp_path)
    clock = clocked(runtime)
    begin_session(runtime, DEMO)
    wf = runtime.workflow
    wf.enter_manual_temperature("39,6")
    wf.finish_measurements()
    wf.record_emergency_call()                              # high risk: the 15 called from the vitals screen
    wf.confirm_vitals(respiration_rate="27", consciousness="V", on_oxygen=True)
    async with running_app(runtime, size=LANDSCAPE) as app:
        call = screen(app, "teleconsult")
        await type_into(call.ids.doctor, "Dr Marc Téléconsultant")
        await tap(call.ids.start_call)
        await type_into(call.ids.conclusion, "Pneumopathie probable")
        await tap(next(w for w in call.walk() if getattr(w, "value", None) == "emergency"))
        session = wf.state.session_id
    # the app stops (the tablet restarts): a new runtime on the same store
    runtime = make_runtime(tmp_path)
    clock = clocked(runtime)
    clock.advance(300)
    async with running_app(runtime, size=PORTRAIT) as app:
        assert app.screen_manager.current == "patient"
        patients = screen(app, "patient")
        await wait_for(lambda: len(patients.ids.open_list.children) == 1, what="the open session row")
        (row,) = patients.ids.open_list.children
        assert row.session_id == session
        await tap(row)
        await wait_for(lambda: app.screen_manager.current == "teleconsult", what="the call screen")
        call = screen(app, "teleconsult")
        app.models.tick()
        await frames(2)
        assert call.ids.timer.text == "05:00"
        assert call.ids.conclusion.text == "Pneumopathie probable" and call.orientation == "emergency"
        text = call.ids.briefing_text.text
        assert text.startswith("Motif\u00a0: Toux et fièvre")
        assert "Température\u00a0: 39,6\u00a0°C (au-dessus de la normale, saisie à la main)" in text
        assert "Score NEWS2\u00a0: au moins 10" in text and "appelez le 15" in text   # SpO2, BP, pulse missing
        assert re.search(r"Appel au 15 à \d\d:\d\d, noté par Camille Soignante\.", text)  # kept across the restart


async def test_the_idle_lock_spares_the_call_and_a_manual_lock_brings_it_back(tmp_path):
    from tests.mobile.test_ui_session import type_pin

    runtime = make_runtime(tmp_path)
    clock = clocked(runtime)
    begin_session(runtime, DEMO)
    wf = runtime.workflow
    wf.enter_manual_temperature("37,2")
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="16", consciousness="A", on_oxygen=False)
    async with running_app(runtime, size=LANDSCAPE) as app:
        sm, call = app.screen_manager, screen(app, "teleconsult")
        await type_into(call.ids.doctor, "Dr Marc Téléconsultant")
        await tap(call.ids.start_call)
        await type_into(call.ids.conclusion, "Surveillance")
        wf.context.last_activity -= wf.idle_lock_seconds * 30       # nobody touched the tablet for an hour
        clock.advance(3600)
        app.models.tick()
        await frames(2)
        assert sm.current == "teleconsult" and not app.models.shell.locked
        await tap(app.root.ids.topbar.ids.staff_button)
        await tap(app.root.ids.topbar.ids.staff_button.menu.ids.lock)
        await wait_for(lambda: sm.current == "signin", what="the PIN pad")
        signin = screen(app, "signin")
        (button,) = signin.staff_buttons.values()
        await tap(button)
        await type_pin(app, PIN)
        await tap(signin.ids.ok)
        await wait_for(lambda: sm.current == "teleconsult", what="the call again")
        clock.advance(5)
        app.models.tick()
        await frames(2)
        assert call.ids.timer.text == "1:00:05" and call.ids.conclusion.text == "Surveillance"


@pytest.mark.parametrize("lang,size,tag", [("fr", LANDSCAPE, "fr-landscape"), ("en", LANDSCAPE, "en-landscape"),
                                           ("fr", PORTRAIT, "fr-portrait"), ("en", PORTRAIT, "en-portrait")])
async def test_the_call_screen_the_leave_pop_up_and_the_open_sessions_read_well(tmp_path, lang, size, tag):
    runtime = make_runtime(tmp_path)
    begin_session(runtime, DEMO)
    wf = runtime.workflow
    wf.enter_manual_temperature("38,4")
    wf.accept()
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="22", consciousness="A", on_oxygen=False)
    wf.start_call(doctor_name="Dr Marc Téléconsultant")
    async with running_app(runtime, size=size, lang=lang) as app:
        await wait_for(lambda: app.screen_manager.current == "teleconsult", what="the call screen")
        await screenshot(app, f"72-call-{tag}")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
        await ask_to_leave(app, "teleconsult")
        await screenshot(app, f"73-leave-{tag}")
        await tap(popup().ids.leave)
        await wait_for(lambda: app.screen_manager.current == "patient", what="the patient list")
        await wait_for(lambda: len(screen(app, "patient").ids.open_list.children) == 1, what="the open session")
        await screenshot(app, f"74-open-sessions-{tag}")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []


async def test_abandoning_is_its_own_act_confirmed_apart_and_not_offered_during_the_call(tmp_path):
    runtime = make_runtime(tmp_path)
    begin_session(runtime, DEMO)
    wf = runtime.workflow
    wf.enter_manual_temperature("37,2")
    wf.accept()
    async with running_app(runtime, size=LANDSCAPE) as app:
        sm = app.screen_manager
        session = wf.state.session_id
        await tap((await ask_to_leave(app, "measure")).ids.abandon)
        await wait_for(lambda: popup(AbandonPopup) is not None, what="the abandon confirmation")
        await frames(2)
        await screenshot(app, "75-abandon-fr-landscape")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
        await tap(popup(AbandonPopup).ids.keep)                     # the safe answer: nothing happens
        await wait_for(lambda: popup(AbandonPopup) is None, what="the confirmation closed")
        assert sm.current == "measure" and runtime.store.get_session(session)["state"] == "open"
        await tap((await ask_to_leave(app, "measure")).ids.abandon)
        await wait_for(lambda: popup(AbandonPopup) is not None, what="the abandon confirmation")
        await tap(popup(AbandonPopup).ids.confirm)
        await wait_for(lambda: sm.current == "patient", what="the patient list")
        await wait_for(lambda: popup(AbandonPopup) is None, what="the pop-up gone")  # it takes touches as it fades
        assert runtime.store.get_session(session)["state"] == "abandoned"
        assert screen(app, "patient").ids.open_list.children == []
        assert screen(app, "patient").ids.notice.text.startswith("Séance abandonnée")

        await tap(screen(app, "patient").ids.rv.children[0].children[0])   # the same resident: a new session
        await wait_for(lambda: sm.current == "session_start", what="a new session")
        await tap(screen(app, "session_start").ids.cancel)                 # cancelling before consent asks too
        await wait_for(lambda: popup(AbandonPopup) is not None, what="the abandon confirmation")
        await tap(popup(AbandonPopup).ids.keep)
        await wait_for(lambda: popup(AbandonPopup) is None, what="the confirmation closed")
        assert sm.current == "session_start" and wf.state.session_id is not None

        wf.start_session(reason="Toux", consent="given", room_closed=True, device_hygiene=True, accessibility=True)
        wf.enter_manual_temperature("37,2")
        wf.finish_measurements()
        wf.confirm_vitals(respiration_rate="16", consciousness="A", on_oxygen=False)
        wf.start_call(doctor_name="Dr Marc Téléconsultant")
        await wait_for(lambda: sm.current == "teleconsult", what="the call")
        pop = await ask_to_leave(app, "teleconsult")
        assert pop.ids.abandon.disabled and pop.ids.abandon.opacity == 0   # a running call is never abandoned


async def test_what_was_typed_on_the_vitals_screen_is_still_there_after_a_lock(tmp_path):
    from tests.mobile.test_ui_session import type_pin

    runtime = measured(tmp_path)
    wf = runtime.workflow
    async with running_app(runtime, size=LANDSCAPE) as app:
        sm, vitals = app.screen_manager, screen(app, "vitals")
        await wait_for(lambda: sm.current == "vitals", what="the vitals screen")
        await type_into(vitals.ids.rr, "22")
        await tap(app.root.ids.topbar.ids.staff_button)
        await tap(app.root.ids.topbar.ids.staff_button.menu.ids.lock)
        await wait_for(lambda: sm.current == "signin", what="the PIN pad")
        signin = screen(app, "signin")
        await tap(next(iter(signin.staff_buttons.values())))
        await type_pin(app, PIN)
        await tap(signin.ids.ok)
        await wait_for(lambda: sm.current == "vitals", what="the vitals screen again")
        assert vitals.ids.rr.text == "22"
        await tap((await ask_to_leave(app, "vitals")).ids.leave)   # another resident's session starts blank
        await wait_for(lambda: sm.current == "patient", what="the patient list")
        other = runtime.store.add_patient(**{**DEMO, "given_name": "Paulette", "birth_date": "1940-01-01"})
        wf.select_patient(other)
        wf.start_session(reason="Toux", consent="given", room_closed=True, device_hygiene=True, accessibility=True)
        wf.enter_manual_temperature("37,0")
        wf.finish_measurements()
        await wait_for(lambda: sm.current == "vitals", what="the other resident's vitals")
        assert screen(app, "vitals").ids.rr.text == ""   # the screen shown now, built afresh or emptied


async def test_called_away_the_list_keeps_what_was_typed_for_the_open_session(tmp_path):
    """Back on the patient list the app lets the last session's screens go, but not while a session is open: staff
    called away resume it where it was, with what they typed and had not confirmed yet."""
    runtime = measured(tmp_path)
    async with running_app(runtime, size=LANDSCAPE) as app:
        await wait_for(lambda: app.screen_manager.current == "vitals", what="the vitals screen")
        vitals = screen(app, "vitals")
        await type_into(vitals.ids.rr, "22")
        # longer on the list than it takes to let screens go and give memory back
        await leave_and_resume(app, "vitals", stay_on_list=0.8)
        assert screen(app, "vitals") is vitals and vitals.ids.rr.text == "22"
