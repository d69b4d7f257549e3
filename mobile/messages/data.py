"""What the data layer's refusal codes (sync.errors.RelaisError raised by the store) say to staff: English
templates, translated through the catalogs like every UI text. Empty until the store raises codes."""
from __future__ import annotations

DATA_MESSAGES: dict[str, str] = {}
