"""A server's Retry-After (RFC 9110 section 10.2.3) read and turned into the wait the uploader uses: never less than
asked, a little jitter so tablets told the same wait do not all return together, and a cap so a misconfigured
server asking for hours cannot stall the queue that long."""
from __future__ import annotations

import datetime as dt
import email.utils
import random

RETRY_AFTER_CAP_SECONDS = 900.0  # a server asking for hours (misconfigured) must not stall the queue for that long
RETRY_AFTER_JITTER = 0.1  # up to +10 %: tablets told "Retry-After: 60" together must not all return together


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None,
                      server_date: str | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds ("120") or an HTTP date. None when absent or
    unreadable; never negative. A date is measured against the server's own Date header when there is one, so a
    tablet clock that is off does not stretch or cancel the wait."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    reference = None
    if server_date:
        try:
            reference = email.utils.parsedate_to_datetime(server_date)
        except (TypeError, ValueError, IndexError):
            reference = None
        if reference is not None and reference.tzinfo is None:
            reference = reference.replace(tzinfo=dt.timezone.utc)
    if reference is None:
        reference = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (moment - reference).total_seconds())


def retry_delay(retry_after: float, rng: random.Random | None = None) -> float:
    """The wait actually used for a server's Retry-After: at least what it asked, plus a little jitter, capped."""
    base = min(max(0.0, retry_after), RETRY_AFTER_CAP_SECONDS)
    return min(RETRY_AFTER_CAP_SECONDS, base + (rng or random).uniform(0, base * RETRY_AFTER_JITTER))
