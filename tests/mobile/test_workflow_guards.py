"""Every guard of the guided session, as plain Python with the real store: who may do what, in which order, and
what happens when consent is refused, a PIN is wrong, the tablet is left alone, or a device is already busy."""
from __future__ import annotations

import datetime as dt

import pytest

from mobile.workflow import DeviceClaims, DuplicateWarning, SessionWorkflow, WorkflowError
from sync import outbox
from sync.store import PinLockedError, Store
from tests.support.clocks import BootClockOf
from tests.support.workflow import DEMO, NOW, ScriptedThermometer, reading_from
from tests.support.workflow import PIN, begin, close_session, refused, refused_by_store, set_up_tablet, sign_in, start


@pytest.fixture
def store(store):
    """Overrides the shared store (tests/mobile/conftest.py): a set-up tablet."""
    set_up_tablet(store)
    return store


def make(store, *results, **kwargs):
    return SessionWorkflow(store, ScriptedThermometer(*results), clock=lambda: NOW, **kwargs)


# -- sign-in -------------------------------------------------------------------------------------------------------

def test_nothing_happens_before_sign_in(store):
    wf = make(store)
    assert wf.state.step == "signin" and wf.state.staff is None
    pid = store.add_patient(**DEMO)
    with refused("auth.sign_in_first"):
        wf.select_patient(pid)
    with refused("auth.sign_in_first"):
        wf.create_patient(**DEMO)
    assert store.open_sessions() == []


def test_a_wrong_pin_is_refused_and_the_staff_list_never_carries_pin_hashes(store):
    wf = make(store)
    (member,) = wf.staff_members()
    assert "pin_hash" not in member and member["role"] == "aide_soignant"
    with refused("signin.pin_wrong"):
        wf.sign_in(member["id"], "0000")
    assert wf.state.staff is None
    wf.sign_in(member["id"], PIN)
    assert wf.state.staff["display_name"] == "Camille Soignante" and wf.state.step == "patient"


def test_pins_are_salted_scrypt_hashes(store):
    (row,) = store.list_staff()
    assert PIN not in row["pin_hash"] and row["pin_hash"].startswith("scrypt$16384$8$1$")
    other = store.add_staff(display_name="Léa Infirmière", role="infirmier", pin=PIN)
    assert store.get_staff(other)["pin_hash"] != row["pin_hash"]  # same PIN, different salt


def test_five_wrong_pins_lock_the_account_for_a_growing_delay(store, clock):
    store.uptime = BootClockOf(clock)  # time passes on the boot clock too, the one a lock-out is measured on
    (member,) = store.list_staff()
    for _ in range(4):
        assert store.verify_pin(member["id"], "1111") is False
    assert store.verify_pin(member["id"], "1111") is False  # the fifth: locked for 30 s
    with pytest.raises(PinLockedError) as caught:
        store.verify_pin(member["id"], PIN)  # even the right PIN waits
    assert 29 <= caught.value.remaining.total_seconds() <= 30
    assert caught.value.code == "pin.locked" and caught.value.params == {"seconds": 30}
    clock.now += dt.timedelta(seconds=31)
    assert store.verify_pin(member["id"], "1111") is False  # sixth wrong: 60 s now
    with pytest.raises(PinLockedError) as caught:
        store.verify_pin(member["id"], PIN)
    assert caught.value.remaining.total_seconds() == pytest.approx(60, abs=1)
    clock.now += dt.timedelta(seconds=61)
    assert store.verify_pin(member["id"], PIN) is True  # the right PIN resets the count
    assert store.get_staff(member["id"])["pin_failures"] == 0


def test_the_workflow_says_how_long_a_locked_account_waits(store):
    wf = make(store)
    (member,) = wf.staff_members()
    for _ in range(5):
        with pytest.raises(WorkflowError):
            wf.sign_in(member["id"], "9999")
    with refused("signin.locked_out.seconds"):
        wf.sign_in(member["id"], PIN)


def test_only_an_administrator_resets_a_pin(store):
    (member,) = store.list_staff()
    with pytest.raises(ValueError) as refused:
        store.reset_pin(member["id"], member["id"], "5555")
    assert refused.value.code == "pin.reset.not_admin"
    admin = store.add_staff(display_name="Admin", role="administrateur", pin="864213")
    for _ in range(5):
        store.verify_pin(member["id"], "0000")
    store.reset_pin(admin, member["id"], "5555")
    assert store.verify_pin(member["id"], "5555") is True


def test_first_run_creates_the_site_and_the_first_account(tmp_path):
    with Store(tmp_path / "fresh.db") as store:
        wf = SessionWorkflow(store)
        assert wf.state.step == "site_setup"
        with refused("site.first_account_missing"):
            wf.setup_site(kind="pharmacie", name="Pharmacie du Port")
        with refused_by_store("FINESS"):
            wf.setup_site(kind="pharmacie", name="Pharmacie du Port", finess="123", first_staff_name="Hugo",
                          first_staff_pin="258013")
        wf.setup_site(kind="pharmacie", name="Pharmacie du Port", first_staff_name="Hugo Pharmacien",
                      first_staff_role="pharmacien", first_staff_pin="258013")
        assert wf.state.step == "patient" and wf.state.staff["role"] == "pharmacien"
        assert store.get_setting("site_id") == wf.state.site["id"]
        assert SessionWorkflow(store).state.step == "signin"  # the next start asks for a PIN


