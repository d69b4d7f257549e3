"""The sentences of the "Devices of this tablet" screen, composed from the kit and the search (no Kivy widgets).
Like mobile.screens.texts, each function takes the current language first so kv rules follow a switch."""
from __future__ import annotations

from mobile.i18n import tr


def N_(text: str) -> str:  # noqa: N802 - gettext convention: mark for extraction, translate later
    return text


KIND_NAME = {"thermometer": N_("Thermometer"), "oximeter": N_("Oximeter"),
             "blood_pressure": N_("Blood pressure monitor")}
DONE = {"paired": N_("Device paired: it is now part of the tablet's kit."),
        "removed": N_("Device removed from the kit: it will no longer be used.")}
# Signal strength in plain words: roughly a metre or two (good), the next room (fair), down the corridor (weak).
GOOD_DBM, FAIR_DBM = -70, -85
SIGNAL = {"good": N_("good"), "fair": N_("fair"), "weak": N_("weak")}


def kind_name(lang: str, kind: str) -> str:
    return tr._(KIND_NAME[kind]) if kind in KIND_NAME else kind


def title_line(lang: str, kind: str, name: str) -> str:
    """"Thermometer — Relais Thermo"."""
    return f"{kind_name(lang, kind)} — {name}" if name else kind_name(lang, kind)


def identity_line(lang: str, model: str, serial: str) -> str:
    """"Model SIM-THERMO-1 · Serial no. SIM-THERMO-0001", "unknown" where the device does not say."""
    unknown = tr._("unknown")
    return tr._("Model {model} · Serial no. {serial}").format(model=model or unknown, serial=serial or unknown)


def signal_word(rssi: int | None) -> str:
    if rssi is None:
        return ""
    return "good" if rssi >= GOOD_DBM else "fair" if rssi >= FAIR_DBM else "weak"


def signal_line(lang: str, rssi: int | None) -> str:
    """"Signal: weak (−86 dBm)"."""
    word = signal_word(rssi)
    if not word:
        return tr._("Signal: unknown")
    return tr._("Signal: {word} ({rssi} dBm)").format(word=tr._(SIGNAL[word]), rssi=str(rssi).replace("-", "\u2212"))


def done(lang: str, key: str) -> str:
    return tr._(DONE[key]) if key in DONE else ""


def search_result(lang: str, searched: bool, count: int) -> str:
    if not searched:
        return tr._("Switch the devices on and bring them close to the tablet, then search.")
    if count == 0:
        return tr._("No device found: check that the devices are on and close to the tablet, then search again.")
    return tr.ngettext("{n} device in range.", "{n} devices in range.", count).format(n=count)
