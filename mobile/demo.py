"""Demo and training mode: the app plays one whole session by itself, tapping its own buttons (first-run set-up or
PIN sign-in, a new patient whose identity is validated on an identity card, consent, the three devices, NEWS2, the
call, the summary), optionally saving a screenshot of every screen. Works on any object shaped like mobile.app.RelaisApp."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable

log = logging.getLogger(__name__)

DEMO_SITE = dict(kind="ehpad", name="EHPAD de démonstration")
DEMO_STAFF = dict(name="Camille DÉMO", role="aide_soignant", pin="1234")
DEMO_PATIENT = dict(family_name="DÉMO", given_name="Jeanne", birth_date="02/04/1938", sex="F",
                    birth_place_insee="75056", identity_status="VALI", identity_document="CN", room="12")
DEVICE_ORDER = ("oximeter", "blood_pressure", "thermometer")

Show = Callable[[str], Awaitable[None]]


async def _wait_for(condition, timeout: float = 20.0, step: float = 0.03) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("the demo did not reach the expected state")
        await asyncio.sleep(step)


def _press(button) -> None:
    """Demo taps (tests use real touches through the window instead)."""
    button.dispatch("on_press")
    button.dispatch("on_release")


async def _sign_in(app: Any, show: Show) -> None:
    """First run on this store: the site and the demo account; otherwise the demo account's PIN."""
    sm = app.screen_manager
    if sm.current == "site_setup":
        setup = sm.get_screen("site_setup")
        setup.ids.kind.selected = DEMO_SITE["kind"]
        setup.ids.site_name.text = DEMO_SITE["name"]
        setup.ids.staff_name.text = DEMO_STAFF["name"]
        setup.ids.role.selected = DEMO_STAFF["role"]
        setup.ids.pin.text = DEMO_STAFF["pin"]
        await show("site-setup")
        _press(setup.ids.save)
        return
    signin = sm.get_screen("signin")
    member = next((m for m in app.models.signin.staff_list if m["name"] == DEMO_STAFF["name"]), None)
    if member is None:
        raise RuntimeError("this store has staff but no demo account: use a fresh --store for the demo")
    _press(signin.staff_buttons[member["staff_id"]])
    for digit in DEMO_STAFF["pin"]:
        _press(signin.ids[f"key_{digit}"])
    await show("sign-in")
    _press(signin.ids.ok)


async def _new_patient(app: Any, show: Show) -> None:
    """The demo resident, validated on her identity card (a qualified identity and its INS only come from the
    INSi teleservice, which the tablet cannot reach), or picked from the list if a previous demo created her;
    then the reason, consent and room checklist."""
    sm = app.screen_manager
    await _wait_for(lambda: sm.current == "patient")
    await show("patients")
    _press(sm.get_screen("patient").ids.new_patient)
    form = sm.get_screen("patient_form")
    for key, value in (("family", DEMO_PATIENT["family_name"]), ("given", DEMO_PATIENT["given_name"]),
                       ("birth", DEMO_PATIENT["birth_date"]), ("insee", DEMO_PATIENT["birth_place_insee"]),
                       ("room", DEMO_PATIENT["room"])):
        form.ids[key].text = value
    form.ids.sex.selected = DEMO_PATIENT["sex"]
    form.ids.status.selected = DEMO_PATIENT["identity_status"]
    form.method = "SM"
    form.document = DEMO_PATIENT["identity_document"]
    await show("new-patient")
    existing = [p for p in app.runtime.workflow.patients("DÉMO")
                if p.get("given_name") == DEMO_PATIENT["given_name"]]
    if existing:
        _press(form.ids.cancel)
        app.models.patient_form.select_patient(str(existing[0]["id"]))
    else:
        _press(form.ids.create)
    await _wait_for(lambda: sm.current == "session_start")
    start = sm.get_screen("session_start")
    start.ids.reason.text = "Fièvre et toux depuis hier"
    start.ids.consent.selected = "given"
    for key in ("room_closed", "device_hygiene", "accessibility", "companion"):
        start.ids[key].active = True
    start.ids.callback.text = "01 23 45 67 89"
    await show("session-start")
    _press(start.ids.start)


