"""Colour tokens (WCAG AA or better on the backgrounds they are used on) and the contrast formula that checks them.

Pairs actually used are listed in :data:`PAIRS`; tests/mobile/test_ui_theme.py asserts every pair is at least 4.5:1.
"""
from __future__ import annotations


def hex_rgba(value: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    value = value.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, alpha)


BG = hex_rgba("#F1F5F9")            # page background (slate-100)
SURFACE = hex_rgba("#FFFFFF")       # cards, inputs
TEXT = hex_rgba("#0F172A")          # slate-900
TEXT_MUTED = hex_rgba("#334155")    # slate-700
BORDER = hex_rgba("#64748B")        # slate-500: input and card outlines
TOPBAR = hex_rgba("#0F172A")
ON_DARK = hex_rgba("#FFFFFF")
BANNER = hex_rgba("#1E3A8A")        # blue-900: the patient banner
BANNER_MUTED = hex_rgba("#DBEAFE")  # blue-100 on blue-900
PRIMARY = hex_rgba("#1D4ED8")       # blue-700
PRIMARY_DOWN = hex_rgba("#1E3A8A")
SUCCESS = hex_rgba("#166534")       # green-800
SUCCESS_DOWN = hex_rgba("#14532D")
SUCCESS_BG = hex_rgba("#DCFCE7")
SUCCESS_TEXT = hex_rgba("#14532D")
WARNING = hex_rgba("#B45309")       # amber-700 (sync pending pill)
WARNING_BG = hex_rgba("#FEF3C7")    # amber-100
WARNING_TEXT = hex_rgba("#78350F")  # amber-900
DANGER = hex_rgba("#B91C1C")        # red-700
DANGER_BG = hex_rgba("#FEE2E2")     # red-100
DANGER_TEXT = hex_rgba("#7F1D1D")   # red-900
DISABLED_BG = hex_rgba("#CBD5E1")   # slate-300
DISABLED_TEXT = hex_rgba("#334155")
INFO_BG = hex_rgba("#DBEAFE")
ORANGE = hex_rgba("#C2410C")        # orange-700: NEWS2 medium risk
ORANGE_BG = hex_rgba("#FFEDD5")     # orange-100
ORANGE_TEXT = hex_rgba("#7C2D12")   # orange-900
INFO_TEXT = hex_rgba("#1E3A8A")
THERMO_RED = hex_rgba("#DC2626")
SKIN = hex_rgba("#F2C6A0")          # drawn finger and arm
PULSE_GREEN = hex_rgba("#4ADE80")   # the oximeter's drawn screen

# Identity status badges (RNIV): provisional needs attention, qualified is the goal.
STATUS_COLOURS = {
    "PROV": (WARNING_BG, WARNING_TEXT),
    "RECUP": (INFO_BG, INFO_TEXT),
    "VALI": (INFO_BG, INFO_TEXT),
    "QUAL": (SUCCESS_BG, SUCCESS_TEXT),
}

SYNC_COLOURS = {"ok": SUCCESS, "pending": WARNING, "rejected": DANGER, "damaged": DANGER}

# (foreground, background) pairs used for text in the kv files.
PAIRS = {
    "text on background": (TEXT, BG),
    "muted text on background": (TEXT_MUTED, BG),
    "text on surface": (TEXT, SURFACE),
    "muted text on surface": (TEXT_MUTED, SURFACE),
    "top bar": (ON_DARK, TOPBAR),
    "banner": (ON_DARK, BANNER),
    "banner secondary": (BANNER_MUTED, BANNER),
    "primary button": (ON_DARK, PRIMARY),
    "primary button pressed": (ON_DARK, PRIMARY_DOWN),
    "secondary button": (PRIMARY, SURFACE),
    "success button": (ON_DARK, SUCCESS),
    "sync ok pill": (ON_DARK, SUCCESS),
    "sync pending pill": (ON_DARK, WARNING),
    "sync rejected pill": (ON_DARK, DANGER),
    "warning panel": (WARNING_TEXT, WARNING_BG),
    "error panel": (DANGER_TEXT, DANGER_BG),
    "success panel": (SUCCESS_TEXT, SUCCESS_BG),
    "info badge": (INFO_TEXT, INFO_BG),
    "disabled button": (DISABLED_TEXT, DISABLED_BG),
    "emergency button": (ON_DARK, DANGER),
    "orange panel": (ORANGE_TEXT, ORANGE_BG),
    "text on orange panel": (TEXT, ORANGE_BG),
    "text on info panel": (TEXT, INFO_BG),
    "text on warning panel": (TEXT, WARNING_BG),
    "text on error panel": (TEXT, DANGER_BG),
    "text on success panel": (TEXT, SUCCESS_BG),
}


def _luminance(rgba: tuple[float, ...]) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(fg: tuple[float, ...], bg: tuple[float, ...]) -> float:
    """WCAG 2.x contrast ratio, 1 to 21."""
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)

# The saved screen's panel about the session's upload: (background, text, accent).
SESSION_PANEL = {
    "open": (INFO_BG, INFO_TEXT, PRIMARY),
    "pending": (WARNING_BG, WARNING_TEXT, WARNING),
    "in_flight": (INFO_BG, INFO_TEXT, PRIMARY),
    "sent": (SUCCESS_BG, SUCCESS_TEXT, SUCCESS),
    "rejected": (DANGER_BG, DANGER_TEXT, DANGER),
}

# The NEWS2 panel by RCP 2017 risk band: (background, accent, text of the advice). A partial score that reaches no
# band is neutral: never the green of a low score.
NEWS2_PANEL = {
    "incomplete": (INFO_BG, BORDER, TEXT),
    "low": (SUCCESS_BG, SUCCESS, TEXT),
    "low_medium": (WARNING_BG, WARNING, WARNING_TEXT),
    "medium": (ORANGE_BG, ORANGE, ORANGE_TEXT),
    "high": (DANGER_BG, DANGER, DANGER_TEXT),
}
