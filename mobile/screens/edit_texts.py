"""The sentences of the resident form when it corrects a record: its title and button, why the traits of a
retrieved or qualified identity cannot be changed here, and what the patient list says once the correction is saved
("Record updated: room, usual name", the fields named as the form names them). Like mobile.screens.texts, each
function takes the current language first so kv rules follow a switch (no Kivy widgets here)."""
from __future__ import annotations

from mobile.i18n import tr
from mobile.screens.texts import status_long


def N_(text: str) -> str:  # noqa: N802 - gettext convention: mark for extraction, translate later
    return text


# the stamp keys of sync.store.patient_stamps.FIELDS, as the record's fields are called on the form
FIELD_NAMES = {"family_name": N_("birth name"), "given_name": N_("first given name"),
               "birth_given_names": N_("given names at birth"), "birth_date": N_("date of birth"),
               "sex": N_("sex"), "birth_place_insee": N_("birthplace"), "usual_name": N_("usual name"),
               "room": N_("room"), "resident_id": N_("resident number"), "reliability": N_("identity status"),
               "gp": N_("attending doctor")}


def title(lang: str, editing: bool) -> str:
    return tr._("Correct the resident's record") if editing else tr._("New patient: the five identity traits")


def submit_label(lang: str, editing: bool) -> str:
    return tr._("Save the changes") if editing else tr._("Create and start the session")


def anyway_label(lang: str, editing: bool) -> str:
    return tr._("Save anyway") if editing else tr._("Create anyway")


def locked_reason(lang: str, status: str | None) -> str:
    """Why the traits are read-only (a retrieved or qualified identity)."""
    return tr._("{status}: these identity traits come from the national INSi teleservice and cannot be changed on "
                "this tablet. You may change the usual name and the room.").format(status=status_long(lang, status))


def saved_line(lang: str, fields) -> str:
    """"Record updated: room, usual name" once a correction is saved; "" when there is none to report."""
    if fields is None:
        return ""
    if not fields:
        return tr._("Nothing was changed in the record.")
    names = ", ".join(tr._(FIELD_NAMES.get(key, key)) for key in fields)
    return tr._("Record updated: {fields}").format(fields=names)


def duplicate_header(lang: str, editing: bool) -> str:
    if editing:
        return tr._("These traits match another resident's record. Check before saving: an administrator will be "
                    "offered to merge the two records.")
    return tr._("This person may already be known. Check before creating a second identity:")
