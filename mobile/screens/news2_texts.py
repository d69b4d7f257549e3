"""The NEWS2 sentences of the vitals screen: the parameters, the RCP 2017 risk bands ("at least" a band when the
score is partial, "incomplete" when it reaches none), what each band asks staff to do in the words of the site (an
EHPAD's residents and nurse on duty, a pharmacy cabin's patients), the disclaimer, and the recorded call to the 15.
Msgids are English (N_ marks them for extraction); functions take the language first, as in mobile.screens.texts.
"""
from __future__ import annotations

from mobile.i18n import tr
from mobile.screens.texts import N_

NEWS2_ORDER = ("respiration_rate", "spo2", "air_or_oxygen", "systolic", "pulse", "consciousness", "temperature")
NEWS2_LABELS = {"respiration_rate": N_("Respiration rate"), "spo2": N_("Oxygen saturation (SpO2)"),
                "air_or_oxygen": N_("Air or oxygen"), "systolic": N_("Systolic blood pressure"),
                "pulse": N_("Pulse"), "consciousness": N_("Consciousness (ACVPU)"),
                "temperature": N_("Temperature")}
NEWS2_BAND = {"low": N_("Low risk"), "low_medium": N_("Low–medium risk: one parameter scores 3"),
              "medium": N_("Medium risk"), "high": N_("High risk")}
NEWS2_BAND_AT_LEAST = {"low_medium": N_("At least low–medium risk: one parameter scores 3"),
                       "medium": N_("At least medium risk"), "high": N_("High risk")}
# The RCP 2017 clinical response of each band, in the words of the staff of each kind of site.
NEWS2_RESPONSE = {
    "incomplete": N_("Assess what is missing before reading the score: a partial score is not reassuring."),
    ("ehpad", "low"): N_("Give the score to the remote doctor and tell the nurse on duty, who decides when to "
                         "measure again."),
    ("pharmacie", "low"): N_("Give the score to the remote doctor during the teleconsultation."),
    ("ehpad", "low_medium"): N_("Ask for an urgent call with the doctor and tell the nurse on duty now."),
    ("pharmacie", "low_medium"): N_("Ask for an urgent call with the doctor: tell the remote doctor before "
                                    "anything else."),
    ("ehpad", "medium"): N_("URGENT: ask for an urgent call with the doctor now and tell the nurse on duty. "
                            "Measure again within the hour."),
    ("pharmacie", "medium"): N_("URGENT: ask for an urgent call with the doctor now. Keep the patient in the cabin "
                                "until a doctor has answered."),
    ("ehpad", "high"): N_("EMERGENCY: call the 15 now, do not wait for the teleconsultation. Stay with the resident "
                          "and tell the nurse on duty."),
    ("pharmacie", "high"): N_("EMERGENCY: call the 15 now, do not wait for the teleconsultation. Keep the patient "
                              "seated in the cabin and stay with them."),
}
NEWS2_DISCLAIMER = {
    "ehpad": N_("NEWS2 informs the remote doctor; it is not validated for nursing-home residents and does not "
                "decide."),
    "pharmacie": N_("NEWS2 informs the remote doctor; it was validated in hospitals, not for patients seen in a "
                    "pharmacy, and does not decide."),
}


def news2_lines(lang: str, rows, spo2_scale: int = 1) -> str:
    def label(name: str) -> str:
        if name == "spo2" and spo2_scale == 2:
            return tr._("Oxygen saturation (SpO2, scale 2)")
        return tr._(NEWS2_LABELS[name])
    return "  ·  ".join(tr._("{parameter}: {points}").format(parameter=label(name), points=points)
                        for name, points in rows or ())


def _missing(missing) -> str:
    """The parameters not assessed yet, in the middle of a sentence (lower-case first letter)."""
    names = (tr._(NEWS2_LABELS[m]) for m in missing)
    return ", ".join(name[:1].lower() + name[1:] for name in names)


def news2_total(lang: str, total: int, risk: str, missing) -> str:
    """The headline: the total, "at least" the total when partial, or "incomplete" and what is missing."""
    if risk == "incomplete" or (missing and risk == "low"):  # (the model's properties change one at a time)
        return tr._("Incomplete score — missing: {missing}").format(missing=_missing(missing))
    if missing:
        return tr._("NEWS2 score: at least {total}").format(total=int(total))
    return tr._("NEWS2 score: {total}").format(total=int(total))


def news2_band(lang: str, total: int, risk: str, missing) -> str:
    """The RCP 2017 risk band (at least that band when partial), or the points counted so far."""
    if risk == "incomplete" or (missing and risk == "low"):
        return tr.ngettext("{n} point counted so far: not a low score until it is complete.",
                           "{n} points counted so far: not a low score until it is complete.",
                           int(total)).format(n=int(total))
    if missing:
        return tr._(NEWS2_BAND_AT_LEAST[risk]) + "\n" + tr._("Still to assess: {missing}").format(
            missing=_missing(missing))
    return tr._(NEWS2_BAND[risk])


def news2_advice(lang: str, risk: str, site_kind: str) -> str:
    """What to do now, fitted to the site: an EHPAD's residents and nurse on duty, a pharmacy cabin's patients."""
    if risk == "incomplete":
        return tr._(NEWS2_RESPONSE["incomplete"])
    kind = "ehpad" if site_kind == "ehpad" else "pharmacie"
    return tr._(NEWS2_RESPONSE[(kind, risk)])


def news2_disclaimer(lang: str, site_kind: str) -> str:
    return tr._(NEWS2_DISCLAIMER["ehpad" if site_kind == "ehpad" else "pharmacie"])


def emergency_call_done(lang: str, hhmm: str, name: str) -> str:
    return tr._("15 called at {time}, recorded by {name}.").format(time=hhmm, name=name) if hhmm else ""
