"""Every sentence the screens compose from state, in one place (no Kivy widgets here).

Functions take the current language as their first argument only so that a kv rule such as
``text: texts.sync_summary(tr.lang, root.sync.waiting, root.sync.rejected)`` is bound to ``tr.lang`` and
re-evaluated on a language switch. Msgids are English; ``N_`` marks strings for extraction
(``xgettext --keyword=_ --keyword=N_ --keyword=ngettext:1,2``).
"""
from __future__ import annotations

import datetime as dt
import re

from mobile.i18n import tr
from mobile.workflow import WorkflowError


def N_(text: str) -> str:  # noqa: N802 - gettext convention: mark for extraction, translate later
    return text


IDENTITY_STATUS = {
    "PROV": N_("Provisional identity"),
    "RECUP": N_("Retrieved identity"),
    "VALI": N_("Validated identity"),
    "QUAL": N_("Qualified identity"),
}
IDENTITY_STATUS_SHORT = {
    "PROV": N_("Provisional"),
    "RECUP": N_("Retrieved"),
    "VALI": N_("Validated"),
    "QUAL": N_("Qualified"),
}
SEX_LABELS = {"F": N_("Female"), "M": N_("Male"), "I": N_("Undetermined")}
_BORN = {
    "F": N_("Female, born {date}"),
    "M": N_("Male, born {date}"),
    "I": N_("Sex undetermined, born {date}"),
}
DEVICE_STATE = {
    "idle": N_("Switch the thermometer on, then tap the button."),
    "scanning": N_("Searching for the thermometer…"),
    "connecting": N_("Connecting…"),
    "measuring": N_("Measuring… take the temperature now."),
    "done": N_("Measurement received."),
    "error": N_("The measurement failed."),
}
SESSION_STATE = {  # completes "Last session: {state}"
    "open": N_("not saved yet"),
    "pending": N_("waiting to be sent"),
    "in_flight": N_("sending…"),
    "sent": N_("sent to the server"),
    "rejected": N_("refused by the server, to be checked"),
}
SESSION_STATE_LONG = {
    "open": N_("This session is not saved yet."),
    "pending": N_("Waiting to be sent: it will leave automatically as soon as the network is available."),
    "in_flight": N_("Being sent to the server…"),
    "sent": N_("Sent to the server."),
    "rejected": N_("Refused by the server: ask your coordinator to check this session."),
}
SOURCE = {"bluetooth": N_("Bluetooth thermometer"), "manual": N_("Manual entry")}


# -- patient --------------------------------------------------------------------------------------------------
def display_name(family_name: str | None, given_name: str | None) -> str:
    """French identity display: birth name in capitals, then the first given name ("DUPONT Marie")."""
    return " ".join(p for p in ((family_name or "").strip().upper(), (given_name or "").strip()) if p)


def format_date(iso: str | None) -> str:
    """"1941-03-07" → "07/03/1941" (unchanged if it is not an ISO date)."""
    if not iso:
        return ""
    try:
        return dt.date.fromisoformat(iso[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return iso


_DATE_FR = re.compile(r"^\s*(\d{1,2})\s*[/.\- ]\s*(\d{1,2})\s*[/.\- ]\s*(\d{4})\s*$")
_DATE_DIGITS = re.compile(r"^\s*(\d{2})(\d{2})(\d{4})\s*$")


def parse_date(text: str) -> str:
    """Staff type dates as jj/mm/aaaa (or 8 digits on a numeric keypad); returns ISO "YYYY-MM-DD".
    Raises WorkflowError with a French message, like the rest of the workflow."""
    match = _DATE_FR.match(text or "") or _DATE_DIGITS.match(text or "")
    if not match:
        raise WorkflowError("Date de naissance : saisissez-la sous la forme jj/mm/aaaa, par exemple 07/03/1941.")
    day, month, year = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        raise WorkflowError("Date de naissance impossible : vérifiez le jour et le mois.") from None


def born_line(lang: str, sex: str | None, birth_date: str | None) -> str:
    return tr._(_BORN.get(sex or "I", _BORN["I"])).format(date=format_date(birth_date))


def birth_place_line(lang: str, insee: str | None) -> str:
    return tr._("Birthplace (INSEE) {code}").format(code=insee or "?") if insee else ""


def status_short(lang: str, status: str | None) -> str:
    return tr._(IDENTITY_STATUS_SHORT.get(status or "", "")) or (status or "")


def status_long(lang: str, status: str | None) -> str:
    return tr._(IDENTITY_STATUS.get(status or "", "")) or (status or "")


# -- measurement ----------------------------------------------------------------------------------------------
def device_state(lang: str, state: str) -> str:
    return tr._(DEVICE_STATE.get(state, ""))


def domain(lang: str, message: str | None) -> str:
    """A French message from the workflow or the store, translated when the catalog knows it."""
    return tr._(message) if message else ""


def domain_lines(lang: str, messages) -> str:
    return "\n".join(tr._(m) for m in messages or ())


def source_line(lang: str, source: str, device: str) -> str:
    label = tr._(SOURCE.get(source, source))
    return tr._("Source: {source} — {device}").format(source=label, device=device) if device else \
        tr._("Source: {source}").format(source=label)


def measured_at_line(lang: str, hhmm: str) -> str:
    return tr._("Measured at {time}").format(time=hhmm) if hhmm else ""


# -- sync -----------------------------------------------------------------------------------------------------
def sync_level(waiting: int, rejected: int) -> str:
    if rejected:
        return "rejected"
    return "pending" if waiting else "ok"


def sync_summary(lang: str, waiting: int, rejected: int) -> str:
    waiting, rejected = int(waiting), int(rejected)
    parts = []
    if rejected:
        parts.append(tr.ngettext("{n} upload refused: to be checked", "{n} uploads refused: to be checked",
                                 rejected).format(n=rejected))
    if waiting:
        parts.append(tr.ngettext("Sync: {n} waiting", "Sync: {n} waiting", waiting).format(n=waiting))
    return " · ".join(parts) if parts else tr._("Everything is synced")


def last_session_line(lang: str, state: str) -> str:
    if not state:
        return ""
    return tr._("Last session: {state}").format(state=tr._(SESSION_STATE.get(state, state)))


def session_state_long(lang: str, state: str) -> str:
    return tr._(SESSION_STATE_LONG.get(state, "")) if state else ""
