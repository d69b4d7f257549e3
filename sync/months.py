"""Calendar months back from a moment, for the rules counted in months: the audit trail's six rolling months
(sync.audit, and the trigger guarding its anchor, registered by sync.store.database)."""
from __future__ import annotations

import datetime as dt

AUDIT_RETENTION_MONTHS = 6


def months_before(now: dt.datetime, months: int) -> dt.datetime:
    """The same moment `months` calendar months earlier (31 August minus six months is 28 or 29 February)."""
    month_index = now.year * 12 + now.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    days_in_month = ((dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day)
    return now.replace(year=year, month=month, day=min(now.day, days_in_month))
