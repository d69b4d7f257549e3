"""Clinical guards on vital signs, as plain functions (no UI, no device): plausibility, alerts, partial NEWS2.

Sources: plausibility ranges are engineering guards against unit, device and transcription errors (to be validated
by a physician); elderly alert thresholds follow the IDSA 2008 guideline on fever in long-term care, US long-term
care SpO2 protocols and the French gravity signs of community-acquired pneumonia; NEWS2 (Royal College of
Physicians, 2017) is labelled partial because respiration rate and consciousness do not come from our devices, and
is not validated for nursing-home residents: it informs the remote doctor, it does not decide.

Refusals and warnings are codes (``vitals.<measure>.<what>``); the app's catalog (mobile.messages) words them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sync.errors import RelaisError

KPA_TO_MMHG = Decimal("7.50062")


class Implausible(RelaisError, ValueError):
    """The value cannot be a real measurement of this patient: never proposed, retake. `code` says which check."""


@dataclass(frozen=True)
class Assessment:
    verify: tuple[str, ...] = ()   # codes: plausible but worth a second measurement
    alerts: tuple[str, ...] = ()   # codes: clinically notable, shown prominently


def _mmhg(value: Decimal, unit: str) -> Decimal:
    return value * KPA_TO_MMHG if unit == "kPa" else value


def _celsius(value: Decimal, unit: str) -> Decimal:
    return (value - 32) * 5 / 9 if unit == "[degF]" else value


def assess_temperature(value: Decimal, unit: str, *, baseline: Decimal | None = None) -> Assessment:
    if unit == "Cel" and Decimal(86) <= value <= Decimal(110):
        raise Implausible("vitals.temperature.fahrenheit", "value")
    celsius = _celsius(value, unit)
    if celsius < 30 or celsius > 43:
        raise Implausible("vitals.temperature.implausible", "value")
    verify, alerts = [], []
    if celsius < Decimal("35.0") or celsius >= 40:
        verify.append("vitals.temperature.extreme")
    if celsius <= Decimal("35.0"):
        alerts.append("vitals.temperature.hypothermia")
    elif celsius >= Decimal("37.8"):
        alerts.append("vitals.temperature.fever" if celsius >= 38 else "vitals.temperature.low_grade_fever")
    if baseline is not None and celsius >= baseline + Decimal("1.1"):
        alerts.append("vitals.temperature.rise_from_usual")
    return Assessment(tuple(verify), tuple(alerts))


def assess_spo2(value: Decimal, *, baseline: Decimal | None = None) -> Assessment:
    if value < 50 or value > 100:
        raise Implausible("vitals.spo2.implausible", "spo2")
    verify, alerts = [], []
    if value < 70:
        verify.append("vitals.spo2.below_accuracy")
    if value < 90:
        alerts.append("vitals.spo2.very_low")
    elif value < 92:
        alerts.append("vitals.spo2.low")
    if baseline is not None and baseline - value >= 3:
        alerts.append("vitals.spo2.drop_from_usual")
    return Assessment(tuple(verify), tuple(alerts))


def assess_pulse(value: Decimal) -> Assessment:
    if value < 20 or value > 250:
        raise Implausible("vitals.pulse.implausible", "pulse_rate")
    verify, alerts = [], []
    if value < 40 or value > 150:
        verify.append("vitals.pulse.extreme")
    if value > 120:
        alerts.append("vitals.pulse.tachycardia")
    elif value <= 40:
        alerts.append("vitals.pulse.bradycardia")
    return Assessment(tuple(verify), tuple(alerts))


def assess_blood_pressure(systolic: Decimal, diastolic: Decimal, unit: str = "mm[Hg]") -> Assessment:
    sbp, dbp = _mmhg(systolic, unit), _mmhg(diastolic, unit)
    if sbp < 50 or sbp > 280 or dbp < 20 or dbp > 180 or sbp <= dbp:
        raise Implausible("vitals.blood_pressure.implausible", "systolic")
    verify, alerts = [], []
    if sbp < 90 or sbp >= 180 or dbp >= 110 or sbp - dbp < 20:
        verify.append("vitals.blood_pressure.confirm")
    if sbp < 90:
        alerts.append("vitals.blood_pressure.hypotension")
    elif dbp <= 60:
        alerts.append("vitals.blood_pressure.low_diastolic")
    if sbp > 180 or dbp > 110:
        alerts.append("vitals.blood_pressure.severe_hypertension")
    return Assessment(tuple(verify), tuple(alerts))


@dataclass(frozen=True)
class News2:
    """A NEWS2 total over the parameters we have; `missing` names what staff must still assess."""

    score: int
    parameters: dict[str, int] = field(default_factory=dict)
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def single_parameter_3(self) -> bool:
        return 3 in self.parameters.values()

    @property
    def risk(self) -> str:
        """RCP 2017 clinical risk: "high" (≥ 7), "medium" (5–6), "low_medium" (a 3 in one parameter), "low"."""
        if self.score >= 7:
            return "high"
        if self.score >= 5:
            return "medium"
        if self.single_parameter_3:
            return "low_medium"
        return "low"


# What staff must do, per risk band (RCP 2017 response table, adapted to a nursing home or pharmacy: the remote
# doctor is the clinician; an emergency goes to the SAMU, 15).
NEWS2_RESPONSE_FR = {
    "low": "Score faible : transmettez au médecin de la téléconsultation.",
    "low_medium": "Un paramètre à 3 : avis médical rapide, signalez-le d'emblée au médecin.",
    "medium": "Score 5 ou 6 : avis médical URGENT — prévenez le médecin avant la fin de la séance.",
    "high": "Score 7 ou plus : URGENCE — appelez le 15 sans attendre la téléconsultation.",
}


def respiration_rate_from_text(text: str) -> int:
    """Staff count breaths over 60 s: a whole number from 4 to 60 (plausibility)."""
    cleaned = (text or "").strip()
    if not cleaned.isdigit():
        raise Implausible("vitals.respiration_rate.format", "respiration_rate")
    value = int(cleaned)
    if value < 4 or value > 60:
        raise Implausible("vitals.respiration_rate.implausible", "respiration_rate")
    return value


ACVPU = ("A", "C", "V", "P", "U")


def _band(value: Decimal, bands: list[tuple[Decimal | None, Decimal | None, int]]) -> int:
    for low, high, points in bands:
        if (low is None or value >= low) and (high is None or value <= high):
            return points
    raise AssertionError("bands must cover every value")


def _whole(value: Decimal) -> Decimal:
    """NEWS2 bands are whole numbers: 94.6 % counts as 95 (half up, as a chart reader would)."""
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def news2(*, temperature_c: Decimal | None = None, spo2: Decimal | None = None, systolic: Decimal | None = None,
          pulse: Decimal | None = None, respiration_rate: int | None = None, on_oxygen: bool | None = None,
          alert: bool | None = None, consciousness: str | None = None, spo2_scale: int = 1) -> News2:
    """NEWS2 (RCP 2017). SpO2 scale 1 by default; scale 2 (target 88–92 %) only when a doctor recorded it for a
    patient with hypercapnic respiratory failure — its upper bands need to know whether the patient is on oxygen.
    `consciousness`: an ACVPU letter (anything but A scores 3); `alert` is the older yes/no form."""
    d = Decimal
    params: dict[str, int] = {}
    if consciousness is not None:
        if consciousness not in ACVPU:
            raise ValueError(f"not an ACVPU letter: {consciousness!r}")
        alert = consciousness == "A"
    if spo2_scale not in (1, 2):
        raise ValueError("spo2_scale is 1 or 2")
    if respiration_rate is not None:
        params["respiration_rate"] = _band(d(respiration_rate), [(None, d(8), 3), (d(9), d(11), 1),
                                                                  (d(12), d(20), 0), (d(21), d(24), 2),
                                                                  (d(25), None, 3)])
    if spo2 is not None and spo2_scale == 1:
        params["spo2"] = _band(_whole(spo2), [(None, d(91), 3), (d(92), d(93), 2), (d(94), d(95), 1),
                                              (d(96), None, 0)])
    elif spo2 is not None and (on_oxygen or _whole(spo2) <= 92):
        params["spo2"] = _band(_whole(spo2), [(None, d(83), 3), (d(84), d(85), 2), (d(86), d(87), 1),
                                              (d(88), d(92), 0), (d(93), d(94), 1), (d(95), d(96), 2),
                                              (d(97), None, 3)])
    elif spo2 is not None and on_oxygen is False:
        params["spo2"] = 0  # scale 2: ≥ 93 % on air scores 0
    # scale 2, ≥ 93 % and the air/oxygen question unanswered: the SpO2 score waits for it (listed as missing)
    if on_oxygen is not None:
        params["air_or_oxygen"] = 2 if on_oxygen else 0
    if systolic is not None:
        params["systolic"] = _band(_whole(systolic), [(None, d(90), 3), (d(91), d(100), 2),
                                                             (d(101), d(110), 1), (d(111), d(219), 0),
                                                             (d(220), None, 3)])
    if pulse is not None:
        params["pulse"] = _band(_whole(pulse), [(None, d(40), 3), (d(41), d(50), 1), (d(51), d(90), 0),
                                                      (d(91), d(110), 1), (d(111), d(130), 2), (d(131), None, 3)])
    if alert is not None:
        params["consciousness"] = 0 if alert else 3
    if temperature_c is not None:
        t = temperature_c.quantize(d("0.1"), rounding=ROUND_HALF_UP)
        params["temperature"] = _band(t, [(None, d("35.0"), 3), (d("35.1"), d("36.0"), 1), (d("36.1"), d("38.0"), 0),
                                          (d("38.1"), d("39.0"), 1), (d("39.1"), None, 2)])
    names = ("respiration_rate", "spo2", "air_or_oxygen", "systolic", "pulse", "consciousness", "temperature")
    return News2(sum(params.values()), params, tuple(n for n in names if n not in params))
