"""New record ids that sort in the order they are made.

A UUID in the layout of version 7 (RFC 9562 section 5.7): 48 bits of Unix milliseconds, then 74 random bits, so it
is as unique and as hard to guess as a version 4 one. Ids made one after the other sort together: the rows of a
day's work, and the identifiers the server indexes (sessions' keys prefix every identifier of their resources), are
appended at the end of each index instead of landing on random pages, which a growing file pays for on every write.
"""
from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    """A new time-ordered UUID, as text."""
    random_bits = int.from_bytes(os.urandom(10), "big")
    value = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | (random_bits >> 68) << 64 | 0b10 << 62 \
        | random_bits & (1 << 62) - 1
    return str(uuid.UUID(int=value))
