"""The resident's history through the real app (offscreen Kivy, real store, one app for the whole file): opened from
the patient list with readings pulled from other tablets and a session of this tablet, the charts drawn from both
(markers told apart, a partial NEWS2 labelled), the empty state for a resident without history, the usual value next
to today's value on the review and vitals screens, and the history reached from the vitals and left back to them.
Each screen is shot in French and English, landscape and portrait, and checked for clipped text."""
from __future__ import annotations

import datetime as dt

import pytest
from kivy.core.window import Window

from mobile.i18n import tr
from sync import closing
from tests.support.history import add_pulled_session
from tests.support.ui import (LANDSCAPE, PORTRAIT, clipped_texts, frames, make_runtime, running_app, screen,
                              screenshot, small_touch_targets, tap, wait_for)
from tests.support.workflow import DEMO, start

pytestmark = pytest.mark.timeout(120)

TEMPERATURE, SPO2, PULSE, SYSTOLIC, DIASTOLIC, RESPIRATION = \
    "8310-5", "59408-5", "8867-4", "8480-6", "8462-4", "9279-1"
OTHER = dict(family_name="EXEMPLE", given_name="Odette", birth_date="1931-07-14", sex="F", birth_place_insee="69123")


def fill_history(store, patient_id: str) -> None:
    """Six sessions of other tablets over the last 80 days (one fever with a high NEWS2, one partial score), and
    one closed session of this tablet."""
    now = dt.datetime.now(dt.timezone.utc)
    for days, temp, spo2, pulse, sbp, dbp, news2 in (
            (80, "36.7", "96", "72", "132", "78", (1, "low", True)),
            (65, "36.9", "95", "76", "128", "80", (1, "low", True)),
            (50, "38.6", "91", "104", "112", "66", (7, "high", True)),
            (40, "36.8", "96", "70", "136", "82", (2, "incomplete", False)),
            (25, "36.6", "97", "68", "130", "76", (0, "low", True)),
            (12, "36.8", "96", "74", "126", "74", (1, "low", True))):
        flags = {TEMPERATURE: "H" if temp == "38.6" else None, SPO2: "LL" if spo2 == "91" else None}
        add_pulled_session(store, patient_id, now - dt.timedelta(days=days), [
            (TEMPERATURE, temp, "Cel", flags[TEMPERATURE]), (SPO2, spo2, "%", flags[SPO2]),
            (PULSE, pulse, "/min", None), (SYSTOLIC, sbp, "mm[Hg]", None), (DIASTOLIC, dbp, "mm[Hg]", None),
            (RESPIRATION, "16", "/min", None)], news2=news2)
    session_id = store.open_session(patient_id)
    store.update_session(session_id, started_at=(now - dt.timedelta(days=5)).isoformat())
    for code, value, unit in ((TEMPERATURE, "37.0", "Cel"), (SPO2, "97", "%"), (PULSE, "70", "/min"),
                              (RESPIRATION, "15", "/min"), ("67775-7", "A", ""), ("supplemental-oxygen", "no", "")):
        store.add_measurement(session_id, code=code, value=value, unit=unit, source="manual",
                              measured_at=(now - dt.timedelta(days=5)).isoformat())
    closing.close_session(store, session_id)


ALL = (("fr", LANDSCAPE), ("fr", PORTRAIT), ("en", PORTRAIT), ("en", LANDSCAPE))


async def shoot_everywhere(app, name: str, where=ALL, before=None) -> None:
    """The current screen in both languages and both orientations, each checked for clipped text."""
    for lang, size in where:
        tr.switch_lang(lang)
        Window.size = size
        await frames(4)
        if before is not None:
            before()
            await frames(3)
        try:
            await wait_for(lambda: clipped_texts(app) == [], timeout=3, what="the layout to settle")
        except AssertionError:
            pass
        await screenshot(app, f"history-{name}-{lang}-{'landscape' if size == LANDSCAPE else 'portrait'}")
        assert clipped_texts(app) == [], (name, lang, size)
        assert small_touch_targets(app) == [], (name, lang, size)
    tr.switch_lang("fr")
    Window.size = LANDSCAPE
    await frames(4)


def history_button(app, patient_id: str):
    rows = [w for w in screen(app, "patient").walk() if type(w).__name__ == "PatientRow" and w.patient_id == patient_id]
    assert rows, "the resident is not in the list"
    return next(w for w in rows[0].walk(restrict=True) if type(w).__name__ == "SecondaryButton")


