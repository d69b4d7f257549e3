"""The building blocks of a training scenario, one per moment of a session: sign in (or set the tablet up), the
demo resident, the start of the session, one device measured (or failing), a value typed by hand, the vital signs
and NEWS2 (with the 15 called at high risk), leaving the session open and resuming it, the call, the summary. Each
fills the screen as staff would, shows it, and taps on.

Demo data only: invented names, an identity validated on an identity card, no INS."""
from __future__ import annotations

from mobile.training.runner import Player

DEMO_SITE = dict(kind="ehpad", name="EHPAD de démonstration")
DEMO_STAFF = dict(name="Camille DÉMO", role="aide_soignant", pin="123456")
DEMO_PATIENT = dict(family_name="DÉMO", given_name="Jeanne", birth_date="02/04/1938", sex="F",
                    birth_place_insee="75056", identity_status="VALI", identity_document="CN", room="12")
DEVICE_ORDER = ("oximeter", "blood_pressure", "thermometer")
MEASURE_TIMEOUT = 40.0


def screen_name(kind: str) -> str:
    return kind.replace("_", "-")


async def sign_in(p: Player) -> None:
    """First run on this store: the site and the demo account; otherwise the demo account's PIN."""
    await p.wait(lambda: p.current in ("site_setup", "signin", "patient"), what="the first screen")
    if p.current == "site_setup":
        setup = p.screen("site_setup")
        setup.ids.kind.selected = DEMO_SITE["kind"]
        setup.ids.site_name.text = DEMO_SITE["name"]
        setup.ids.staff_name.text = DEMO_STAFF["name"]
        setup.ids.role.selected = DEMO_STAFF["role"]
        setup.ids.pin.text = DEMO_STAFF["pin"]
        await p.show("site-setup")
        p.press(setup.ids.save)
        return
    if p.current == "patient":
        return
    signin = p.screen("signin")
    member = next((m for m in p.models.signin.staff_list if m["name"] == DEMO_STAFF["name"]), None)
    if member is None:
        raise RuntimeError("this store has staff but no demo account: use a fresh --store for the demo")
    p.press(signin.staff_buttons[member["staff_id"]])
    for digit in DEMO_STAFF["pin"]:
        p.press(signin.ids[f"key_{digit}"])
    await p.show("sign-in")
    p.press(signin.ids.ok)


def fill_identity(form) -> None:
    """The patient form filled in for the demo resident: the five traits, her room, the identity validated on her
    identity card (a qualified identity and its INS only come from the INSi teleservice, which the tablet cannot
    reach) and how the traits were collected."""
    for key, value in (("family", DEMO_PATIENT["family_name"]), ("given", DEMO_PATIENT["given_name"]),
                       ("birth", DEMO_PATIENT["birth_date"]), ("insee", DEMO_PATIENT["birth_place_insee"]),
                       ("room", DEMO_PATIENT["room"])):
        form.ids[key].text = value
    form.ids.sex.selected = DEMO_PATIENT["sex"]
    form.ids.status.selected = DEMO_PATIENT["identity_status"]
    form.method = "SM"
    form.document = DEMO_PATIENT["identity_document"]


async def new_patient(p: Player) -> None:
    """The demo resident, validated on her identity card (or picked from the list if an earlier run created her)."""
    await p.wait_screen("patient")
    await p.show("patients")
    p.press(p.screen("patient").ids.new_patient)
    form = p.screen("patient_form")
    fill_identity(form)
    await p.show("new-patient")
    existing = [row for row in p.workflow.patients(DEMO_PATIENT["family_name"])
                if row.get("given_name") == DEMO_PATIENT["given_name"]]
    if existing:
        p.press(form.ids.cancel)
        p.models.patient_form.select_patient(str(existing[0]["id"]))
    else:
        p.press(form.ids.create)
    await p.wait_screen("session_start")


async def start_session(p: Player, reason: str) -> None:
    """The reason (in French: it goes into the record), consent given, the room checklist, a number to call back."""
    start = p.screen("session_start")
    start.ids.reason.text = reason
    start.ids.consent.selected = "given"
    for key in ("room_closed", "device_hygiene", "accessibility", "companion"):
        start.ids[key].active = True
    start.ids.callback.text = "01 23 45 67 89"
    await p.show("session-start")
    p.press(start.ids.start)
    await p.wait_screen("measure")
    await p.show("measure")


async def measure(p: Player, kind: str) -> bool:
    """Select the device's card and measure. True: its value is on review (shown); False: the card shows the
    device's failure (shown)."""
    measure_screen, vm = p.screen("measure"), p.models.measure
    p.press(measure_screen.ids[f"card_{kind}"])
    p.press(measure_screen.ids.measure)
    await p.wait(lambda: p.current == "review" or vm.error is not None, MEASURE_TIMEOUT,
                 what=f"a {kind} reading or its failure")
    if p.current != "review":
        await p.show(f"measure-error-{screen_name(kind)}")
        return False
    await p.show(f"review-{screen_name(kind)}")
    return True