# -- identity and duplicates ---------------------------------------------------------------------------------------

def test_a_probable_duplicate_is_shown_before_creating(store):
    wf = make(store)
    sign_in(wf)
    first = wf.create_patient(**DEMO)
    wf.new_session()
    for variant in ({**DEMO, "family_name": "Demo"},                              # accents and case folded
                    {**DEMO, "family_name": "Jeanne", "given_name": "Démo"},      # names swapped
                    {**DEMO, "family_name": "DÉMO-MARTIN", "given_name": "Jeanne Marie"}):  # same first given name
        with pytest.raises(DuplicateWarning) as caught:
            wf.create_patient(**variant)
        assert [c["id"] for c in caught.value.candidates] == [first]
    other_day = wf.create_patient(**{**DEMO, "birth_date": "1938-04-03"})  # another birth date: no warning
    assert other_day != first
    wf.new_session()
    anyway = wf.create_patient(allow_duplicate=True, **{**DEMO, "given_name": "Jeannette"})
    assert anyway not in (first, other_day)


# -- session start: consent and checklist ------------------------------------------------------------------------

async def test_no_measurement_before_consent_and_checklist(store):
    wf = make(store, reading_from("00B00E00FE"))
    sign_in(wf)
    wf.create_patient(**DEMO)
    assert wf.state.step == "session_start"
    with refused("measure.consent_first"):
        await wf.measure_temperature()
    with refused("measure.consent_first"):
        wf.enter_manual_temperature("37,2")
    with refused("session.room_checks_missing"):
        wf.start_session(reason="Toux", consent="given", room_closed=True, device_hygiene=True, accessibility=False)
    with refused("session.reason_missing"):
        wf.start_session(reason=" ", consent="given", room_closed=True, device_hygiene=True, accessibility=True)
    with refused("session.consent_grantor_name_missing"):
        start(wf, given_by="trusted_person")
    assert store.consents(wf.state.session_id) == []  # nothing recorded by refused attempts
    start(wf, given_by="trusted_person", given_by_name="Paul Démo", companion_present=True,
          callback_phone="06 12 34 56 78")
    session = store.get_session(wf.state.session_id)
    assert (session["checklist_room_closed"], session["checklist_device_hygiene"],
            session["checklist_accessibility"], session["companion_present"]) == (1, 1, 1, 1)
    (consent,) = store.consents(wf.state.session_id)
    assert (consent["decision"], consent["given_by"], consent["recorded_by"]) == (
        "given", "trusted_person", wf.state.staff["id"])
    assert await wf.measure_temperature() is not None


def test_consent_refused_ends_the_session_cleanly(store):
    wf = make(store)
    sign_in(wf)
    wf.create_patient(**DEMO)
    session_id = wf.state.session_id
    assert wf.start_session(reason="", consent="refused") is False
    assert wf.state.step == "patient" and wf.state.session_id is None and wf.state.patient is None
    assert wf.state.notice == "session.consent_refused"
    assert store.get_session(session_id)["state"] == "abandoned"
    assert [c["decision"] for c in store.consents(session_id)] == ["refused"]  # the refusal is kept
    assert store.outbox_counts()["pending"] == 0  # and nothing will be uploaded


def test_changing_patient_parks_the_unfinished_session(store):
    wf = make(store)
    begin(wf, DEMO)
    first = wf.state.session_id
    other = store.add_patient(**{**DEMO, "given_name": "Paulette", "birth_date": "1940-01-01"})
    wf.select_patient(other)
    assert store.get_session(first)["state"] == "open" and wf.state.session_id != first
    assert len(store.open_sessions()) == 2  # the first one waits in the patient list, to be resumed


# -- the end: vitals, call, summary, close ---------------------------------------------------------------------

async def test_no_close_without_measurements_a_call_and_a_summary(store):
    wf = make(store, reading_from("00B00E00FE"))
    begin(wf, DEMO)
    with refused("measure.nothing_to_save"):
        wf.finish_measurements()
    with refused("session.finish_measurements_first"):
        wf.confirm_vitals(respiration_rate="16")
    await wf.measure_temperature()
    wf.finish_measurements()  # the value on review is accepted and stored
    assert wf.state.step == "vitals"
    with refused("vitals.respiration_rate.format"):
        wf.confirm_vitals(respiration_rate="seize")
    with refused("vital.implausible.respiration_rate"):
        wf.confirm_vitals(respiration_rate="95")
    with refused("vitals.consciousness.choice"):
        wf.confirm_vitals(consciousness="Z")
    partial = wf.confirm_vitals(respiration_rate="22")
    assert not partial.complete and "consciousness" in partial.missing
    with refused("call.start_first"):
        wf.end_call(conclusion="RAS")
    with refused("call.doctor_name_missing"):
        wf.start_call(doctor_name="")
    wf.start_call(doctor_name="Dr Marc Téléconsultant", doctor_rpps="10000000001")
    with refused("call.conclusion_missing"):
        wf.end_call(conclusion="  ")
    wf.end_call(conclusion="Bronchite probable, pas de signe de gravité.", orientation="gp",
                prescriptions="Paracétamol 1 g si fièvre, 3 fois par jour au plus.")
    assert wf.state.step == "summary"
    draft = wf.state.summary_draft
    assert "Toux et fièvre" in draft and "37,60" in draft and "Bronchite" in draft and "Paracétamol" in draft
    with refused("summary.missing"):
        wf.close(summary="   ")
    session_id = wf.close(summary=draft, recipient_name="Dr Traitant")
    assert wf.state.step == "saved" and store.get_session(session_id)["state"] == "closed"
    kinds = [n["kind"] for n in store.notes(session_id)]
    assert kinds == ["remote_doctor_conclusion", "orientation", "prescription"]
    (entry,) = outbox.entries(store)
    assert entry.session_id == session_id