async def open_from_list(app, patient_id: str) -> None:
    sm = app.screen_manager
    await wait_for(lambda: sm.current == "patient", what="the patient list")
    await frames(3)
    await tap(history_button(app, patient_id))
    await wait_for(lambda: sm.current == "history", what="the history screen")
    await frames(3)


def drawn(app, key: str) -> dict[str, int]:
    """What the chart's canvas holds: the discs drawn (this tablet's readings; another tablet's are squares)."""
    from kivy.graphics import Ellipse

    widget = next(w for w in screen(app, "history").walk() if type(w).__name__ == "TrendChart" and w.chart is not None
                  and w.chart.key == key)
    return {"discs": sum(isinstance(i, Ellipse) for i in widget.canvas.children)}


def charts_of(app) -> dict:
    return {chart.key: chart for chart in app.models.history.charts}


async def test_the_history_from_the_patient_list_and_the_vitals(tmp_path):
    runtime = make_runtime(tmp_path)
    store, wf = runtime.store, runtime.workflow
    patient_id = store.add_patient(**DEMO)
    fill_history(store, patient_id)
    other_id = store.add_patient(**OTHER)
    async with running_app(runtime, size=LANDSCAPE) as app:
        sm, history = app.screen_manager, screen(app, "history")
        await wait_for(lambda: sm.current == "patient", what="the patient list")
        await shoot_everywhere(app, "patient-list", (("fr", LANDSCAPE), ("en", PORTRAIT)))
        await open_from_list(app, patient_id)
        assert wf.state.session_id is None            # looking at the history opens no session
        assert "Jeanne" in history.ids.history_name.text and history.ids.empty.text == ""
        charts = charts_of(app)
        temperature = charts["temperature"].series[0]
        assert [p.pulled for p in temperature] == [True] * 6 + [False]   # six from other tablets, then this one
        assert [p.abnormal for p in temperature].count(True) == 1
        # the pulled partial score and this tablet's session (no blood pressure): hollow, never reassuring
        assert [(p.pulled, p.abnormal) for p in charts["news2"].series[0] if p.partial] == [(True, True),
                                                                                           (False, True)]
        assert len(charts["blood_pressure"].series) == 2
        assert drawn(app, "temperature") == {"discs": 1} and drawn(app, "blood_pressure") == {"discs": 0}
        assert "Habituel : 36,8\u00a0°C" in [w.text for w in history.walk() if hasattr(w, "text")]
        await shoot_everywhere(app, "resident")
        await shoot_everywhere(app, "resident-news2", ((("fr", LANDSCAPE), ("en", PORTRAIT))),
                               before=lambda: setattr(history.ids.scroll, "scroll_y", 0))
        await tap(history.ids.back)
        await wait_for(lambda: sm.current == "patient", what="back to the patient list")

        await open_from_list(app, other_id)
        history = screen(app, "history")   # built afresh: the patient list dropped the screens it left
        assert history.ids.empty.text == "Pas encore d'historique" and history.ids.legend.opacity == 0
        await shoot_everywhere(app, "empty")
        await tap(history.ids.back)
        await wait_for(lambda: sm.current == "patient", what="back to the patient list")

        wf.select_patient(patient_id)
        start(wf)
        wf.enter_manual_temperature("38.0")
        await wait_for(lambda: sm.current == "review", what="the review screen")
        await frames(3)
        review = screen(app, "review")
        assert review.ids.usual.text == "Habituel : 36,8\u00a0°C"
        await shoot_everywhere(app, "review")
        wf.accept()
        wf.finish_measurements()
        await wait_for(lambda: sm.current == "vitals", what="the vitals screen")
        vitals = screen(app, "vitals")
        await frames(3)
        assert "Habituel : 36,8\u00a0°C" in vitals.ids.today.text and "38,0" in vitals.ids.today.text
        assert vitals.ids.rr_usual.text == "Habituel : 16\u00a0/min"
        await shoot_everywhere(app, "vitals")

        session_id = wf.state.session_id
        await tap(vitals.ids.history)
        await wait_for(lambda: sm.current == "history", what="the history from the vitals")
        await frames(3)
        history = screen(app, "history")
        # the session in progress is drawn (its temperature is today's), not part of the usual value
        assert charts_of(app)["temperature"].series[0][-1].value == 38
        await tap(history.ids.back)
        await wait_for(lambda: sm.current == "vitals", what="back to the vitals")
        assert wf.state.session_id == session_id and wf.state.step == "vitals"
