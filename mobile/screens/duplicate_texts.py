"""The sentences of the administration's "Probable duplicates" section: two records of one person created apart
(offline on two tablets, or typed here while the other came from the server), described by the traits that tell
them apart, and the merge an administrator confirms. Like mobile.screens.texts, each function takes the current
language first so kv rules follow a switch (no Kivy widgets here)."""
from __future__ import annotations

from mobile.i18n import tr
from mobile.screens.texts import birth_place_line, born_line, format_date, patient_name, room_line, status_long


def N_(text: str) -> str:  # noqa: N802 - gettext convention: mark for extraction, translate later
    return text


REASON = {"ins": N_("Same INS on two records"),
          "traits": N_("Same birth name, first name, birth date, sex and birthplace")}
ORIGIN = {"local": N_("created on this tablet on {date}"), "pulled": N_("came from another tablet, created {date}"),
          "imported": N_("imported from the care software on {date}")}


def reason_line(lang: str, reason: str) -> str:
    return tr._(REASON[reason]) if reason in REASON else ""


def name_line(lang: str, role: str, row: dict | None) -> str:
    """"Kept: DURAND Germaine, née MARTIN" / "Merged into it: …"."""
    if not row:
        return ""
    name = patient_name(lang, row.get("family_name"), row.get("usual_name"), row.get("given_name"), row.get("sex"))
    label = tr._("Kept: {name}") if role == "kept" else tr._("Merged into it: {name}")
    return label.format(name=name)


def traits_line(lang: str, row: dict | None) -> str:
    """"Female, born 02/04/1935 · Birthplace (INSEE) 75056"."""
    if not row:
        return ""
    parts = (born_line(lang, row.get("sex"), row.get("birth_date")), birth_place_line(lang, row.get("birth_place_insee")))
    return "  ·  ".join(p for p in parts if p)


def record_line(lang: str, row: dict | None) -> str:
    """"Validated identity · Room 12 · created on this tablet on 01/05/2024"."""
    if not row:
        return ""
    origin = ORIGIN.get(row.get("origin") or "local", ORIGIN["local"])
    parts = (status_long(lang, row.get("identity_status")), room_line(lang, row.get("room")),
             tr._(origin).format(date=format_date(row.get("created_at"))))
    return "  ·  ".join(p for p in parts if p)


def merge_question(lang: str, pair: dict | None) -> str:
    if not pair:
        return ""
    kept = patient_name(lang, pair["kept"].get("family_name"), pair["kept"].get("usual_name"),
                        pair["kept"].get("given_name"), pair["kept"].get("sex"))
    merged = patient_name(lang, pair["merged"].get("family_name"), pair["merged"].get("usual_name"),
                          pair["merged"].get("given_name"), pair["merged"].get("sex"))
    return tr._("Merge these two records of {kept}? The other record ({merged}) leaves the patient list; its "
                "sessions stay attached to it, and the other tablets are told.").format(kept=kept, merged=merged)


def no_duplicates(lang: str, count: int) -> str:
    return tr._("No probable duplicate among the residents.") if not count else ""
