"""The words around the remote doctor's answer on the screens: "Conclusions received from Dr … at HH:MM" above
their text (read only), "a new version received" after staff took an earlier one, and the patient list's
"Advice received". The doctor's own words (conclusion, orientation detail, prescriptions) are shown as written,
never translated; only the labels around them follow the language of the screens.

Same conventions as mobile.screens.texts: English msgids, `lang` first so kv rules re-evaluate on a switch."""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from mobile.i18n import tr
from mobile.screens import texts
from sync.fhir.narrative import doctor_fr


def _hhmm(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).astimezone().strftime("%H:%M")


def answer_title(lang: str, answer: Mapping[str, Any] | None, newer: bool = False) -> str:
    """"Conclusions reçues du Dr … à HH:MM" (when the tablet received them), or the new version's."""
    if not answer:
        return ""
    doctor, time = doctor_fr(answer["doctor_name"]), _hhmm(answer["received_at"])
    if newer:
        return tr._("New version received from {doctor} at {time}").format(doctor=doctor, time=time)
    return tr._("Conclusions received from {doctor} at {time}").format(doctor=doctor, time=time)


def answer_body(lang: str, answer: Mapping[str, Any] | None) -> str:
    """The conclusion, then the orientation and the prescriptions under their labels, the words as written."""
    if not answer:
        return ""
    lines = [answer["conclusion"]]
    if answer.get("orientation"):
        detail = f" — {answer['orientation_detail']}" if answer.get("orientation_detail") else ""
        lines.append(tr._("Orientation: {what}").format(what=tr._(texts.ORIENTATIONS[answer["orientation"]])
                                                         + detail))
    if answer.get("prescriptions"):
        lines.append(tr._("Prescriptions: {what}").format(what=answer["prescriptions"]))
    return "\n\n".join(lines)


def advice_badge(lang: str) -> str:
    return tr._("Advice received")
