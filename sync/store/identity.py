"""Identity rules: the strict traits of a patient identity and the national numbers of staff and sites.

- Patient identity (ANS, Référentiel national d'identitovigilance, RNIV 1): birth name, first given name at birth
  and the list of birth given names, birth date, sex, birth place as an INSEE code (Corsica 2A/2B, 99xxx abroad),
  the identity status PROV / RECUP / VALI / QUAL, how the traits were collected (FR Core
  fr-core-cs-method-collection), and the INS, which only a qualified identity carries. Next to them, the usual
  name (nom utilisé, a "trait complémentaire": the married name staff call a resident by), the room or bed, and
  the high-trust document an identity was checked against (FR Core fr-core-cs-mode-validation-identity).
- The INS (ANS, Référentiel INS: the NIR as "matricule INS") ends with a control key: 97 minus the first 13
  characters modulo 97, the Corsican departments 2A / 2B counted as 19 / 18.
- RPPS numbers have 11 digits; ADELI and FINESS numbers 9 characters (2A / 2B for Corsica), the last FINESS
  character a Luhn key (ISO/IEC 7812-1, annex B).

Each rule returns the cleaned value or raises IdentityError / InputError with a code and the field at fault.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from sync.store.errors import IdentityError, InputError

IDENTITY_STATUSES = ("PROV", "RECUP", "VALI", "QUAL")
SEXES = ("F", "M", "I")
IDENTITY_METHODS = ("SM", "CV", "INSI", "CB", "RFID", "AV")  # FR Core fr-core-cs-method-collection (RNIV 1 v2.0)
# The high-trust documents an identity may be validated with (FR Core fr-core-cs-mode-validation-identity, RNIV 1):
# national identity card, passport, residence permit; and, for a direct admission to a nursing home (RNIV update of
# January 2024 for the medico-social sector, https://sante-ara.fr/modifications-des-referentiels-nationaux-en-
# identitovigilance-en-2024-pour-le-medico-social), a livret de famille or a birth-certificate extract, each with a
# carte Vitale bearing the person's photo.
IDENTITY_DOCUMENTS = ("CN", "PA", "CS", "LECV", "ANCV")
NURSING_HOME_DOCUMENTS = ("LECV", "ANCV")
ROOM_MAX_LENGTH = 30
NAME_MAX_LENGTH = 100
OLDEST_BIRTH_YEAR = 1890

_NAME_CHARS = re.compile(r"[^\W\d_]|[ '\-’]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSEE = re.compile(r"\d{5}|2[AB]\d{3}")
_INS = re.compile(r"[1-478]\d{4}(?:\d{2}|2[AB])\d{8}")
_RPPS = re.compile(r"\d{11}")
_ADELI = re.compile(r"(?:\d{2}|2[AB])\d{7}")
_FINESS = re.compile(r"(?:\d{2}|2[AB])\d{7}")

# per name field: the codes for (missing, too long, characters other than letters, spaces, hyphens, apostrophes)
_NAME_CODES = {
    "family_name": ("identity.family_name.required", "identity.family_name.too_long",
                    "identity.family_name.characters"),
    "given_name": ("identity.given_name.required", "identity.given_name.too_long",
                   "identity.given_name.characters"),
    "usual_name": ("identity.usual_name.required", "identity.usual_name.too_long", "identity.usual_name.characters"),
    "birth_given_names": ("identity.birth_given_names.required", "identity.birth_given_names.too_long",
                          "identity.birth_given_names.characters"),
}


def fold(text: str) -> str:
    """Case- and accent-insensitive form for search: 'Hélène' → 'helene', 'Œuvray' → 'oeuvray'."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().replace("’", "'")


LIST_KEY_SEPARATOR = "\x1f"  # the unit separator: below every printable character, absent from folded names


def list_key(family_name: str | None, given_name: str | None, birth_date: str | None, patient_id: str) -> str:
    """Where a patient stands in the list: folded family name, folded given name, birth date, id, joined by a
    separator that sorts before any letter, so the text sorts as the four fields would one after the other."""
    fields = (fold(family_name or ""), fold(given_name or ""), birth_date or "", patient_id)
    return LIST_KEY_SEPARATOR.join(fields)


_NAME_PARTS = re.compile(r"[ \-']+")


def name_tokens(*names: str | None) -> list[str]:
    """What a name search matches, for each name given: the folded name and each of its parts (split at spaces,
    hyphens and apostrophes), so 'martin' finds 'Dupont-Martin' and 'dupont-ma' finds it too. Sorted, no
    duplicates, no empty token."""
    tokens: set[str] = set()
    for name in names:
        if name:
            folded = fold(name)
            tokens.add(folded)
            tokens.update(_NAME_PARTS.split(folded))
    tokens.discard("")
    return sorted(tokens)


def name_prefixes(*names: str | None) -> list[str]:
    """Every text a name search may type and find these names with: each prefix of each of their tokens
    (name_tokens). Sorted, no duplicates."""
    return sorted({token[:end] for token in name_tokens(*names) for end in range(1, len(token) + 1)})


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_name(value: Any, field: str) -> str:
    """A name as typed, NFC, inner whitespace collapsed; letters, spaces, hyphens and apostrophes only."""
    required, too_long, characters = _NAME_CODES[field]
    if not isinstance(value, str):
        raise IdentityError(required, field)
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        raise IdentityError(required, field)
    if len(text) > NAME_MAX_LENGTH:
        raise IdentityError(too_long, field, max_length=NAME_MAX_LENGTH)
    if not all(_NAME_CHARS.fullmatch(ch) for ch in text) or not any(ch.isalpha() for ch in text):
        raise IdentityError(characters, field)
    return text


