"""What `--scenario NAME` means on the command line, without starting Kivy: the list of training scenarios in the
staff's language, and the simulated devices' settings for a name. Without --demo a name may also be one of the
simulated thermometer's own behaviours (error, disconnect, slow…), for trying the app by hand."""
from __future__ import annotations

import gettext
from pathlib import Path
from typing import Any

from mobile.training.scenarios import SCENARIOS, Scenario

LOCALE_DIR = Path(__file__).resolve().parents[2] / "assets" / "locales"


class UnknownScenario(ValueError):
    """`name` is neither a training scenario nor (without --demo) a simulated thermometer behaviour."""

    def __init__(self, name: str, behaviours: list[str] | None = None) -> None:
        super().__init__(name)
        self.name, self.behaviours = name, behaviours or []

    def __str__(self) -> str:
        valid = f"unknown scenario {self.name!r}; training scenarios: {', '.join(SCENARIOS)}"
        if self.behaviours:
            valid += f"; simulated thermometer (without --demo): {', '.join(self.behaviours)}"
        return valid


def listing(lang: str = "fr") -> str:
    """One line per scenario: its name and what it shows, in `lang` (the English msgid without a catalog)."""
    catalog = gettext.translation("relais", str(LOCALE_DIR), languages=[lang], fallback=True)
    width = max(len(name) for name in SCENARIOS)
    return "\n".join(f"{name:<{width}}  {catalog.gettext(s.description)}" for name, s in SCENARIOS.items())


def thermometer_behaviours() -> list[str]:
    from devices.simulated.thermometer import THERMOMETER_SCENARIOS

    return list(THERMOMETER_SCENARIOS)


def scenario(name: str) -> Scenario:
    """The training scenario to play; UnknownScenario names the playable ones."""
    if name not in SCENARIOS:
        raise UnknownScenario(name)
    return SCENARIOS[name]


def device_settings(name: str) -> dict[str, Any]:
    """RuntimeConfig fields for the simulated devices: a training scenario's, or one thermometer behaviour (the
    other devices normal)."""
    if name in SCENARIOS:
        return SCENARIOS[name].runtime_settings()
    behaviours = thermometer_behaviours()
    if name not in behaviours:
        raise UnknownScenario(name, [b for b in behaviours if b not in SCENARIOS])
    return {"thermometer_scenario": name, "oximeter_scenario": "normal", "blood_pressure_scenario": "normal"}
