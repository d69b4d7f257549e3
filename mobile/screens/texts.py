"""Every sentence the screens compose from state, in one place (no Kivy widgets here).

Refusals and warnings (codes) are worded by mobile.messages.error_text. Functions take the current language as
their first argument only so that a kv rule such as
``text: texts.sync_summary(tr.lang, root.sync.waiting, root.sync.rejected)`` is bound to ``tr.lang`` and
re-evaluated on a language switch. Msgids are English; ``N_`` marks strings for extraction
(``xgettext --keyword=_ --keyword=N_ --keyword=ngettext:1,2``).
"""
from __future__ import annotations

import datetime as dt

from mobile.i18n import tr
from mobile.messages import error_text, stored_error_text
from mobile.workflow.record_fr import REASONS_FR


def N_(text: str) -> str:  # noqa: N802 - gettext convention: mark for extraction, translate later
    return text


IDENTITY_STATUS = {
    "PROV": N_("Provisional identity"),
    "RECUP": N_("Retrieved identity"),
    "VALI": N_("Validated identity"),
    "QUAL": N_("Qualified identity (INS)"),
}
IDENTITY_STATUS_SHORT = {
    "PROV": N_("Provisional"),
    "RECUP": N_("Retrieved"),
    "VALI": N_("Validated"),
    "QUAL": N_("Qualified"),
}
# the high-trust documents of sync.store.identity.IDENTITY_DOCUMENTS (FR Core fr-core-cs-mode-validation-identity)
IDENTITY_DOCUMENTS = {"CN": N_("Identity card"), "PA": N_("Passport"), "CS": N_("Residence permit"),
                      "LECV": N_("Livret de famille + carte Vitale with photo"),
                      "ANCV": N_("Birth certificate extract + carte Vitale with photo")}
_BIRTH_NAME = {"F": N_("née {name}"), "M": N_("né {name}"), "I": N_("birth name {name}")}
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
    "cancelled": N_("Measurement cancelled: nothing was recorded."),
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
SOURCE_BY_KIND = {"oximeter": N_("Bluetooth oximeter"), "blood_pressure": N_("Bluetooth blood pressure monitor")}

# -- the three devices of the measure screen, in the order of the cards ------------------------------------------
KINDS = ("oximeter", "blood_pressure", "thermometer")
KIND_TITLE = {
    "oximeter": N_("Saturation (oximeter)"),
    "blood_pressure": N_("Blood pressure"),
    "thermometer": N_("Temperature"),
}
MEASURE_BUTTON = {
    "oximeter": N_("Measure saturation"),
    "blood_pressure": N_("Measure blood pressure"),
    "thermometer": N_("Measure temperature"),
}
REVIEW_TITLE = {
    "oximeter": N_("Oxygen saturation: check the value before confirming"),
    "blood_pressure": N_("Blood pressure: check the value before confirming"),
    "thermometer": N_("Body temperature: check the value before saving"),
}
INSTRUCTIONS = {
    "thermometer": (N_("1. Switch the thermometer on."),
                    N_("2. Tap “Measure temperature”."),
                    N_("3. Take the temperature as usual: the value arrives by itself.")),
    "oximeter": (N_("1. Finger clean and warm, no nail polish: warm the hand if it is cold."),
                 N_("2. Put the oximeter on the finger and switch it on."),
                 N_("3. Hand resting and still, tap “Measure saturation” and wait for the value.")),
    "blood_pressure": (N_("1. Patient seated, resting for 5 minutes, back supported, legs uncrossed."),
                       N_("2. Bare arm resting at heart level, cuff 2 cm above the elbow crease."),
                       N_("3. Tap “Measure blood pressure”: no talking or moving until the value arrives.")),
}
DEVICE_STATE_BY_KIND = {  # what each phase waits for, in plain words, per device
    "oximeter": {
        "idle": N_("Put the oximeter on the finger, then tap the button."),
        "scanning": N_("Searching for the oximeter…"),
        "connecting": N_("Connecting to the oximeter…"),
        "measuring": N_("Place the patient's finger in the oximeter and keep the hand still…"),
    },
    "blood_pressure": {
        "idle": N_("Put the cuff on, then tap the button."),
        "scanning": N_("Searching for the blood pressure monitor…"),
        "connecting": N_("Connecting to the blood pressure monitor…"),
        "measuring": N_("Inflating the cuff… no talking or moving."),
    },
    "thermometer": {
        "connecting": N_("Connecting to the thermometer…"),
    },
}



