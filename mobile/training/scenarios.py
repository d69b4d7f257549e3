"""The training scenarios: name → a one-line description (an English msgid, translated by the app's catalogs), what
the simulated devices do, and the script the player follows. Adding one is a script of steps and one entry in
SCENARIOS."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from devices.limits import WaitLimits
from mobile.training import steps
from mobile.training.runner import Player

DEVICE_KINDS = ("thermometer", "oximeter", "blood_pressure")


def N_(text: str) -> str:  # noqa: N802 - gettext convention: mark for extraction, translate later
    return text


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str                                    # English msgid, one line
    script: Callable[[Player], Awaitable[None]]
    devices: Mapping[str, str] = field(default_factory=dict)   # kind -> simulator scenario (default "normal")
    config: Mapping[str, Any] = field(default_factory=dict)    # any other RuntimeConfig field the scenario sets

    def runtime_settings(self) -> dict[str, Any]:
        """The RuntimeConfig fields that make the simulated devices behave as the scenario needs."""
        return {**{f"{kind}_scenario": self.devices.get(kind, "normal") for kind in DEVICE_KINDS}, **self.config}


CALL_ROUTINE = "Pas de signe de gravité. Surveillance habituelle."
CALL_FEVER = "Virose probable, pas de signe de gravité. Hydratation, surveillance de la température."
PARACETAMOL = "Paracétamol 1 g si fièvre > 38,5 °C, 3 fois par jour au plus."
CALL_EMERGENCY = "Suspicion de sepsis à point de départ pulmonaire. Transfert aux urgences par le SAMU."
# the neighbour's thermometer is refused once the scan gives up: a shorter scan keeps the demo moving
SHORT_SCAN = WaitLimits(scan=6.0)


async def _begin(p: Player, reason: str) -> None:
    await steps.sign_in(p)
    await steps.new_patient(p)
    await steps.start_session(p, reason)


async def _end(p: Player, conclusion: str, prescriptions: str = "", orientation: str = "stay") -> None:
    await steps.call(p, conclusion, prescriptions, orientation)
    await steps.summary(p)


async def normal(p: Player) -> None:
    await _begin(p, "Contrôle des constantes, se sent fatiguée")
    await steps.measure_and_accept(p)
    await steps.vitals(p)
    await _end(p, CALL_ROUTINE)


async def fever(p: Player) -> None:
    await _begin(p, "Fièvre et toux depuis hier")
    await steps.measure_and_accept(p)
    await steps.vitals(p, rr="22")
    await _end(p, CALL_FEVER, PARACETAMOL)


async def news2_partial(p: Player) -> None:
    await _begin(p, "Chute sans perte de connaissance")
    await steps.measure_and_accept(p)
    await steps.vitals(p, rr="", acvpu="", oxygen="no")
    await _end(p, CALL_ROUTINE)


async def device_failure(p: Player) -> None:
    await _begin(p, "Fièvre et toux depuis hier")
    await steps.measure_and_accept(p, ("oximeter", "blood_pressure"))
    if await steps.measure(p, "thermometer"):
        raise RuntimeError("the failing thermometer gave a value")
    await steps.temperature_by_hand(p, "38,4")
    await steps.vitals(p)
    await _end(p, CALL_FEVER, PARACETAMOL)


async def news2_high(p: Player) -> None:
    await _begin(p, "Fièvre, respiration rapide, confuse depuis ce matin")
    await steps.measure_and_accept(p)
    await steps.vitals(p, rr="26", acvpu="C", call_15=True)
    await _end(p, CALL_EMERGENCY, orientation="emergency")


async def foreign_device(p: Player) -> None:
    await _begin(p, "Fièvre et toux depuis hier")
    await steps.measure_and_accept(p, ("oximeter", "blood_pressure"))
    if await steps.measure(p, "thermometer"):
        raise RuntimeError("the neighbour's thermometer was read")
    refusal = getattr(p.models.measure.error, "code", None)
    if refusal != "measure.not_in_kit":
        raise RuntimeError(f"the thermometer failed with {refusal}, not as a device outside the kit")
    await steps.temperature_by_hand(p, "38,4")
    await steps.vitals(p)
    await _end(p, CALL_FEVER, PARACETAMOL)


async def resume(p: Player) -> None:
    await _begin(p, "Contrôle des constantes, se sent fatiguée")
    await steps.measure_and_accept(p, ("oximeter", "blood_pressure"))
    session_id = await steps.leave(p)
    await steps.resume(p, session_id, "measure")
    await steps.measure_and_accept(p, ("thermometer",))
    await steps.vitals(p)
    await _end(p, CALL_ROUTINE)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("normal", N_("A routine session: the three devices, vital signs, the call, the summary."), normal),
    Scenario("fever", N_("The thermometer reads a fever: the value is flagged and NEWS2 counts it."), fever,
             {"thermometer": "fever"}),
    Scenario("news2-partial", N_("Respiration rate and consciousness left blank: the NEWS2 score says it is "
                                 "partial."), news2_partial),
    Scenario("device-failure", N_("The thermometer sends only errors: its card fails, the temperature is typed "
                                  "by hand."), device_failure, {"thermometer": "error"}),
    Scenario("news2-high", N_("Fever, fast breathing and new confusion: NEWS2 is high, the 15 is called first, "
                              "then the emergency department."), news2_high, {"thermometer": "fever"}),
    Scenario("foreign-device", N_("Only a neighbouring tablet's thermometer is in range: its reading is refused, "
                                  "the temperature is typed by hand."), foreign_device,
             config={"foreign_devices": ("thermometer",), "devices_off": ("thermometer",),
                     "wait_limits": SHORT_SCAN}),
    Scenario("resume", N_("Called away mid-session: the session stays open, the patient list shows it, a tap "
                          "resumes it where it was."), resume),
)}