async def _measure(app: Any, show: Show) -> bool:
    """The three devices, one after the other. True when at least one value was accepted."""
    sm, models = app.screen_manager, app.models
    await _wait_for(lambda: sm.current == "measure")
    await show("measure")
    measure, review = sm.get_screen("measure"), sm.get_screen("review")
    for kind in DEVICE_ORDER:
        _press(measure.ids[f"card_{kind}"])
        _press(measure.ids.measure)
        await _wait_for(lambda: sm.current == "review" or models.measure.error is not None, timeout=40)
        if sm.current != "review":
            await show(f"measure-error-{kind}")
            continue
        await show(f"review-{kind}".replace("_", "-"))
        _press(review.ids.accept)
        await _wait_for(lambda: sm.current == "measure")
    await show("measure-done")
    return models.measure.has_accepted


async def _finish(app: Any, show: Show) -> None:
    """Vitals and NEWS2, the call with the remote doctor, the summary, closed."""
    sm = app.screen_manager
    _press(sm.get_screen("measure").ids.finish)
    await _wait_for(lambda: sm.current == "vitals")
    vitals = sm.get_screen("vitals")
    vitals.ids.rr.text = "18"
    vitals.ids.acvpu.selected = "A"
    vitals.ids.oxygen.selected = "no"
    await show("vitals-news2")
    _press(vitals.ids.confirm)
    await _wait_for(lambda: sm.current == "teleconsult")
    call = sm.get_screen("teleconsult")
    call.ids.doctor.text = "Dr DÉMO Téléconsultant"
    _press(call.ids.start_call)
    await _wait_for(lambda: app.models.teleconsult.call_running)
    call.ids.conclusion.text = "Virose probable, pas de signe de gravité. Hydratation, surveillance de la température."
    call.orientation = "stay"
    call.ids.prescriptions.text = "Paracétamol 1 g si fièvre > 38,5 °C, 3 fois par jour au plus."
    await show("teleconsult")
    _press(call.ids.end_call)
    await _wait_for(lambda: sm.current == "summary")
    summary = sm.get_screen("summary")
    summary.ids.recipient.text = "Dr DÉMO Traitant"
    await show("summary")
    _press(summary.ids.close)
    await _wait_for(lambda: sm.current == "saved")
    await show("saved")


async def play_demo(app: Any, screenshots_dir: Path | None = None, *, pause: float | None = None,
                    on_screen: Any = None) -> list[Path]:
    """Drive one whole session by itself (training and demo mode): first-run set-up or PIN sign-in → patient list
    → new qualified patient (demo INS) → reason, consent and room checklist → oximeter, blood pressure and
    temperature (measure, review, confirm each) → respiration rate, consciousness, air/oxygen and NEWS2 → the call
    with the remote doctor → the summary for the patient's own doctor → closed. Returns the screenshots.
    `on_screen(name)` is called on every screen shown (tests)."""
    pause = (0.25 if screenshots_dir else 1.5) if pause is None else pause
    shots: list[Path] = []

    async def show(name: str) -> None:
        await asyncio.sleep(pause)  # let a few frames render (and a person watch)
        if screenshots_dir is not None:
            shots.append(app.save_screenshot(Path(screenshots_dir) / f"{len(shots) + 1:02d}-{name}.png"))
        if on_screen is not None:  # tests look at every screen the demo shows
            on_screen(name)

    await _wait_for(lambda: app.root is not None and app.start_task is not None)
    await _sign_in(app, show)
    await _new_patient(app, show)
    if not await _measure(app, show):
        return shots
    await _finish(app, show)
    if getattr(getattr(app.runtime, "config", None), "server_url", None):
        try:  # with a server, show the session leaving the tablet
            await _wait_for(lambda: app.sync.session_state == "sent", timeout=10)
            await show("saved-sent")
        except TimeoutError:
            log.info("demo: the session was not sent within 10 s")
    return shots
