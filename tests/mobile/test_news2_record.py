"""NEWS2 as the RCP 2017 chart and its clinical response table say, and what the record keeps of it: the bands of
a complete score, a partial score that is "at least" a band or "incomplete" (never low), SpO2 scale 2 only when a
88–92 % target was ticked (stored with the session), the call to the 15 kept as a team note, and the summary for
the patient's doctor — labelled values with their device and its warnings, NEWS2 with its band — in French whatever
the screens' language."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from fhir.resources.R4B.bundle import Bundle

from devices.reading import DeviceIdentity, DeviceReading
from mobile.i18n import tr
from mobile.runtime import AppRuntime, RuntimeConfig
from mobile.workflow import SessionWorkflow
from mobile.workflow.record_fr import measurement_lines, news2_fr
from mobile.workflow.state import Proposal, ProposedValue
from mobile.workflow.vitals import manual_rows, manual_vitals, news2_of
from sync import outbox
from sync.clinical.news2 import news2
from sync.fhir.terminology import NEWS2_INPUT_SYSTEM
from tests.support.workflow import DEMO, ScriptedThermometer, begin, set_up_tablet

pytestmark = pytest.mark.timeout(60)
NOW = dt.datetime(2026, 11, 22, 7, 5, tzinfo=dt.timezone.utc)  # the store's clock (tests/mobile/conftest.py)
CALM = dict(respiration_rate=16, spo2=D(97), on_oxygen=False, systolic=D(130), pulse=D(72), consciousness="A",
            temperature_c=D("37.0"))


@pytest.mark.parametrize("changes, score, band", [
    ({}, 0, "low"),
    ({"respiration_rate": 22, "pulse": D(95), "temperature_c": D("38.5")}, 4, "low"),    # 2 + 1 + 1
    ({"respiration_rate": 25}, 3, "low_medium"),                                          # a single 3
    ({"respiration_rate": 25, "on_oxygen": True}, 5, "medium"),
    ({"respiration_rate": 22, "spo2": D(92), "pulse": D(95)}, 5, "medium"),              # 2 + 2 + 1, no 3
    ({"respiration_rate": 25, "on_oxygen": True, "pulse": D(95)}, 6, "medium"),
    ({"respiration_rate": 25, "on_oxygen": True, "temperature_c": D("39.5")}, 7, "high"),
])
def test_a_complete_score_has_its_rcp_band(changes, score, band):
    result = news2(**{**CALM, **changes})
    assert (result.score, result.complete, result.risk, result.at_least) == (score, True, band, False)


@pytest.mark.parametrize("known, score, band, at_least", [
    ({"spo2": D(97), "systolic": D(130), "pulse": D(72), "temperature_c": D("37.0")}, 0, "incomplete", False),
    ({"spo2": D(93), "pulse": D(95), "temperature_c": D("38.5")}, 4, "incomplete", False),  # 2 + 1 + 1: not low
    ({"respiration_rate": 25, "spo2": D(97)}, 3, "low_medium", True),
    ({"respiration_rate": 25, "on_oxygen": True}, 5, "medium", True),
    ({"respiration_rate": 25, "on_oxygen": True, "consciousness": "V"}, 8, "high", False),  # cannot go higher
])
def test_a_partial_score_is_at_least_a_band_or_incomplete_never_low(known, score, band, at_least):
    result = news2(**known)
    assert not result.complete
    assert (result.score, result.risk, result.at_least) == (score, band, at_least)


def oximeter(spo2: int, *, warnings: tuple[str, ...] = ()) -> Proposal:
    reading = DeviceReading("oximeter", None, b"", DeviceIdentity("C0:DE:00:00:00:22", "PC-60FW", "Creative Medical",
                                                                  "PC-60FW"), NOW, 12)
    return Proposal("s1", "59408-5", D(spo2), "%", "bluetooth", NOW, NOW, reading, warnings, kind="oximeter",
                    values=(ProposedValue("spo2", "59408-5", D(spo2), "%"),
                            ProposedValue("pulse_rate", "8867-4", D(72), "/min")))


@pytest.mark.parametrize("spo2, on_oxygen, scale_1, scale_2", [
    (88, False, 3, 0), (90, True, 3, 0), (93, True, 2, 1), (95, True, 1, 2), (97, True, 0, 3), (97, False, 0, 0),
])
def test_spo2_scale_2_only_when_the_88_92_target_is_ticked(spo2, on_oxygen, scale_1, scale_2):
    accepted = {"oximeter": oximeter(spo2)}
    plain = news2_of(accepted, manual_vitals("16", "A", on_oxygen))
    ticked = news2_of(accepted, manual_vitals("16", "A", on_oxygen, spo2_target_88_92=True))
    assert (plain.spo2_scale, plain.parameters["spo2"]) == (1, scale_1)
    assert (ticked.spo2_scale, ticked.parameters["spo2"]) == (2, scale_2)
    assert ("spo2-target-88-92", "yes", "", None) in manual_rows(manual_vitals("16", "A", on_oxygen, True))
    assert all(row[0] != "spo2-target-88-92" for row in manual_rows(manual_vitals("16", "A", on_oxygen)))


def test_the_record_words_news2_with_its_band_or_what_is_missing():
    assert news2_fr(news2(**{**CALM, "respiration_rate": 25, "on_oxygen": True, "consciousness": "V"})) == [
        "NEWS2 : 8 — risque élevé (score complet)."]
    assert news2_fr(news2(spo2=D(93), pulse=D(95), temperature_c=D("38.5"))) == [
        "NEWS2 partiel : 4 (manquent : fréquence respiratoire, air ou oxygène, pression systolique, "
        "conscience (ACVPU))."]
    assert news2_fr(news2(respiration_rate=25, on_oxygen=True, spo2=D(90), spo2_scale=2)) == [
        "NEWS2 partiel : 5 — au moins risque moyen (manquent : pression systolique, pouls, conscience (ACVPU), "
        "température).",
        "SpO2 cotée sur l'échelle 2 du NEWS2 (cible 88–92 % prescrite)."]


def test_each_value_has_its_label_its_device_and_the_device_warnings():
    lines = measurement_lines([oximeter(95, warnings=("vital.confirm.extreme", "device.status.low_perfusion",
                                                      "device.status.body_movement", "device.battery_low"))])
    assert lines == [
        "- Fréquence cardiaque : 72/min (oxymètre Creative Medical PC-60FW)",
        "- SpO2 : 95\u00a0% (oxymètre Creative Medical PC-60FW) — signalé par l'appareil : faible perfusion, "
        "mouvement pendant la mesure, pile faible"]


def test_the_15_call_is_recorded_once_with_its_time_and_who(store):
    set_up_tablet(store)
    wf = SessionWorkflow(store, ScriptedThermometer(), clock=lambda: NOW)
    begin(wf, DEMO)
    call = wf.record_emergency_call()
    (note,) = store.notes(wf.state.session_id)
    assert (note["kind"], note["author"], note["staff_id"]) == ("emergency_call", "Camille Soignante",
                                                               wf.state.staff["id"])
    assert note["text"] == f"Appel au 15 à {NOW.astimezone():%H:%M} par Camille Soignante."
    assert (call["at"], call["by"]) == (NOW, "Camille Soignante")
    wf.state.emergency_call = None                                 # the app restarted: the session remembers
    again = wf.record_emergency_call()
    assert again["note_id"] == note["id"] and len(store.notes(wf.state.session_id)) == 1


def test_a_team_note_with_the_same_words_is_not_a_15_call(store):
    """The call is found by its kind, never by its words: a note typed by staff that reads like one is a note."""
    set_up_tablet(store)
    wf = SessionWorkflow(store, ScriptedThermometer(), clock=lambda: NOW)
    begin(wf, DEMO)
    store.add_note(wf.state.session_id, kind="staff_note", staff_id=wf.state.staff["id"],
                   text="Appel au 15 à 09:00 par la famille, avant notre arrivée.")
    call = wf.record_emergency_call()
    assert call["at"] == NOW
    kinds = sorted(n["kind"] for n in store.notes(wf.state.session_id))
    assert kinds == ["emergency_call", "staff_note"]


@pytest.fixture
async def runtime(tmp_path):
    runtime = AppRuntime(RuntimeConfig(store_path=tmp_path / "relais.db"))
    await runtime.start()
    yield runtime
    await runtime.stop()
    tr.switch_lang("fr")


async def test_the_summary_is_french_and_the_same_whatever_the_ui_language(runtime):
    wf = runtime.workflow
    tr.switch_lang("en")
    begin(wf, DEMO)
    for kind in ("oximeter", "blood_pressure", "thermometer"):
        assert await wf.measure(kind) is not None, wf.state.error
        wf.accept()
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="25", consciousness="V", on_oxygen=True, spo2_target_88_92=True)
    call = wf.record_emergency_call()
    assert wf.record_emergency_call() == call                       # recorded once
    wf.start_call(doctor_name="Dr Marc Téléconsultant")
    wf.end_call(conclusion="Hospitalisation.", orientation="emergency")
    hhmm = f"{call['at'].astimezone():%H:%M}"
    day = f"{dt.datetime.now().astimezone():%d/%m/%Y}"
    expected = "\n".join([
        f"Téléconsultation assistée du {day} avec Dr Marc Téléconsultant.",
        "Motif : Toux et fièvre.",
        "Mesures :",
        "- Tension artérielle : 128/82\u00a0mmHg (tensiomètre Relais Simulated Devices SIM-BPM-1 (Relais Tensio))",
        "- Fréquence cardiaque : 72/min (oxymètre Relais Simulated Devices SIM-OXY-1 (Relais Oxy))",
        "- Fréquence cardiaque : 72/min (tensiomètre Relais Simulated Devices SIM-BPM-1 (Relais Tensio))",
        "- SpO2 : 97\u00a0% (oxymètre Relais Simulated Devices SIM-OXY-1 (Relais Oxy))",
        "- Température : 37,60\u00a0°C (thermomètre Relais Simulated Devices SIM-THERMO-1 (Relais Thermo))",
        "Relevé par le soignant : fréquence respiratoire 25/min, conscience V (ACVPU), sous oxygène, "
        "cible SpO2 88–92 % prescrite.",
        "NEWS2 : 11 — risque élevé (score complet).",                # SpO2 97 % on oxygen: 3 points on scale 2
        "SpO2 cotée sur l'échelle 2 du NEWS2 (cible 88–92 % prescrite).",
        f"Appel au 15 à {hhmm} par Camille Soignante.",
        "Conclusions du médecin : Hospitalisation.",
        "Orientation : Urgences / SAMU (15)",
    ])
    assert wf.state.summary_draft == expected
    tr.switch_lang("fr")
    assert wf.closing.draft_summary() == expected

    # what leaves the tablet: the prescribed target as a yes of the NEWS2 inputs, the 15 call in a section of its own
    session_id = wf.close(summary=expected)
    (entry,) = outbox.entries(runtime.store)
    Bundle.model_validate_json(entry.payload_bytes)
    bundle = json.loads(entry.payload_bytes)
    (target,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
                 and e["resource"]["code"]["coding"][0]["code"] == "spo2-target-88-92"]
    assert target["code"]["coding"][0]["system"] == NEWS2_INPUT_SYSTEM and target["valueBoolean"] is True
    (report,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Composition"]
    sections = {s["title"]: s["text"]["div"] for s in report["section"]}
    assert f"Appel au 15 à {hhmm} par Camille Soignante. (Camille Soignante)" in sections["Appel au SAMU (15)"]
    assert "Notes de l'équipe soignante" not in sections
    assert "Cible SpO2 88–92 % prescrite (NEWS2 échelle 2) : oui" in sections["Mesures"]
    assert "NEWS2 : 11 — risque élevé" in sections["Synthèse pour le médecin traitant"]
    assert entry.session_id == session_id
