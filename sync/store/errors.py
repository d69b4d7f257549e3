"""The store's refusals: one class per kind of problem, each carrying a dotted code (sync.errors.RelaisError).

The classes keep the bases callers catch (an identity or input refusal is a ValueError, an unknown id a LookupError);
the code says exactly what was refused, `field` names the input at fault, and the parameters hold ids, counts and
limits only, never patient data. The words for staff live in the app's catalog (mobile.messages.data), the words
for the command line in sync.cli_messages.
"""
from __future__ import annotations

import datetime as dt

from sync.errors import RelaisError


class StoreError(RelaisError):
    """Base class for store errors."""


class IdentityError(StoreError, ValueError):
    """Identity traits refused; `field` names the trait."""


class InputError(StoreError, ValueError):
    """Input refused; `field` names the offending argument."""


class NotFoundError(StoreError, LookupError):
    """No patient / session / staff member / site with that id (`params["id"]`)."""


class SessionStateError(StoreError):
    """The session is not in a state that allows the operation (e.g. adding to, or closing, a closed session)."""


class StoreKeyError(StoreError):
    """The store cannot be decrypted: wrong key, or an encrypted file opened without its key."""


class StoreCorruptError(StoreError):
    """The file is not an intact SQLite/SQLCipher database."""


class StoreFullError(StoreError):
    """The disk is full (`store.disk_full`): the write was rolled back, what was committed before is kept."""


class SchemaError(StoreError):
    """The file's schema cannot be used by this version of the app (newer schema, failed migration)."""


class PinLockedError(StoreError):
    """Too many wrong PINs: this staff member must wait `remaining`. Code `pin.locked` with `seconds` under a
    minute, `pin.locked.minutes` with `minutes` (rounded up) beyond; both carry `seconds`."""

    def __init__(self, remaining: dt.timedelta) -> None:
        self.remaining = remaining
        seconds = max(1, int(remaining.total_seconds() + 0.999))
        if seconds < 60:
            super().__init__("pin.locked", seconds=seconds)
        else:
            super().__init__("pin.locked.minutes", seconds=seconds, minutes=(seconds + 59) // 60)
