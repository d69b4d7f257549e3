"""NEWS2, the National Early Warning Score 2 (Royal College of Physicians, 2017): points per parameter, the total,
and the clinical risk band that says how fast a clinician must see the patient.

Computed over the parameters available, so a total may be partial: `missing` names what staff have not assessed yet,
and a partial total is never presented as reassuring. Validated for acute hospital adults, not for nursing-home
residents: it informs the remote doctor, it does not decide.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

PARAMETERS = ("respiration_rate", "spo2", "air_or_oxygen", "systolic", "pulse", "consciousness", "temperature")


@dataclass(frozen=True)
class News2:
    """A NEWS2 total over the parameters we have; `missing` names what staff must still assess."""

    score: int
    parameters: dict[str, int] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    spo2_scale: int = 1              # 2 only when staff recorded a prescribed SpO2 target of 88–92 %

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def single_parameter_3(self) -> bool:
        return 3 in self.parameters.values()

    @property
    def risk(self) -> str:
        """The RCP 2017 clinical risk band: "high" (≥ 7), "medium" (5–6), "low_medium" (a 3 in one parameter),
        "low" (0–4) — or "incomplete" when parameters are missing and what is known reaches no band above low.
        Missing parameters can only add points, so a partial total that already reaches a band is at least that
        band (`at_least`); a partial total below it is never called low."""
        if self.score >= 7:
            return "high"
        if self.score >= 5:
            return "medium"
        if self.single_parameter_3:
            return "low_medium"
        return "low" if self.complete else "incomplete"

    @property
    def at_least(self) -> bool:
        """The band is a floor: the score is partial and the missing parameters may still raise it."""
        return not self.complete and self.risk not in ("high", "incomplete")


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
    return News2(sum(params.values()), params, tuple(n for n in PARAMETERS if n not in params), spo2_scale)
