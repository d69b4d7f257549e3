"""The sentences of the report's recipients and their delivery (summary and saved screens), composed from the
workflow's data (no Kivy widgets). Like mobile.screens.texts, each function takes the current language first so kv
rules follow a switch."""
from __future__ import annotations

import datetime as dt
from typing import Any

from mobile.i18n import tr


def N_(text: str) -> str:  # noqa: N802 - gettext convention: mark for extraction, translate later
    return text


MES_LINES = {None: N_("Copy in the patient's Mon espace santé: yes"),
             "opposed": N_("Copy in the patient's Mon espace santé: no (the patient objects)"),
             "not_qualified": N_("Copy in the patient's Mon espace santé: no (identity not qualified)"),
             "not_asked": N_("Copy in the patient's Mon espace santé: no (not asked at consent)")}
SEARCH_NOTES = {"no_directory": N_("Directory not imported on this tablet"), "no_result": N_("No result")}
KIND_LABEL = {"gp": N_("Patient's own doctor"), "patient": N_("Patient (Mon espace santé)")}


def mes_line(lang: str, reason: str | None) -> str:
    return tr._(MES_LINES.get(reason, MES_LINES["not_asked"]))


def search_note(lang: str, note: str) -> str:
    return tr._(SEARCH_NOTES[note]) if note in SEARCH_NOTES else ""


def result_title(lang: str, entry: dict[str, Any]) -> str:
    """"Claire MARTIN — Médecin, Médecine générale"."""
    what = ", ".join(filter(None, (entry.get("profession"), entry.get("specialty"))))
    return f"{entry['name']} — {what}" if what else entry["name"]


def result_detail(lang: str, entry: dict[str, Any]) -> str:
    """"69003 LYON · claire.martin@medecin.mssante.fr"."""
    place = " ".join(filter(None, (entry.get("postal_code"), entry.get("city"))))
    return " · ".join(filter(None, (place, entry["address"])))


def chosen_gp(lang: str, gp: dict[str, Any] | None, none_known: bool) -> str:
    if none_known:
        return tr._("No known doctor: the report stays in the patient's record only.")
    if not gp:
        return tr._("No doctor chosen yet.")
    parts = [gp.get("name") or "", gp.get("city") or "", gp["address"]]
    return tr._("Report sent to: {who}").format(who=" — ".join(p for p in parts if p))


def delivery_line(lang: str, state: dict[str, Any], configured: bool) -> str:
    """One recipient's delivery: waiting (and why), sent at HH:MM, or refused with the server's reply."""
    who = f"{tr._(KIND_LABEL.get(state['kind'], state['kind']))} ({state.get('name') or state['address']})"
    if state["state"] == "sent":
        at = dt.datetime.fromisoformat(state["sent_at"]).astimezone().strftime("%H:%M")
        what = tr._("Sent at {time} (accepted by the secure mail server)").format(time=at)
    elif state["state"] == "refused":
        what = tr._("Refused: {reply}").format(reply=state.get("refusal") or "")
    elif configured:
        what = tr._("Waiting to be sent")
    else:
        what = tr._("Waiting to be sent — secure mail not configured on this tablet")
    return f"{who}\n{what}"
