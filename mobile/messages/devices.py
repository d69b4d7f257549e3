"""What the device layer's failure codes say to staff (devices.errors: a dropped link, an unreadable packet, no
finger in the oximeter…). The English templates are the device layer's own (one wording, also used in its logs and
command line); French comes from the catalogs like every other message. A ``kind`` parameter fills ``{device}``.

The workflow passes a device code on as the ``reason`` of its own message ("Measurement impossible: {reason}. …"),
and the catalog words the reason with the same parameters."""
from __future__ import annotations

from devices.errors import ENGLISH

DEVICE_MESSAGES: dict[str, str] = dict(ENGLISH)