# -- patient --------------------------------------------------------------------------------------------------
def display_name(family_name: str | None, given_name: str | None) -> str:
    """French identity display: birth name in capitals, then the first given name ("DUPONT Marie")."""
    return " ".join(p for p in ((family_name or "").strip().upper(), (given_name or "").strip()) if p)


def patient_name(lang: str, family_name: str | None, usual_name: str | None, given_name: str | None,
                 sex: str | None = None) -> str:
    """The name staff call the resident by, then the birth name when it differs: "DURAND Germaine, née MARTIN".
    Without a usual name, display_name ("MARTIN Germaine")."""
    shown = display_name(usual_name or family_name, given_name)
    if usual_name and family_name and usual_name.strip().upper() != family_name.strip().upper():
        birth = tr._(_BIRTH_NAME.get(sex or "I", _BIRTH_NAME["I"])).format(name=family_name.strip().upper())
        shown = f"{shown}, {birth}"
    return shown


def age_years(birth_date: str | None, today: dt.date | None = None) -> int | None:
    """Completed years on `today` (default: the tablet's date); None without a valid birth date."""
    try:
        born = dt.date.fromisoformat((birth_date or "")[:10])
    except ValueError:
        return None
    today = today or dt.date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def age_line(lang: str, birth_date: str | None, today: dt.date | None = None) -> str:
    years = age_years(birth_date, today)
    return "" if years is None else tr.ngettext("{n} year", "{n} years", years).format(n=years)


def room_line(lang: str, room: str | None) -> str:
    return tr._("Room {room}").format(room=room) if room else ""


def banner_details(lang: str, sex: str | None, birth_date: str | None, room: str | None, status: str | None,
                   today: dt.date | None = None) -> str:
    """The banner's second line: "Femme, née le 02/04/1938 (87 ans) · Chambre 12 · Identité validée"."""
    age = age_line(lang, birth_date, today)
    born = born_line(lang, sex, birth_date) + (f" ({age})" if age else "")
    return "  ·  ".join(part for part in (born, room_line(lang, room), status_long(lang, status)) if part)


def row_name(lang: str, row: dict) -> str:
    """patient_name for a row of mobile.screens.viewmodels.patients.patient_row."""
    return patient_name(lang, row.get("family"), row.get("usual"), row.get("given"), row.get("sex"))


def duplicate_line(lang: str, row: dict) -> str:
    """A probable duplicate: "DURAND Germaine, née MARTIN — Femme, née le 06/05/1934 — Chambre 12 — Identité …"."""
    parts = (row_name(lang, row), born_line(lang, row.get("sex"), row.get("birth_date")),
             room_line(lang, row.get("room")), status_long(lang, row.get("status")))
    return " — ".join(p for p in parts if p)


def use_patient(lang: str, row: dict) -> str:
    """The button that opens the session on this match, naming it."""
    return tr._("Use this patient: {name}").format(name=row_name(lang, row))


def other_matches(lang: str, rows) -> list[tuple[str, str]]:
    """(button text, patient id) for every probable duplicate after the first."""
    return [(use_patient(lang, row), row["patient_id"]) for row in list(rows or ())[1:]]


def document_label(lang: str, code: str | None) -> str:
    return tr._(IDENTITY_DOCUMENTS[code]) if code in IDENTITY_DOCUMENTS else ""


