"""The tablet's device kit: the thermometers, oximeters and blood pressure monitors an administrator paired with
this tablet, several of a kind allowed (a spare). A reading uses only the kit's devices
(:func:`devices.registry.read_device` gets their addresses), so in a corridor with two kits the neighbour's
thermometer is never read for this patient.

The kit is kept in the encrypted store, as JSON in the setting ``device_kit``: kind, address, the name the device
advertises, and the model, serial and manufacturer its Device Information service gave when it was paired. Only
administrators change it, from the "Devices of this tablet" screen reached from the administration; each change
is traced in the audit log (what was paired or removed, never a patient's data).

A device is recognised by the address the platform reports: its public or static address; for a device that
rotates private addresses, the identity address the platform resolves once bonded (one reason pairing bonds);
on macOS and iOS, the identifier CoreBluetooth gives that device on this tablet.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any, Protocol

from devices.discovery import FoundDevice
from devices.errors import DeviceError
from mobile.workflow.context import WorkflowContext
from mobile.workflow.state import WorkflowError

log = logging.getLogger(__name__)

KIT_SETTING = "device_kit"
ENTRY_FIELDS = ("kind", "address", "name", "manufacturer", "model", "serial")


class DeviceSetup(Protocol):
    """What the administration needs from the Bluetooth side (the runtime provides it)."""

    async def discover(self) -> list[FoundDevice]: ...

    async def pair(self, device: FoundDevice) -> FoundDevice: ...


def kit_is_set(store: Any) -> bool:
    """Whether the kit was ever written (an administrator may have emptied it on purpose)."""
    return store.get_setting(KIT_SETTING) is not None


def kit_entries(store: Any) -> list[dict[str, Any]]:
    try:
        entries = json.loads(store.get_setting(KIT_SETTING) or "[]")
    except ValueError:
        log.warning("the device kit setting is unreadable: treated as empty")
        return []
    return [e for e in entries if isinstance(e, dict) and e.get("address") and e.get("kind")]


def kit_addresses(store: Any, kind: str) -> frozenset[str]:
    """The addresses of the kit's devices of this kind: the only ones a reading of this kind may use."""
    return frozenset(e["address"] for e in kit_entries(store) if e["kind"] == kind)


def kit_entry(device: FoundDevice, paired_at: str) -> dict[str, Any]:
    return {**{k: v for k, v in asdict(device).items() if k in ENTRY_FIELDS}, "paired_at": paired_at}


def write_kit(store: Any, entries: list[dict[str, Any]], detail: str) -> None:
    store.set_setting(KIT_SETTING, json.dumps(entries, ensure_ascii=False), detail)


def _label(entry: dict[str, Any] | FoundDevice) -> str:
    values = entry if isinstance(entry, dict) else asdict(entry)
    return f"{values['kind']} {values.get('serial') or values['address']}"


class DeviceKitStep:
    def __init__(self, ctx: WorkflowContext, setup: DeviceSetup | None) -> None:
        self.ctx = ctx
        self.setup = setup
        self.found: list[FoundDevice] = []   # the last search's devices, for pairing one of them

    def open_devices(self) -> None:
        """The kit's screen, from the administration screen only."""
        self.ctx.require_admin()
        if self.ctx.state.step != "admin":
            raise WorkflowError("session.finish_or_abandon_first")
        self.found = []
        self.ctx.changed(step="devices", notice=None)

    def close_devices(self) -> None:
        if self.ctx.state.step == "devices":
            self.ctx.changed(step="admin")

    def device_kit(self) -> list[dict[str, Any]]:
        self.ctx.require_admin()
        return kit_entries(self.ctx.store)

    async def scan_devices(self) -> list[dict[str, Any]]:
        """Search for a few seconds: every device heard, with its kind, name, model, serial, signal strength and
        whether it is already in the kit."""
        self.ctx.require_admin()
        if self.setup is None:
            raise WorkflowError("admin.no_bluetooth")
        try:
            found = await self.setup.discover()
        except DeviceError as exc:
            raise WorkflowError("admin.scan_failed", **{**exc.params, "reason": exc.code}) from exc
        self.ctx.require_admin()   # still the administrator's tablet after the search (no lock, no sign-out)
        self.found = found
        in_kit = {e["address"] for e in kit_entries(self.ctx.store)}
        return [{**asdict(d), "in_kit": d.address in in_kit} for d in found]

    async def pair_device(self, address: str) -> dict[str, Any]:
        """Pair the tablet with a device of the last search (bonding where the platform needs it) and add it to
        the kit."""
        self.ctx.require_admin()
        device = next((d for d in self.found if d.address == address), None)
        if device is None:
            raise WorkflowError("admin.search_first")
        if address in {e["address"] for e in kit_entries(self.ctx.store)}:
            raise WorkflowError("admin.device_in_kit")
        if self.setup is None:
            raise WorkflowError("admin.no_bluetooth")
        try:
            paired = await self.setup.pair(device)
        except DeviceError as exc:
            raise WorkflowError("admin.pairing_failed", **{**exc.params, "kind": device.kind,
                                                           "reason": exc.code}) from exc
        self.ctx.require_admin()
        entries = [e for e in kit_entries(self.ctx.store) if e["address"] != address]
        entry = kit_entry(paired, self.ctx.clock().isoformat())
        write_kit(self.ctx.store, [*entries, entry], f"paired {_label(entry)}")
        return entry

    def remove_from_kit(self, address: str) -> None:
        """Take a device out of the kit (lost, broken, given to another unit): it is no longer read."""
        self.ctx.require_admin()
        entries = kit_entries(self.ctx.store)
        gone = [e for e in entries if e["address"] == address]
        if not gone:
            raise WorkflowError("admin.device_not_in_kit")
        write_kit(self.ctx.store, [e for e in entries if e["address"] != address], f"removed {_label(gone[0])}")
