"""Training scenarios (`python -m mobile --demo --scenario NAME`): each one is played in the test's process on the real
app (real store, simulated Bluetooth devices, offscreen window) and shows the screens it should, in order, ending in
the state it is about (a flagged fever, a partial NEWS2, a temperature typed by hand, the 15 called at high risk, a
neighbour's thermometer refused, a session left and resumed), with every text whole and every button inside the
window on every screen, in landscape and portrait, French and English. The command line lists them without starting
Kivy, refuses an unknown name, and plays one by itself in its own process, screenshots included, without touching
the staff's real store."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START = ["site-setup", "patients", "new-patient", "session-start", "measure"]
DEVICES_OK = ["review-oximeter", "review-blood-pressure", "review-thermometer"]
END = ["vitals-news2", "teleconsult", "summary", "saved"]
SCREENS = {
    "normal": START + DEVICES_OK + END,
    "fever": START + DEVICES_OK + END,
    "news2-partial": START + DEVICES_OK + END,
    "device-failure": START + ["review-oximeter", "review-blood-pressure", "measure-error-thermometer",
                               "manual-thermometer", "review-thermometer-manual"] + END,
    "news2-high": START + DEVICES_OK + ["vitals-news2", "vitals-15-called"] + END[1:],
    "foreign-device": START + ["review-oximeter", "review-blood-pressure", "measure-error-thermometer",
                               "manual-thermometer", "review-thermometer-manual"] + END,
    "resume": START + ["review-oximeter", "review-blood-pressure", "leave", "patients-open-session",
                       "measure-resumed", "review-thermometer"] + END,
}
SCREEN_OF = (("site-setup", "site_setup"), ("patients", "patient"), ("new-patient", "patient_form"),
             ("session-start", "session_start"), ("measure", "measure"), ("manual", "measure"), ("review", "review"),
             ("leave", "measure"),
             ("vitals", "vitals"), ("teleconsult", "teleconsult"), ("summary", "summary"), ("saved", "saved"))
LOINC_TEMPERATURE, LOINC_RR, LOINC_ACVPU = "8310-5", "9279-1", "67775-7"
NEIGHBOUR_THERMOMETER = "C0:DE:00:00:02:01"   # mobile.simulation.NEIGHBOURS: the other tablet's, not in this kit


def buttons_off_the_window(app) -> list[str]:
    """Visible buttons of the current screen that leave the window sideways (nothing here scrolls sideways, so a
    button past the right edge cannot be reached)."""
    from kivy.core.window import Window
    from kivy.uix.behaviors import ButtonBehavior

    def shown(widget) -> bool:
        node = widget
        while node is not None and node is not app.root:
            if node.opacity == 0 or node.width <= 1 or node.height <= 1:
                return False
            node = node.parent
        return True

    found = []
    for w in app.screen_manager.current_screen.walk(restrict=True):
        if isinstance(w, ButtonBehavior) and shown(w):
            left = w.to_window(w.x, w.y)[0]
            if left < -1 or left + w.width > Window.width + 1:
                found.append(f"{type(w).__name__} {getattr(w, 'text', '')[:40]!r}")
    return found


def run_cli(home: Path, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """`python ARGS` with its own RELAIS_HOME: whatever goes wrong, the developer's own store is never touched."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KCFG_")}  # the app's own window size
    base.update(PYTHONPATH=str(ROOT), RELAIS_HOME=str(home))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=base, capture_output=True, text=True,
                          timeout=timeout)


# -- the scenarios, played in this process -------------------------------------------------------------------------
@pytest.mark.timeout(90)
@pytest.mark.parametrize("name,size,lang", [("normal", "landscape", "fr"), ("fever", "portrait", "en"),
                                            ("news2-partial", "portrait", "fr"),
                                            ("device-failure", "landscape", "en"),
                                            ("news2-high", "landscape", "fr"), ("foreign-device", "portrait", "en"),
                                            ("resume", "portrait", "fr")])