def format_date(iso: str | None) -> str:
    """"1941-03-07" → "07/03/1941" (unchanged if it is not an ISO date)."""
    if not iso:
        return ""
    try:
        return dt.date.fromisoformat(iso[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return iso


def born_line(lang: str, sex: str | None, birth_date: str | None) -> str:
    return tr._(_BORN.get(sex or "I", _BORN["I"])).format(date=format_date(birth_date))


def birth_place_line(lang: str, insee: str | None) -> str:
    return tr._("Birthplace (INSEE) {code}").format(code=insee or "?") if insee else ""


def status_short(lang: str, status: str | None) -> str:
    return tr._(IDENTITY_STATUS_SHORT.get(status or "", "")) or (status or "")


def status_long(lang: str, status: str | None) -> str:
    return tr._(IDENTITY_STATUS.get(status or "", "")) or (status or "")


# -- measurement ----------------------------------------------------------------------------------------------
def device_state(lang: str, state: str, kind: str = "thermometer") -> str:
    return tr._(DEVICE_STATE_BY_KIND.get(kind, {}).get(state) or DEVICE_STATE.get(state, ""))


def kind_title(lang: str, kind: str) -> str:
    return tr._(KIND_TITLE.get(kind, kind))


def measure_button(lang: str, kind: str, busy: bool) -> str:
    return tr._("Measuring…") if busy else tr._(MEASURE_BUTTON.get(kind, MEASURE_BUTTON["thermometer"]))


def instruction(lang: str, kind: str, index: int) -> str:
    return tr._(INSTRUCTIONS.get(kind, INSTRUCTIONS["thermometer"])[index])


def review_title(lang: str, kind: str) -> str:
    return tr._(REVIEW_TITLE.get(kind, REVIEW_TITLE["thermometer"]))


# -- values: numbers and units (mobile.workflow.ProposedValue) worded for the current language, here only ------
UNIT_SYMBOLS = {"Cel": "°C", "[degF]": "°F", "mm[Hg]": "mmHg", "kPa": "kPa", "%": "%", "/min": "/min"}


def number(lang: str, value) -> str:
    """The value with the precision the device sent: decimal comma in French, point in English ("37,60")."""
    text = str(value)
    return text.replace(".", ",") if (lang or tr.lang) == "fr" else text


def _by_field(values) -> dict:
    return {v.field: v for v in values or ()}


def _quantity(lang: str, value) -> str:
    return f"{number(lang, value.value)}\u00a0{UNIT_SYMBOLS.get(value.unit, value.unit)}"


def main_value(lang: str, values) -> str:
    """The big figure: "128/82 mmHg", "SpO2 97 %", "37,60 °C", or a cuff pressure while it inflates."""
    found = _by_field(values)
    if "systolic" in found and "diastolic" in found:
        sys_, dia = found["systolic"], found["diastolic"]
        return f"{number(lang, sys_.value)}/{_quantity(lang, dia)}"
    if "spo2" in found:
        return f"SpO2 {_quantity(lang, found['spo2'])}"
    if "temperature" in found:
        return _quantity(lang, found["temperature"])
    if "cuff_pressure" in found:
        return tr._("Cuff {pressure}").format(pressure=_quantity(lang, found["cuff_pressure"]))
    return ""


def extra_value(lang: str, values) -> str:
    """What comes with it: the pulse rate ("pulse 72/min", "pouls 72/min")."""
    pulse = _by_field(values).get("pulse_rate")
    return f"{tr._('pulse')} {number(lang, pulse.value)}/min" if pulse is not None else ""


def value_line(lang: str, values) -> str:
    """The figure and what comes with it on one line: "SpO2 97 % · pulse 72/min"."""
    return " · ".join(part for part in (main_value(lang, values), extra_value(lang, values)) if part)


def live_text(lang: str, values) -> str:
    """What a live packet shows while measuring: temperature, cuff pressure, or SpO2 and pulse."""
    return value_line(lang, values)


def saved_lines(lang: str, values) -> str:
    """One line per saved value: "Temperature: 37,60 °C"."""
    return "\n".join(tr._("{device}: {value}").format(device=kind_title(lang, kind), value=value_line(lang, vals))
                     for kind, vals in values or ())


def warning_lines(lang: str, codes) -> str:
    """The review screen's warnings (codes: values to verify, alerts, device status), one per line."""
    return "\n".join(error_text(code, lang) for code in codes or ())


def source_line(lang: str, source: str, device: str, kind: str = "thermometer") -> str:
    label = tr._(SOURCE_BY_KIND.get(kind, SOURCE.get(source, source)) if source == "bluetooth" else
                 SOURCE.get(source, source))
    return tr._("Source: {source} — {device}").format(source=label, device=device) if device else \
        tr._("Source: {source}").format(source=label)


def measured_at_line(lang: str, hhmm: str) -> str:
    return tr._("Measured at {time}").format(time=hhmm) if hhmm else ""


# -- sync -----------------------------------------------------------------------------------------------------
def sync_level(waiting: int, rejected: int) -> str:
    if rejected:
        return "rejected"
    return "pending" if waiting else "ok"


def sync_summary(lang: str, waiting: int, rejected: int, short: bool = False, damaged: bool = False) -> str:
    """`short` (a narrow, portrait top bar): only the most pressing part, the refusals when there are any.
    `damaged`: the scheduled check found the tablet's store damaged and syncing stopped; nothing else matters."""
    if damaged:
        return tr._("Storage damaged") if short else tr._("Tablet storage damaged: sync stopped")
    waiting, rejected = int(waiting), int(rejected)
    parts = []
    if rejected:
        parts.append(tr.ngettext("{n} upload refused: to be checked", "{n} uploads refused: to be checked",
                                 rejected).format(n=rejected))
    if waiting:
        parts.append(tr.ngettext("Sync: {n} waiting", "Sync: {n} waiting", waiting).format(n=waiting))
    if short:
        parts = parts[:1]
    return " · ".join(parts) if parts else tr._("Everything is synced")


def last_session_line(lang: str, state: str) -> str:
    if not state:
        return ""
    return tr._("Last session: {state}").format(state=tr._(SESSION_STATE.get(state, state)))


def session_state_long(lang: str, state: str) -> str:
    return tr._(SESSION_STATE_LONG.get(state, "")) if state else ""


# -- staff, site, session start ------------------------------------------------------------------------------
ROLES = {"aide_soignant": N_("Nursing aide"), "infirmier": N_("Nurse"), "assistant_medical": N_("Medical assistant"),
         "pharmacien": N_("Pharmacist"), "medecin": N_("Doctor"), "administrateur": N_("Administrator")}
CARE_ROLES = ("aide_soignant", "infirmier", "assistant_medical", "pharmacien")
SITE_KINDS = {"ehpad": N_("Nursing home (EHPAD)"), "pharmacie": N_("Pharmacy cabin")}
GRANTORS = {"patient": N_("The patient"), "legal_representative": N_("Legal representative"),
            "trusted_person": N_("Trusted person")}
REASONS = (N_("Fever"), N_("Cough or breathlessness"), N_("Fall"), N_("Pain"), N_("Treatment follow-up"))
REASONS_RECORD = REASONS_FR  # what a chip writes in the reason field: the French record's words


def role(lang: str, code: str) -> str:
    return tr._(ROLES.get(code, code)) if code else ""


def pin_dots(length: int) -> str:
    """Typed digits as bullets, the rest of a 4-digit PIN as dashes (glyphs the bundled Roboto font has)."""
    return " ".join(["•"] * int(length) + ["–"] * max(0, 4 - int(length)))


# -- vitals and the call (the NEWS2 sentences: mobile.screens.news2_texts) -----------------------------------------
ACVPU_LABELS = {"A": N_("A — Alert"), "C": N_("C — New confusion"), "V": N_("V — Responds to voice"),
                "P": N_("P — Responds to pain"), "U": N_("U — Unresponsive")}
ORIENTATIONS = {"stay": N_("Stay here, monitored"), "gp": N_("See the GP"), "specialist": N_("Specialist opinion"),
                "emergency": N_("Emergency / 15"), "hospital": N_("Planned hospital stay")}

IDENTITY_METHODS = {"SM": N_("Typed in"), "CV": N_("Carte Vitale"), "INSI": N_("INSi teleservice"),
                    "CB": N_("INS Datamatrix"), "AV": N_("Carte Vitale app"), "RFID": N_("RFID")}


def last_sync_line(lang: str, hhmm: str, offline: bool, damaged: bool = False, short: bool = False) -> str:
    if damaged:  # the data stay on the tablet, as they are: only support can move them
        return tr._("Call support") if short else tr._("Call support before the next session")
    if offline:
        return tr._("Offline — last sync {time}").format(time=hhmm) if hhmm else tr._("Offline")
    return tr._("Last sync: {time}").format(time=hhmm) if hhmm else ""


REPORT_RECIPIENT_KINDS = {"gp": N_("the patient's own doctor"), "patient": N_("the patient (Mon espace santé)")}


def _rejected_line(row) -> str:
    if "refusal" in row:  # a report by secure mail: the mail server's own reply, as it gave it
        return tr._("{name}, report of the session of {date} to {recipient} ({address}):\n"
                    "refused by the mail server: {reply}").format(
            name=row["name"], date=row["date"], recipient=tr._(REPORT_RECIPIENT_KINDS[row["recipient_kind"]]),
            address=row["recipient"], reply=row["refusal"])
    return tr._("{name}, session of {date}:\n{reason}").format(
        name=row["name"], date=row["date"], reason=stored_error_text(row["reason"], tr.lang))


def rejected_lines(lang: str, rows) -> str:
    """Who was refused and why: a session the FHIR server refused (its stored diagnostic, worded in `lang`) or a
    report a mail server refused (the server's reply)."""
    return "\n\n".join(_rejected_line(r) for r in rows or ())


# -- administration -------------------------------------------------------------------------------------------
ADMIN_DONE = {"created": N_("Account created."), "pin": N_("PIN changed: the account is unlocked."),
              "deactivated": N_("Account deactivated: it can no longer sign in."),
              "reactivated": N_("Account reactivated."), "retention": N_("Retention period saved."),
              "exported": N_("Audit log exported to:"),
              "admin_granted": N_("This account can now manage the tablet."),
              "admin_withdrawn": N_("Administration rights removed."),
              "merged": N_("Records merged: the one kept stays in the patient list."),
              "own_pin": N_("Your new PIN is saved: you may administer this tablet.")}
RETENTION_CHOICES = (3, 7, 14, 30)


def admin_done(lang: str, key: str, path: str = "") -> str:
    if not key:
        return ""
    text = tr._(ADMIN_DONE.get(key, ""))
    return f"{text}\n{path}" if key == "exported" and path else text


def staff_state(lang: str, active: bool, locked: bool) -> str:
    if not active:
        return tr._("Deactivated")
    return tr._("Locked out (wrong PINs)") if locked else tr._("Active")


def staff_line(lang: str, role_code: str, is_admin: bool, active: bool, locked: bool) -> str:
    parts = [role(lang, role_code)]
    if is_admin and role_code != "administrateur":
        parts.append(tr._("administrator"))
    parts.append(staff_state(lang, active, locked))
    return "  ·  ".join(parts)


def audit_status(lang: str, ok: bool, rows: int, bad_seq: int) -> str:
    if ok:
        return tr.ngettext("Audit log intact: {n} entry over the last six months.",
                           "Audit log intact: {n} entries over the last six months.", int(rows)).format(n=int(rows))
    return tr._("WARNING: the audit log was altered (entry {seq}). Tell the person in charge of data "
                "protection.").format(seq=int(bad_seq))


def retention_line(lang: str, days: int) -> str:
    return tr.ngettext("Sessions leave this tablet {n} day after the server confirmed them.",
                       "Sessions leave this tablet {n} days after the server confirmed them.", int(days)).format(
        n=int(days))


def retention_choice(lang: str, days: int) -> str:
    return tr.ngettext("{n} day", "{n} days", int(days)).format(n=int(days))