def clean_birth_date(value: Any, today: dt.date) -> str:
    """An ISO date (YYYY-MM-DD) that exists, not in the future, not before OLDEST_BIRTH_YEAR."""
    if isinstance(value, dt.datetime):
        raise IdentityError("identity.birth_date.time", "birth_date")
    if isinstance(value, dt.date):
        value = value.isoformat()
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise IdentityError("identity.birth_date.format", "birth_date")
    try:
        date = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise IdentityError("identity.birth_date.calendar", "birth_date") from None
    if date > today:
        raise IdentityError("identity.birth_date.future", "birth_date")
    if date.year < OLDEST_BIRTH_YEAR:
        raise IdentityError("identity.birth_date.too_old", "birth_date", oldest_year=OLDEST_BIRTH_YEAR)
    return date.isoformat()


def clean_sex(value: Any) -> str:
    sex = value.strip().upper() if isinstance(value, str) else None
    if sex not in SEXES:
        raise IdentityError("identity.sex.invalid", "sex")
    return sex


def clean_birth_place(value: Any) -> str:
    insee = value.strip().upper() if isinstance(value, str) else ""
    if not _INSEE.fullmatch(insee):
        raise IdentityError("identity.birth_place_insee.format", "birth_place_insee")
    return insee


def clean_status(value: Any) -> str:
    status = value.strip().upper() if isinstance(value, str) else None
    if status not in IDENTITY_STATUSES:
        raise IdentityError("identity.identity_status.invalid", "identity_status")
    return status


def ins_key_valid(ins: str) -> bool:
    """NIR control key: 97 - (first 13 characters mod 97), Corsica departments 2A/2B counted as 19/18."""
    body = ins[:13]
    if body[5:7] == "2A":
        body = body[:5] + "19" + body[7:]
    elif body[5:7] == "2B":
        body = body[:5] + "18" + body[7:]
    return 97 - int(body) % 97 == int(ins[13:])


def clean_ins(value: Any, status: str) -> str | None:
    """The INS without spaces, upper case; only for a qualified identity; its key checked."""
    if _blank(value):
        return None
    if status != "QUAL":
        raise IdentityError("identity.ins.not_qualified", "ins")
    text = value.replace(" ", "").upper() if isinstance(value, str) else ""
    if not _INS.fullmatch(text):
        raise IdentityError("identity.ins.format", "ins")
    if not ins_key_valid(text):
        raise IdentityError("identity.ins.key", "ins")
    return text


def clean_resident_id(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise IdentityError("identity.resident_id.not_text", "resident_id")
    return (value.strip() or None) if value is not None else None


def clean_method(value: Any) -> str | None:
    if _blank(value):
        return None
    method = value.strip().upper() if isinstance(value, str) else None
    if method not in IDENTITY_METHODS:
        raise IdentityError("identity.identity_method.invalid", "identity_method")
    return method


def clean_usual_name(value: Any) -> str | None:
    """The usual name (nom utilisé), optional: the same rules as the birth name."""
    return None if _blank(value) else clean_name(value, "usual_name")


def clean_room(value: Any) -> str | None:
    """The room or bed as the site writes it ("12", "B 204 lit 2"), optional, one line."""
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise IdentityError("identity.room.not_text", "room")
    text = " ".join(value.split())
    if len(text) > ROOM_MAX_LENGTH:
        raise IdentityError("identity.room.too_long", "room", max_length=ROOM_MAX_LENGTH)
    return text


def clean_document(value: Any, status: str) -> str | None:
    """The code of the high-trust document the identity was checked against (IDENTITY_DOCUMENTS), optional; only
    a validated or qualified identity was checked against one."""
    if _blank(value):
        return None
    code = value.strip().upper() if isinstance(value, str) else None
    if code not in IDENTITY_DOCUMENTS:
        raise IdentityError("identity.identity_document.invalid", "identity_document")
    if status not in ("VALI", "QUAL"):
        raise IdentityError("identity.identity_document.status", "identity_document")
    return code


def clean_birth_given_names(value: Any, given_name: str) -> str | None:
    """The full list of birth given names (FR Core INS profile), starting with the first given name at birth."""
    if _blank(value):
        return None
    names = clean_name(value, "birth_given_names")
    if fold(names).split(" ")[0] != fold(given_name).split(" ")[0] or not fold(names).startswith(fold(given_name)):
        raise IdentityError("identity.birth_given_names.order", "birth_given_names")
    return names


# -- national numbers of professionals and establishments -----------------------------------------------------------

def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check over a string of digits, the last one being the key."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def finess_key_valid(finess: str) -> bool:
    """The 9th character of a FINESS number is a Luhn key over the first eight (checked on real numbers such as
    750712184). Corsican numbers (2A/2B) are checked for format only: how their letters enter the key is not
    published with the format."""
    return not finess.isdigit() or luhn_valid(finess)


def clean_rpps(value: Any, field: str) -> str | None:
    if _blank(value):
        return None
    text = value.replace(" ", "") if isinstance(value, str) else ""
    if not _RPPS.fullmatch(text):
        raise InputError("identifier.rpps.format", field)
    return text


def clean_adeli(value: Any, field: str) -> str | None:
    if _blank(value):
        return None
    text = value.replace(" ", "").upper() if isinstance(value, str) else ""
    if not _ADELI.fullmatch(text):
        raise InputError("identifier.adeli.format", field)
    return text


def clean_finess(value: Any, field: str = "finess") -> str | None:
    if _blank(value):
        return None
    text = value.replace(" ", "").upper() if isinstance(value, str) else ""
    if not _FINESS.fullmatch(text):
        raise InputError("identifier.finess.format", field)
    if not finess_key_valid(text):
        raise InputError("identifier.finess.key", field)
    return text