async def test_a_scenario_plays_its_session_to_the_end(tmp_path, name, size, lang):
    from mobile.training.runner import play
    from mobile.training.scenarios import SCENARIOS
    from sync import outbox
    from tests.support.ui import LANDSCAPE, PORTRAIT, clipped_texts, make_runtime, running_app

    scenario = SCENARIOS[name]
    runtime = make_runtime(tmp_path, signed_in=False, demo=True, **scenario.runtime_settings())
    seen: dict[str, dict] = {}
    async with running_app(runtime, size=LANDSCAPE if size == "landscape" else PORTRAIT, lang=lang) as app:
        def look(screen: str) -> None:
            vitals, review = app.screen_manager.get_screen("vitals"), app.models.review
            seen[screen] = dict(current=app.screen_manager.current, news2=vitals.ids.news2_total.text,
                                missing=list(app.models.vitals.news2_missing), source=review.source,
                                points=dict(app.models.vitals.news2_rows),
                                values=[(v.field, str(v.value), v.flag) for v in review.values],
                                error=app.models.measure.error, risk=app.models.vitals.news2_risk,
                                call_15=vitals.ids.call_15_done.text,
                                summary=app.screen_manager.get_screen("summary").ids.summary.text,
                                session=app.runtime.workflow.state.session_id,
                                accepted=sorted(app.runtime.workflow.state.accepted),
                                open_rows=[row.session_id for row in
                                           app.screen_manager.get_screen("patient").ids.open_list.children],
                                off_window=buttons_off_the_window(app),
                                hidden_next=(app.screen_manager.get_screen("review").ids.accept.width
                                             if not review.remaining else None),
                                clipped=clipped_texts(app))

        await play(app, scenario, pause=0.02, on_screen=look)
        assert list(seen) == SCREENS[name]
        assert {shown: seen[shown]["off_window"] for shown in seen if seen[shown]["off_window"]} == {}
        assert {shown: seen[shown]["clipped"] for shown in seen if seen[shown]["clipped"]} == {}  # every text fits
        # the last device's review: the hidden "Next device" takes no room from "Measure again" and "Finish"
        assert [seen[shown]["hidden_next"] for shown in seen if shown.startswith("review-thermometer")] == [0]
        (entry,) = outbox.entries(runtime.store)  # one closed session waiting to leave the tablet
        measured = runtime.store.measurements(entry.session_id)
        rows = {row["code"]: row for row in measured}
        payload = json.loads(entry.payload)
        session = runtime.store.get_session(entry.session_id)
        patient = runtime.store.get_patient(session["patient_id"])
        notes = [note["text"] for note in runtime.store.notes(entry.session_id)]
        summary = runtime.store.get_summary(entry.session_id)["text"]
        sessions_of_patient = runtime.store.query("SELECT id FROM sessions WHERE patient_id = ?",
                                                  [session["patient_id"]])
        neighbour_subscriptions = [device.subscriptions for device in runtime.simulated
                                   if device.address == NEIGHBOUR_THERMOMETER]
    # each name is the screen really shown at that moment
    assert [seen[shown]["current"] for shown in seen] == [
        next(screen for prefix, screen in SCREEN_OF if shown.startswith(prefix)) for shown in seen]
    temperature = rows[LOINC_TEMPERATURE]
    # validated on an identity card: the tablet cannot qualify an identity (INSi), so no INS is typed or sent
    assert (patient["identity_status"], patient["identity_document"], patient["ins"]) == ("VALI", "CN", None)
    assert "fr-core-cs-mode-validation-identity" in entry.payload
    assert "1.2.250.1.213.1.4.11" not in entry.payload and "1.2.250.1.213.1.4.8" not in entry.payload
    assert payload["resourceType"] == "Bundle"
    if name in ("normal", "news2-partial", "resume"):
        assert (temperature["value"], temperature["source"], temperature["interpretation"]) == ("37.60", "bluetooth",
                                                                                              None)
    if name == "fever":  # the simulated thermometer's 39.2 °C: flagged when accepted, counted by NEWS2
        assert seen["review-thermometer"]["values"] == [("temperature", "39.20", "H")]
        assert (temperature["value"], temperature["interpretation"]) == ("39.20", "H")
        assert seen["vitals-news2"]["points"]["temperature"] == 2
    if name == "news2-partial":  # nothing stored for what was left blank, and the score says it is partial
        assert LOINC_RR not in rows and LOINC_ACVPU not in rows
        assert set(seen["vitals-news2"]["missing"]) == {"respiration_rate", "consciousness"}
        headline = seen["vitals-news2"]["news2"]  # the headline says it is incomplete and names what is missing
        assert headline.startswith("Score incomplet") and "fréquence respiratoire" in headline
        assert "conscience (ACVPU)" in headline
    else:
        assert rows[LOINC_RR]["value"] in ("18", "22", "26") and rows[LOINC_ACVPU]["value"] in ("A", "C")
        assert '"valueCodeableConcept"' in entry.payload and LOINC_RR in entry.payload  # ACVPU, respiration rate
        assert seen["vitals-news2"]["missing"] == []
    if name == "news2-high":  # the 15 called first, at high risk: recorded in the session, carried by the summary
        assert seen["vitals-news2"]["risk"] == "high" and seen["vitals-news2"]["call_15"] == ""
        called = seen["vitals-15-called"]["call_15"]
        assert called.startswith("Appel au 15 à ") and called.endswith(", noté par Camille DÉMO.")
        (call_note,) = [text for text in notes if text.startswith("Appel au 15 à ")]
        assert call_note.endswith(" par Camille DÉMO.") and call_note in summary
        assert "Orientation : Urgences / SAMU (15)" in summary.replace("\u00a0", " ")
        assert (rows[LOINC_RR]["value"], rows[LOINC_ACVPU]["value"]) == ("26", "C")
    if name == "foreign-device":  # the neighbour's thermometer refused, never read; the temperature typed by hand
        assert getattr(seen["measure-error-thermometer"]["error"], "code", None) == "measure.not_in_kit"
        assert "SIM-THERMO-0002" not in {row["device_serial"] for row in measured}
        assert {row["device_serial"] for row in measured if row["source"] == "bluetooth"} == {"SIM-OXY-0001",
                                                                                             "SIM-BPM-0001"}
        assert (temperature["value"], temperature["source"]) == ("38.4", "manual")
        assert neighbour_subscriptions == [[]]  # in range, heard, never connected to nor read
    if name == "resume":  # left open, found in the list, resumed: one session, what was accepted before kept
        assert seen["patients-open-session"]["open_rows"] == [entry.session_id]
        assert seen["measure-resumed"]["session"] == entry.session_id
        assert seen["measure-resumed"]["accepted"] == ["blood_pressure", "oximeter"]
        assert [row["id"] for row in sessions_of_patient] == [entry.session_id]
        from_devices = [(row["device_serial"], row["code"]) for row in measured if row["source"] == "bluetooth"]
        assert {serial for serial, _ in from_devices} == {"SIM-OXY-0001", "SIM-BPM-0001", "SIM-THERMO-0001"}
        assert len(from_devices) == len(set(from_devices))  # each value once: nothing measured twice
    if name == "device-failure":  # the thermometer's card failed, the value was typed: marked manual
        assert seen["measure-error-thermometer"]["error"] is not None
        assert seen["review-thermometer-manual"]["source"] == "manual"
        assert (temperature["value"], temperature["source"]) == ("38.4", "manual")