async def test_a_closed_session_is_locked_later_remarks_are_addenda(store):
    wf = make(store, reading_from("00B00E00FE"))
    begin(wf, DEMO)
    await wf.measure_temperature()
    session_id = close_session(wf)
    with pytest.raises(Exception):
        store.add_note(session_id, kind="staff_note", text="après coup", author="x")
    wf.add_addendum(session_id, "Le médecin traitant a rappelé : pris connaissance.")
    assert [a["text"] for a in store.addenda(session_id)] == ["Le médecin traitant a rappelé : pris connaissance."]
    wf.new_session()
    other = wf.create_patient(**{**DEMO, "given_name": "Paulette", "birth_date": "1940-01-01"})
    assert other
    with refused_by_store("séance close"):
        wf.add_addendum(wf.state.session_id, "trop tôt")  # the open session is edited directly, not by addendum


# -- idle lock ------------------------------------------------------------------------------------------------------

class Monotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_idle_lock_keeps_the_session_and_another_staff_member_may_unlock(store):
    ticks = Monotonic()
    wf = make(store, reading_from("00B00E00FE"), monotonic=ticks)
    store.set_setting("idle_lock_seconds", "120")
    begin(wf, DEMO)
    await wf.measure_temperature()
    step, patient, session = wf.state.step, wf.state.patient["id"], wf.state.session_id
    ticks.t += 119
    assert wf.check_idle() is False
    wf.touch()
    ticks.t += 119
    assert wf.check_idle() is False  # touching restarted the timer
    ticks.t += 2
    assert wf.check_idle() is True and wf.state.locked
    for action in (wf.accept, wf.finish_measurements, wf.abandon):
        with refused("auth.sign_in_first"):
            action()
    nurse = store.add_staff(display_name="Léa Infirmière", role="infirmier", pin="1357")
    with pytest.raises(WorkflowError):
        wf.sign_in(nurse, "0000")
    assert wf.state.locked
    wf.sign_in(nurse, "1357")
    assert not wf.state.locked and wf.state.staff["id"] == nurse
    assert (wf.state.step, wf.state.patient["id"], wf.state.session_id) == (step, patient, session)


async def test_no_idle_lock_while_a_device_measures(store):
    import asyncio

    ticks = Monotonic()
    reader = ScriptedThermometer(reading_from("00B00E00FE"))
    reader.gate = asyncio.Event()
    wf = SessionWorkflow(store, reader, clock=lambda: NOW, monotonic=ticks)
    begin(wf, DEMO)
    task = asyncio.ensure_future(wf.measure_temperature())
    await asyncio.sleep(0.01)
    ticks.t += 10_000
    assert wf.check_idle() is False
    reader.gate.set()
    assert await task is not None


# -- one device, one session -----------------------------------------------------------------------------------

async def test_a_device_serving_another_open_session_is_refused(store):
    claims = DeviceClaims()
    first = make(store, reading_from("00B00E00FE"), device_claims=claims)
    second = make(store, reading_from("00B00E00FE"), device_claims=claims)  # the same thermometer (address)
    begin(first, DEMO)
    await first.measure_temperature()
    first.accept()
    begin(second, {**DEMO, "given_name": "Paulette", "birth_date": "1940-01-01"})
    assert await second.measure_temperature() is None
    assert second.state.error.code == "device.serves_another_session" and second.state.proposal is None
    close_session(first)  # released when the first session closes
    second.retake()
    second.measuring.readers["thermometer"].results.append(reading_from("00B00E00FE"))
    assert await second.measure_temperature() is not None


async def test_a_low_battery_is_said_in_plain_words_with_the_value(store):
    low = reading_from("00B00E00FE")
    low = type(low)(low.kind, low.measurement, low.raw, low.device, low.received_at, 8)
    wf = make(store, low, reading_from("00B00E00FE"))
    begin(wf, DEMO)
    proposal = await wf.measure_temperature()
    assert "device.battery_low" in proposal.warnings
    wf.retake()
    assert "device.battery_low" not in (await wf.measure_temperature()).warnings  # 80 %: nothing to say
