"""The measure and review screens' sentences about one attempt: how long a device phase has waited, what a card says
after a failed or cancelled attempt, the form for values typed by hand, and what is still to measure. Same
conventions as mobile.screens.texts (the language first, for kv bindings; English msgids marked with ``N_``)."""
from __future__ import annotations

from mobile.i18n import tr
from mobile.messages import error_text
from mobile.screens.texts import N_, kind_title, live_text, value_line
from mobile.workflow import WorkflowError
from mobile.workflow.readings import MANUAL_KIND_FIELDS as MANUAL_FIELDS

# Typing values by hand, per field of mobile.workflow.readings.MANUAL_KIND_FIELDS.
MANUAL_LABEL = {"temperature": N_("Temperature (°C)"), "spo2": N_("SpO2 (%)"), "pulse_rate": N_("Pulse (/min)"),
                "systolic": N_("Systolic (mmHg)"), "diastolic": N_("Diastolic (mmHg)")}
MANUAL_HINT = {"temperature": "37,6", "spo2": "97", "pulse_rate": "", "systolic": "128", "diastolic": "82"}
MANUAL_INTRO = {
    "thermometer": N_("Type the temperature shown on the thermometer, in °C (e.g. 37,6)."),
    "oximeter": N_("Type the values shown on the oximeter: SpO2 in %, and the pulse if it shows one."),
    "blood_pressure": N_("Type the values shown on the blood pressure monitor, in mmHg, and the pulse if it shows one."),
}
MANUAL_BACK = {"thermometer": N_("Back to the thermometer"), "oximeter": N_("Back to the oximeter"),
               "blood_pressure": N_("Back to the blood pressure monitor")}


def waiting_line(lang: str, elapsed: int, limit: float) -> str:
    """How long the device phase has waited, and how long it may: "4 s of 15 s at most"."""
    if not limit:
        return tr._("{elapsed} s").format(elapsed=int(elapsed))
    return tr._("{elapsed} s of {limit} s at most").format(elapsed=int(elapsed), limit=f"{limit:g}")


def card_state(lang: str, kind: str, accepted: dict, measuring_kind: str, live_values, failures=None) -> str:
    """A device card's second line: measuring (with the live value), the accepted value, what failed or that it
    was cancelled, or not measured yet. `accepted` maps a kind to its values, `live_values` are the values shown
    while measuring (numbers + units), `failures` maps a kind to why its last attempt gave nothing."""
    if kind == measuring_kind:
        live = live_text(lang, live_values)
        return tr._("Measuring…") + (f"\n{live}" if live else "")
    if kind in accepted:
        return tr._("Done: {value}").format(value=value_line(lang, accepted[kind])).replace(" · ", "\n")
    failure = (failures or {}).get(kind)
    if failure is not None:
        return failure_short(lang, failure)
    return tr._("Not measured yet")


def failure_short(lang: str, error) -> str:
    """A failed attempt in a few words for its card: "Failed: no finger detected", "Measurement cancelled"."""
    code = getattr(error, "code", "")
    if code == "measure.cancelled":
        return tr._("Measurement cancelled")
    params = getattr(error, "params", None) or {}
    reason = params.get("reason")
    if reason:  # a device's own words: "no finger detected: place the finger…" → "no finger detected"
        what = error_text(WorkflowError(reason, **params), lang)
    elif code.startswith(("measure.invalid", "measure.cuff_error", "measure.device_reported_error")):
        what = tr._("the device sent an invalid measurement")
    else:
        what = error_text(error, lang)
    what = what.split(". ")[0].split(":")[0].strip().rstrip(".")
    if len(what) > 60:
        what = what[:57].rsplit(" ", 1)[0] + "…"
    return tr._("Failed: {what}").format(what=what)


def manual_label(lang: str, kind: str, index: int) -> str:
    fields = MANUAL_FIELDS.get(kind, ())
    return tr._(MANUAL_LABEL[fields[index]]) if index < len(fields) else ""


def manual_hint(kind: str, index: int) -> str:
    fields = MANUAL_FIELDS.get(kind, ())
    return MANUAL_HINT[fields[index]] if index < len(fields) else ""


def manual_intro(lang: str, kind: str) -> str:
    return tr._(MANUAL_INTRO.get(kind, MANUAL_INTRO["thermometer"]))


def manual_back(lang: str, kind: str) -> str:
    return tr._(MANUAL_BACK.get(kind, MANUAL_BACK["thermometer"]))


def remaining_line(lang: str, kinds) -> str:
    """On review, what is still to measure: "Still to measure: Blood pressure, Temperature"."""
    if not kinds:
        return tr._("All three devices are measured.")
    return tr._("Still to measure: {devices}").format(devices=", ".join(kind_title(lang, k) for k in kinds))