# -- the command line ----------------------------------------------------------------------------------------------
def test_scenario_list_names_each_scenario_in_the_staff_language_without_starting_kivy(tmp_path):
    from mobile.training.scenarios import SCENARIOS

    french = run_cli(tmp_path, "-X", "importtime", "-m", "mobile", "--scenario", "list")
    assert french.returncode == 0, french.stderr[-2000:]
    lines = french.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIOS) == ["normal", "fever", "news2-partial",
                                                                      "device-failure", "news2-high",
                                                                      "foreign-device", "resume"]
    assert "Le thermomètre n'envoie que des erreurs" in lines[3]
    assert " kivy" not in french.stderr and " bumble" not in french.stderr  # -X importtime: every module imported
    english = run_cli(tmp_path, "-m", "mobile", "--scenario", "list", "--language", "en")
    assert "The thermometer sends only errors" in english.stdout.splitlines()[3]
    assert "Seul le thermomètre d'une tablette voisine est à portée" in lines[5]  # each new one is translated
    assert all(not line.split(None, 1)[1].startswith(english_line.split(None, 1)[1])
               for line, english_line in zip(lines, english.stdout.splitlines()))


def test_an_unknown_scenario_is_refused_with_the_valid_names(tmp_path):
    result = run_cli(tmp_path, "-m", "mobile", "--demo", "--offline", "--scenario", "news2-hihg")
    assert result.returncode == 2 and not result.stdout
    assert "unknown scenario 'news2-hihg'" in result.stderr
    assert "normal, fever, news2-partial, device-failure, news2-high, foreign-device, resume" in result.stderr
    # a simulated thermometer behaviour sets the devices for hand use, but is no session to play
    played = run_cli(tmp_path, "-m", "mobile", "--demo", "--offline", "--scenario", "disconnect")
    assert played.returncode == 2 and "unknown scenario 'disconnect'" in played.stderr


