"""The doctor's answer on the real app (offscreen Kivy): a resident whose open session has the doctor's conclusions
waiting shows "Avis reçu" in the patient list; tapping them resumes the session on the teleconsultation step with
"Conclusions reçues du Dr … à HH:MM" and the doctor's words, read only; one tap takes them into the summary
unchanged, marked as the doctor's. French and English, landscape and portrait, with screenshots."""
from __future__ import annotations

import datetime as dt

import pytest

from sync.store import conclusions as conclusion_rows
from tests.support.ui import (LANDSCAPE, PORTRAIT, clipped_texts, frames, make_runtime, running_app, screen,
                              screenshot, small_touch_targets, tap, wait_for)
from tests.support.workflow import DEMO, start

pytestmark = pytest.mark.timeout(60)

SIGNED = {"resource_id": "ci-1", "version": "1", "doctor_name": "Dr Claire Démo-Martin",
          "doctor_rpps": "10101010101", "conclusion": "Bronchite probable, sans signe de gravité.",
          "orientation": "gp", "orientation_detail": "sous 48 h",
          "prescriptions": "Paracétamol 1 g si fièvre > 38,5 °C.", "written_at": "2026-11-22T08:10:00+01:00"}
RECEIVED = dt.datetime(2026, 11, 22, 7, 12, tzinfo=dt.timezone.utc)
WORDS = {"fr": ("Avis reçu", "Conclusions reçues du Dr Claire Démo-Martin à {time}", "Orientation\u00a0: "),
         "en": ("Advice received", "Conclusions received from Dr Claire Démo-Martin at {time}", "Orientation: ")}
NEWER = {"fr": "Nouvelle version reçue du Dr Claire Démo-Martin à {time}",
         "en": "New version received from Dr Claire Démo-Martin at {time}"}


def answer_comes_down(runtime, session_id: str, signed: dict = SIGNED) -> None:
    """The doctor's answer stored as the pull stores it, and the screens told (as the sync loop tells them)."""
    key = runtime.store.get_session(session_id)["idempotency_key"]
    with runtime.store.transaction():
        assert conclusion_rows.receive(runtime.store, key, signed, now=RECEIVED) == "created"
    runtime.workflow.conclusions_arrived()


def session_waiting_for_advice(runtime) -> str:
    """A session on the teleconsultation step (its advice request sent), left for the patient list. Returns the
    session id."""
    wf = runtime.workflow
    wf.create_patient(**DEMO)
    start(wf)
    wf.enter_manual_temperature("38,2")
    wf.accept()
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="18", consciousness="A", on_oxygen=False)
    session_id = wf.state.session_id
    wf.leave_session()
    return session_id


# each language and each orientation once (the other two pairings were run and looked at when the screen changed)
@pytest.mark.parametrize("lang,size", [("fr", LANDSCAPE), ("en", PORTRAIT)], ids=["landscape-fr", "portrait-en"])
async def test_the_answer_is_shown_and_taken_into_the_summary_unchanged(tmp_path, lang, size):
    runtime = make_runtime(tmp_path)
    session_id = session_waiting_for_advice(runtime)
    badge, title, orientation = WORDS[lang]
    shot = f"answers-{lang}-{'landscape' if size == LANDSCAPE else 'portrait'}"
    async with running_app(runtime, size=size, lang=lang) as app:
        sm = app.screen_manager
        await wait_for(lambda: sm.current == "patient", what="the patient list")
        await frames(3)
        [row] = [w for w in screen(app, "patient").walk() if type(w).__name__ == "PatientRow" and w.patient_id]
        assert row.answer_session == "" and row.ids.advice_badge.text == ""
        answer_comes_down(runtime, session_id)  # while staff look at the list
        await wait_for(lambda: row.ids.advice_badge.text == badge, what="the advice badge")
        assert row.answer_session == session_id
        await screenshot(app, f"{shot}-list")
        assert clipped_texts(app) == []
        await tap(row)
        await wait_for(lambda: sm.current == "teleconsult", what="the teleconsultation screen")
        call = screen(app, "teleconsult")
        await frames(3)
        assert call.ids.answer.shown
        assert call.ids.answer_title.text == title.format(time=RECEIVED.astimezone().strftime("%H:%M"))
        said = call.ids.answer_text.text
        assert SIGNED["conclusion"] in said and SIGNED["prescriptions"] in said and orientation in said
        await screenshot(app, f"{shot}-teleconsult")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
        await tap(call.ids.accept_answer)
        await wait_for(lambda: sm.current == "summary", what="the summary screen")
        notes = {n["kind"]: n for n in runtime.store.notes(session_id)}
        assert notes["remote_doctor_conclusion"]["text"] == SIGNED["conclusion"]
        assert {n["written_by"] for n in notes.values()} == {"doctor"}
        summary = screen(app, "summary")
        assert SIGNED["conclusion"] in summary.ids.summary.text and not summary.ids.newer_answer.shown
        # the doctor signs again while staff write the summary: shown beside, taken only if staff say so
        answer_comes_down(runtime, session_id, {**SIGNED, "version": "2", "conclusion": "Angine : antibiotique.",
                                                "written_at": "2026-11-22T08:30:00+01:00"})
        await wait_for(lambda: summary.ids.newer_answer.shown, what="the new version")
        assert summary.ids.newer_title.text == NEWER[lang].format(time=RECEIVED.astimezone().strftime("%H:%M"))
        await screenshot(app, f"{shot}-summary-newer")
        assert small_touch_targets(app) == [] and clipped_texts(app) == []
        await tap(summary.ids.take_newer)
        await wait_for(lambda: not summary.ids.newer_answer.shown, what="the new version taken")
        assert "Angine : antibiotique." in summary.ids.summary.text
        [note] = [n for n in runtime.store.notes(session_id) if n["kind"] == "remote_doctor_conclusion"]
        assert note["text"] == "Angine : antibiotique." and note["written_by"] == "doctor"
