"""The French record: how the summary for the patient's own doctor words what the session holds — each value with
its label, the device that measured it (or "saisie manuelle") and that device's warnings, NEWS2 with its RCP 2017
risk band (or what is missing), the SpO2 scale used, and the call to the 15 (SAMU).

These are the words of a French document for French doctors, not screen messages: they never go through the app's
catalogs, so the record reads the same whatever language the screens are in.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

from mobile.workflow.state import Proposal, ProposedValue, format_temperature, fr_number
from sync.clinical.news2 import News2

# The device warnings a reading can carry (mobile.workflow.readings: status bits, low battery), as the doctor
# reads them.
DEVICE_WARNINGS_FR = {
    "device.battery_low": "pile faible",
    "device.status.body_movement": "mouvement pendant la mesure",
    "device.status.cuff_too_loose": "brassard trop lâche",
    "device.status.irregular_pulse": "pouls irrégulier détecté par le tensiomètre",
    "device.status.improper_position": "position de mesure incorrecte",
    "device.status.questionable": "mesure douteuse selon l'oxymètre",
    "device.status.early_estimated": "valeur provisoire de l'oxymètre",
    "device.status.low_perfusion": "faible perfusion",
    "device.status.poor_signal": "signal faible",
    "device.status.erratic_signal": "signal instable",
}
DEVICE_KIND_FR = {"thermometer": "thermomètre", "oximeter": "oxymètre", "blood_pressure": "tensiomètre"}
NEWS2_PARAMETERS_FR = {"respiration_rate": "fréquence respiratoire", "spo2": "SpO2",
                       "air_or_oxygen": "air ou oxygène",
                       "systolic": "pression systolique", "pulse": "pouls", "consciousness": "conscience (ACVPU)",
                       "temperature": "température"}
NEWS2_RISK_FR = {"low": "risque faible", "low_medium": "risque faible à moyen (un paramètre à 3)",
                 "medium": "risque moyen", "high": "risque élevé"}
EMERGENCY_CALL_PREFIX = "Appel au 15 à "
# The reasons offered as one-tap chips (their labels: mobile.screens.texts.REASONS, in the same order). A chip
# writes the French words into the reason field, which goes into the record as it is.
REASONS_FR = ("Fièvre", "Toux ou essoufflement", "Chute", "Douleur", "Suivi de traitement")


def device_fr(proposal: Proposal) -> str:
    """Which device measured ("oxymètre Creative Medical PC-60FW"), or "saisie manuelle"."""
    reading = proposal.reading
    if proposal.source == "manual" or reading is None:
        return "saisie manuelle"
    ident = reading.device
    text = " ".join(p for p in (ident.manufacturer, ident.model) if p)
    if ident.name and ident.name not in text:
        text = f"{text} ({ident.name})" if text else ident.name
    kind = DEVICE_KIND_FR.get(proposal.kind, "appareil")
    return f"{kind} {text}" if text else kind


def _unit(value: ProposedValue) -> str:
    return {"kPa": "kPa", "mm[Hg]": "mmHg", "%": "%", "/min": "/min"}.get(value.unit, value.unit)


def _pressure(sys_: ProposedValue, dia: ProposedValue) -> str:
    return f"{fr_number(sys_.value)}/{fr_number(dia.value)}\u00a0{_unit(sys_)}"


def value_fr(proposal: Proposal) -> str:
    """A measured value in one short phrase, from its numbers ("128/82 mmHg · pouls 72/min")."""
    sys_, dia, spo2 = proposal.get("systolic"), proposal.get("diastolic"), proposal.get("spo2")
    if sys_ is not None and dia is not None:
        text = _pressure(sys_, dia)
    elif spo2 is not None:
        text = f"SpO2 {fr_number(spo2.value)}\u00a0%"
    else:
        return format_temperature(proposal.value, proposal.unit)
    pulse = proposal.get("pulse_rate")
    return f"{text} · pouls {fr_number(pulse.value)}/min" if pulse else text


def measurement_lines(proposals: Iterable[Proposal]) -> list[str]:
    """One labelled line per value ("Tension artérielle : 128/82 mmHg (tensiomètre …)"), the device's warnings on
    the line of the value they concern (a reading's warnings are the whole reading's: on its main value)."""
    main: list[tuple[str, str, Proposal]] = []
    pulses: list[tuple[str, Proposal]] = []
    for p in proposals:
        sys_, dia, spo2, pulse = p.get("systolic"), p.get("diastolic"), p.get("spo2"), p.get("pulse_rate")
        if sys_ is not None and dia is not None:
            main.append(("Tension artérielle", _pressure(sys_, dia), p))
        elif spo2 is not None:
            main.append(("SpO2", f"{fr_number(spo2.value)}\u00a0%", p))
        else:
            main.append(("Température", format_temperature(p.value, p.unit), p))
        if pulse is not None:
            pulses.append((f"{fr_number(pulse.value)}/min", p))
    order = {"Tension artérielle": 0, "SpO2": 2, "Température": 3}
    lines = [(order[label], f"{label} : {text} ({device_fr(p)}){_warnings(p)}") for label, text, p in main]
    lines += [(1, f"Fréquence cardiaque : {text} ({device_fr(p)})") for text, p in pulses]
    return [f"- {line}" for _, line in sorted(lines, key=lambda pair: pair[0])]


def _warnings(proposal: Proposal) -> str:
    found = [DEVICE_WARNINGS_FR[w] for w in proposal.warnings if w in DEVICE_WARNINGS_FR]
    return f" — signalé par l'appareil : {', '.join(found)}" if found else ""


def by_hand_fr(vitals: Mapping[str, Any]) -> list[str]:
    """What staff assessed by hand, in words."""
    found = []
    if "respiration_rate" in vitals:
        found.append(f"fréquence respiratoire {vitals['respiration_rate']}/min")
    if "consciousness" in vitals:
        found.append(f"conscience {vitals['consciousness']} (ACVPU)")
    if "on_oxygen" in vitals:
        found.append("sous oxygène" if vitals["on_oxygen"] else "air ambiant")
    if vitals.get("spo2_target_88_92"):
        found.append("cible SpO2 88–92 % prescrite")
    return found


def news2_fr(score: News2) -> list[str]:
    """NEWS2 with its band: complete ("NEWS2 : 9 — risque élevé (score complet)"), a partial total that already
    reaches a band ("au moins"), or a partial total that says nothing yet (never "faible"); the SpO2 scale 2."""
    missing = ", ".join(NEWS2_PARAMETERS_FR[m] for m in score.missing)
    if score.complete:
        lines = [f"NEWS2 : {score.score} — {NEWS2_RISK_FR[score.risk]} (score complet)."]
    elif score.risk == "incomplete":
        lines = [f"NEWS2 partiel : {score.score} (manquent : {missing})."]
    else:
        floor = "" if score.risk == "high" else "au moins "
        lines = [f"NEWS2 partiel : {score.score} — {floor}{NEWS2_RISK_FR[score.risk]} (manquent : {missing})."]
    if score.spo2_scale == 2:
        lines.append("SpO2 cotée sur l'échelle 2 du NEWS2 (cible 88–92 % prescrite).")
    return lines


def emergency_call_text(when: dt.datetime, staff_name: str) -> str:
    """The note that records a call to the 15: local time and who called."""
    return f"{EMERGENCY_CALL_PREFIX}{when.astimezone():%H:%M} par {staff_name}."