def test_a_scenario_name_sets_the_simulated_devices_for_hand_use():
    from mobile.training import choose

    assert choose.device_settings("device-failure") == dict(thermometer_scenario="error", oximeter_scenario="normal",
                                                            blood_pressure_scenario="normal")
    assert choose.device_settings("fever")["thermometer_scenario"] == "fever"
    assert choose.device_settings("disconnect")["thermometer_scenario"] == "disconnect"  # still reachable
    neighbour = choose.device_settings("foreign-device")  # by hand too: the neighbour's thermometer, the kit's off
    assert (neighbour["foreign_devices"], neighbour["devices_off"]) == (("thermometer",), ("thermometer",))
    assert neighbour["wait_limits"].scan < 15  # refused once the scan gives up: not a long wait in a demo
    with pytest.raises(choose.UnknownScenario) as refused:
        choose.device_settings("nope")
    assert "error" in refused.value.behaviours and "device-failure" in str(refused.value)
    # a scenario may set any other field of the runtime's configuration (a neighbour's device, a kit device off)
    from mobile.training.scenarios import Scenario, normal

    settings = Scenario("x", "x", normal, {"oximeter": "no_finger"}, {"demo": True}).runtime_settings()
    assert settings == dict(thermometer_scenario="normal", oximeter_scenario="no_finger",
                            blood_pressure_scenario="normal", demo=True)


async def test_the_runtime_gives_each_simulated_device_its_scenario(tmp_path):
    from mobile.runtime import AppRuntime, RuntimeConfig

    runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db", thermometer_scenario="fever",
                                       oximeter_scenario="no_finger", blood_pressure_scenario="irregular_pulse"))
    await runtime.start()
    try:
        assert sorted(device.scenario.name for device in runtime.simulated) == ["fever", "irregular_pulse",
                                                                                "no_finger"]
    finally:
        await runtime.stop()


@pytest.mark.timeout(90)
def test_the_command_line_plays_a_scenario_with_a_screenshot_per_screen_on_a_store_of_its_own(tmp_path):
    from PIL import Image

    shots, home = tmp_path / "shots", tmp_path / "home"
    result = run_cli(home, "-m", "mobile", "--demo", "--scenario", "device-failure", "--offline", "--language", "en",
                     "--portrait", "--screenshots", str(shots), timeout=80)
    assert result.returncode == 0, result.stderr[-3000:]
    names = sorted(p.name for p in shots.glob("*.png"))
    assert names == [f"{n:02d}-{screen}.png" for n, screen in enumerate(SCREENS["device-failure"], start=1)]
    for path in shots.glob("*.png"):
        image = Image.open(path).convert("RGB")
        assert image.size == (800, 1280)
        assert len(image.getcolors(1 << 20)) > 50, f"{path.name} looks blank"
    # the demo ran on a fresh store of its own, removed afterwards: the staff's store was never created
    assert not (home / "relais.db").exists()
    assert list((home / "demo").iterdir()) == []


def test_a_failing_scenario_ends_the_command_with_an_error(tmp_path):
    """A store with staff but no demo account: the scenario cannot sign in, and says so."""
    from sync.store import open_app_store
    from tests.support.workflow import set_up_tablet

    with open_app_store(tmp_path / "relais.db") as store:
        set_up_tablet(store)
    result = run_cli(tmp_path, "-m", "mobile", "--demo", "--scenario", "normal", "--offline", "--store",
                     str(tmp_path / "relais.db"), "--screenshots", str(tmp_path / "shots"), timeout=60)
    assert result.returncode == 1
    assert "did not play to its end" in result.stderr and "no demo account" in result.stderr