async def accept(p: Player) -> None:
    """Keep the value on review: "Next device" back to the cards while a device is left to measure, "Finish the
    measurements" (on to the vital signs) after the last one."""
    review = p.screen("review")
    if review.ids.accept.disabled:  # nothing left to measure: only "finish" is offered
        p.press(review.ids.save)
        await p.wait_screen("vitals")
        return
    p.press(review.ids.accept)
    await p.wait_screen("measure")


async def measure_and_accept(p: Player, kinds: tuple[str, ...] = DEVICE_ORDER) -> None:
    for kind in kinds:
        if not await measure(p, kind):
            raise RuntimeError(f"the {kind} failed in a scenario that expects it to work")
        await accept(p)


async def temperature_by_hand(p: Player, text: str) -> None:
    """After the thermometer failed: 'Manual entry' from the error panel, the value typed, confirmed, reviewed."""
    measure_screen = p.screen("measure")
    p.press(measure_screen.ids.manual_from_error)
    await p.wait(lambda: p.models.measure.manual_mode, what="the manual entry")
    measure_screen.ids.manual_input.text = text
    await p.show("manual-thermometer")
    p.press(measure_screen.ids.manual_ok)
    await p.wait_screen("review")
    await p.show("review-thermometer-manual")
    await accept(p)


async def vitals(p: Player, *, rr: str = "18", acvpu: str = "A", oxygen: str = "no", call_15: bool = False) -> None:
    """The devices are done: respiration rate, consciousness and air/oxygen (a blank one stays blank) and NEWS2.
    `call_15`: at high risk, staff first call the 15 and record it ("I have called the 15"), then go on."""
    if p.current == "measure":  # a device left unmeasured: staff end the measurements from the cards
        await p.show("measure-done")
        p.press(p.screen("measure").ids.finish)
    await p.wait_screen("vitals")
    screen = p.screen("vitals")
    screen.ids.rr.text = rr
    screen.ids.acvpu.selected = acvpu
    screen.ids.oxygen.selected = oxygen
    screen.preview()
    await p.show("vitals-news2")
    if call_15:
        if p.models.vitals.news2_risk != "high":
            raise RuntimeError(f"the scenario expects a high NEWS2, the score is {p.models.vitals.news2_risk}")
        p.press(screen.ids.call_15)
        await p.wait(lambda: bool(p.models.vitals.call_15_time), what="the 15 call recorded")
        await p.show("vitals-15-called")
    p.press(screen.ids.confirm)
    await p.wait_screen("teleconsult")


async def call(p: Player, conclusion: str, prescriptions: str = "", orientation: str = "stay") -> None:
    """The call with the remote doctor, his conclusion and orientation (French: they go into the record)."""
    screen = p.screen("teleconsult")
    screen.ids.doctor.text = "Dr DÉMO Téléconsultant"
    p.press(screen.ids.start_call)
    await p.wait(lambda: p.models.teleconsult.call_running, what="the call")
    screen.ids.conclusion.text = conclusion
    screen.orientation = orientation
    screen.ids.prescriptions.text = prescriptions
    await p.show("teleconsult")
    p.press(screen.ids.end_call)
    await p.wait_screen("summary")


async def leave(p: Player) -> str:
    """Called away mid-session: "Change patient" in the banner, then "Leave (the session stays open)" in the pop-up
    that asks first. The patient list shows the session among the open ones. Returns the session left."""
    step, session_id = p.current, p.workflow.state.session_id
    banner = p.screen(step).ids.banner
    p.press(banner.ids.change_patient)
    popup = banner.popup  # opened by the tap (mobile.screens.widgets.LeavePopup)
    await p.wait(lambda: popup is not None and popup.parent is not None, what="the leave pop-up")
    await p.show("leave")
    p.press(popup.ids.leave)
    await p.wait_screen("patient")
    await p.wait(lambda: popup.parent is None, what="the leave pop-up closed")
    await p.wait(lambda: _open_row(p, session_id) is not None, what="the session among the open ones")
    await p.show("patients-open-session")
    return session_id


def _open_row(p: Player, session_id: str):
    rows = p.screen("patient").ids.open_list.children
    return next((row for row in rows if getattr(row, "session_id", None) == session_id), None)


async def resume(p: Player, session_id: str, step: str) -> None:
    """Back from elsewhere: a tap on the open session's row brings it back at the step it was left on."""
    p.press(_open_row(p, session_id))
    await p.wait_screen(step)
    if p.workflow.state.session_id != session_id:
        raise RuntimeError("the open session's row resumed another session")
    await p.show(f"{screen_name(step)}-resumed")


async def summary(p: Player) -> None:
    """The summary for the patient's own doctor, then the session closed and saved."""
    screen = p.screen("summary")
    screen.ids.typed_name.text = "Dr DÉMO Traitant"
    screen.ids.typed_address.text = "demo.traitant@medecin.mssante.test"
    await p.show("summary")
    p.press(screen.ids.close)
    await p.wait_screen("saved")
    await p.show("saved")
