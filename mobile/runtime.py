"""Everything the app runs besides its screens, wired from a configuration (no Kivy here).

Embedded defaults: the store at `sync.paths.default_store_path()`, simulated devices on an in-process virtual
radio, and the development sync server on 127.0.0.1 started as its own process. Tests build a runtime with a
temporary store and no server.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from devices.parsers.common import ParsedMeasurement
from devices.reading import DeviceReading
from mobile.workflow import DeviceClaims, SessionWorkflow

log = logging.getLogger(__name__)


@dataclass
class RuntimeConfig:
    store_path: Path
    server_url: str | None = None          # None: stay offline (sessions wait in the outbox)
    token: str | None = None
    ca_bundle: str | None = None            # CA of a private PKI; TLS verification itself is never optional
    max_entries: int | None = None          # the server's transaction size limit (Medplum: 8)
    simulated_devices: bool = True
    thermometer_scenario: str = "normal"    # what each simulated device does (devices.simulated *_SCENARIOS)
    oximeter_scenario: str = "normal"
    blood_pressure_scenario: str = "normal"
    sync_interval_seconds: float = 30.0
    key_path: Path | None = None            # the store's key file (None: sync.keys.default_key_path())
    demo: bool = False                      # training/demo: INS written under the DEMO authority OID …4.11


class AppRuntime:
    def __init__(self, config: RuntimeConfig) -> None:
        from sync import keys
        from sync.store import open_app_store

        self.config = config
        # encrypted at rest (SQLCipher) with the install key, created at first run and kept apart from the data
        from sync import fhir

        self.store = open_app_store(config.store_path, key_path=config.key_path,
                                    ins_system=fhir.INS_DEMO_SYSTEM if config.demo else None)
        self._store_key = keys.read_key(config.key_path or keys.default_key_path())
        from sync import retention

        retention.purge(self.store)  # also offline: abandoned sessions and old audit rows do not wait for a network
        self.radio = None
        self.simulated: list = []
        self.sync_loop = None
        self.device_claims = DeviceClaims()  # one device, one open session, across the tablet
        self.workflow = SessionWorkflow(
            self.store, readers={kind: self._reader(kind) for kind in ("thermometer", "oximeter", "blood_pressure")},
            on_saved=lambda _sid: self.trigger_sync(), device_claims=self.device_claims)

    async def start(self) -> None:
        if self.config.simulated_devices:
            from devices.simulated import (SimulatedBloodPressureMonitor, SimulatedPlxOximeter, SimulatedThermometer,
                                           VirtualRadio)

            self.radio = VirtualRadio()
            # Demo speed: a real cuff takes ~40 s; staff trying the app should not wait that long.
            for device in (SimulatedThermometer(self.radio, scenario=self.config.thermometer_scenario),
                           SimulatedPlxOximeter(self.radio, scenario=self.config.oximeter_scenario, speed=5.0),
                           SimulatedBloodPressureMonitor(self.radio, scenario=self.config.blood_pressure_scenario,
                                                         speed=5.0)):
                await device.start()
                self.simulated.append(device)
        if self.config.server_url:
            from sync.background import SyncLoop

            self.sync_loop = SyncLoop(self.config.store_path, self.config.server_url, token=self.config.token,
                                      ca_bundle=self.config.ca_bundle, max_entries=self.config.max_entries,
                                      interval_seconds=self.config.sync_interval_seconds, key=self._store_key)
            self.sync_loop.start()

    async def stop(self) -> None:
        if self.sync_loop is not None:
            await self.sync_loop.stop()
        for device in self.simulated:
            try:
                await device.stop()
            except Exception:  # noqa: BLE001 - shutting down a simulator must not block app exit
                log.debug("simulated device stop failed", exc_info=True)
        self.store.close()

    def trigger_sync(self) -> None:
        if self.sync_loop is not None:
            self.sync_loop.trigger()

    def sync_counts(self) -> dict[str, int]:
        return self.store.outbox_counts()

    def last_sync(self):
        """When the server last confirmed a session (aware datetime), or None."""
        from sync import outbox

        return outbox.last_sent_at(self.store)

    def rejected_sessions(self) -> list[dict]:
        from sync import outbox

        return outbox.rejected_sessions(self.store)

    @property
    def online(self) -> bool | None:
        """False when the last sync pass could not reach the server; None without a server."""
        loop = self.sync_loop
        if loop is None:
            return None
        result = getattr(loop, "last_result", None)
        return not (result is not None and result.stopped in ("transient", "backoff"))

    def _transport(self):
        if self.radio is not None:
            from devices.simulated.bleak_backend import simulated_transport

            return simulated_transport(self.radio)
        from devices.bleak_transport import BleakTransport

        return BleakTransport()

    def _reader(self, kind: str):
        """A coroutine function (on_state, on_live) -> DeviceReading for one device kind, through the registry's
        drivers (vendor protocols first, the standard profile as fallback)."""
        from devices.registry import read_device

        async def read(on_state: Callable[[str], None], on_live: Callable[[ParsedMeasurement], None]) -> DeviceReading:
            return await read_device(kind, self._transport, on_state=on_state, on_live=on_live)

        return read


def set_scenario(runtime: AppRuntime, scenario: str) -> None:
    """Developer hook: switch what the simulated thermometer does next (normal, fever, error, disconnect)."""
    from devices.simulated import THERMOMETER_SCENARIOS, SimulatedThermometer

    for device in runtime.simulated:
        if isinstance(device, SimulatedThermometer):
            device.scenario = THERMOMETER_SCENARIOS[scenario]
