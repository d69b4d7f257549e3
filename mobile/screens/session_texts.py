"""The sentences of an open session seen from outside its own screens: the patient list's "open sessions" (the step
each reached, when and by whom it was opened), the confirmation before leaving one, and what staff read to the
remote doctor during the call (reason, measurements with their flags, what was assessed by hand, NEWS2).

Same conventions as mobile.screens.texts: English msgids, `lang` first so kv rules re-evaluate on a switch."""
from __future__ import annotations

import datetime as dt

from mobile.i18n import tr
from mobile.screens import news2_texts, texts
from mobile.screens.texts import N_

STEP_WORDS = {"session_start": N_("Consent and room checks"), "measure": N_("Measurements"),
              "review": N_("Checking a measurement"), "vitals": N_("Respiration, consciousness, NEWS2"),
              "teleconsult": N_("Call with the doctor"), "summary": N_("Summary to write")}
FLAG_WORDS = {"HH": N_("far above normal"), "H": N_("above normal"), "L": N_("below normal"),
              "LL": N_("far below normal")}
FIELD_WORDS = {"systolic": N_("systolic"), "diastolic": N_("diastolic"), "mean_arterial_pressure": N_("mean"),
               "pulse_rate": N_("pulse"), "spo2": "SpO2", "temperature": N_("temperature")}


def _local(iso: str | dt.datetime | None) -> dt.datetime | None:
    if not iso:
        return None
    moment = iso if isinstance(iso, dt.datetime) else dt.datetime.fromisoformat(iso)
    return moment.astimezone()


def step_words(lang: str, step: str, call_started_at: str | None = None) -> str:
    started = _local(call_started_at)
    if step == "teleconsult" and started is not None:
        return tr._("Call running since {time}").format(time=started.strftime("%H:%M"))
    return tr._(STEP_WORDS.get(step, STEP_WORDS["measure"]))


def opened_line(lang: str, opened_at: str, staff_name: str, today: dt.date | None = None) -> str:
    """"Opened at 09:12 by Camille Soignante" (with the date when it was not today)."""
    opened = _local(opened_at)
    if opened is None:
        return ""
    if opened.date() == (today or dt.date.today()):
        text = tr._("opened at {time}").format(time=opened.strftime("%H:%M"))
    else:
        text = tr._("opened on {date} at {time}").format(date=opened.strftime("%d/%m/%Y"),
                                                          time=opened.strftime("%H:%M"))
    return text + (" " + tr._("by {name}").format(name=staff_name) if staff_name else "")


def opened_line_capitalised(lang: str, opened_at: str, staff_name: str) -> str:
    text = opened_line(lang, opened_at, staff_name)
    return text[:1].upper() + text[1:]


def leave_text(lang: str, call_running: bool, doctor: str, call_time: str) -> str:
    text = tr._("The session stays open: you can resume it from the patient list, under “Open sessions”.")
    if call_running:
        text = tr._("The call with {doctor} is running ({time}). It is not ended: its timer goes on.").format(
            doctor=doctor, time=call_time) + "\n" + text
    return text


# -- what staff read to the remote doctor ---------------------------------------------------------------------
def _remarks(lang: str, proposal) -> list[str]:
    """The flags the clinical rules gave (each value named when the device sent several), typed by hand."""
    flagged = [v for v in proposal.stored_values if v.flag]
    if len(proposal.stored_values) == 1:
        remarks = [tr._(FLAG_WORDS[v.flag]) for v in flagged]
    else:
        remarks = [f"{tr._(FIELD_WORDS.get(v.field, v.field))} {tr._(FLAG_WORDS[v.flag])}" for v in flagged]
    return remarks + ([tr._("typed by hand")] if proposal.source == "manual" else [])


def measurement_line(lang: str, kind: str, proposal) -> str:
    """"Temperature: 38,4 °C (above normal, typed by hand)"."""
    line = tr._("{device}: {value}").format(device=texts.kind_title(lang, kind),
                                            value=texts.value_line(lang, proposal.stored_values))
    remarks = _remarks(lang, proposal)
    return line + (f" ({', '.join(remarks)})" if remarks else "")


def vitals_lines(lang: str, vitals: dict) -> list[str]:
    lines = []
    if "respiration_rate" in vitals:
        lines.append(tr._("{parameter}: {points}").format(parameter=tr._(news2_texts.NEWS2_LABELS["respiration_rate"]),
                                                          points=f"{vitals['respiration_rate']}/min"))
    if "consciousness" in vitals:
        lines.append(tr._("{parameter}: {points}").format(parameter=tr._(news2_texts.NEWS2_LABELS["consciousness"]),
                                                          points=tr._(texts.ACVPU_LABELS[vitals["consciousness"]])))
    if "on_oxygen" in vitals:
        lines.append(tr._("On oxygen") if vitals["on_oxygen"] else tr._("Room air"))
    return lines


def briefing_text(lang: str, briefing: dict | None) -> str:
    """The panel "To read to the doctor", one fact a line."""
    if not briefing:
        return ""
    lines = [tr._("Reason: {reason}").format(reason=briefing.get("reason") or "—")]
    lines += [measurement_line(lang, kind, p) for kind, p in (briefing.get("accepted") or {}).items()]
    lines += vitals_lines(lang, briefing.get("vitals") or {})
    score = briefing.get("news2")
    if score is not None:
        lines.append("")
        lines.append(news2_texts.news2_total(lang, score.score, score.risk, score.missing))
        lines.append(news2_texts.news2_band(lang, score.score, score.risk, score.missing))
        lines.append(news2_texts.news2_advice(lang, score.risk, briefing.get("site_kind") or ""))
    call = briefing.get("emergency_call")
    if call:
        lines.append(news2_texts.emergency_call_done(lang, call["at"].astimezone().strftime("%H:%M"), call["by"]))
    return "\n".join(lines)
