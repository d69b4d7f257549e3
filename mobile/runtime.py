"""Everything the app runs besides its screens, wired from a configuration (no Kivy here).

Embedded defaults: the store at `sync.paths.default_store_path()`, simulated devices on an in-process virtual
radio, and the development sync server on 127.0.0.1 started as its own process. Tests build a runtime with a
temporary store and no server.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from devices.limits import DEFAULT_LIMITS, WaitLimits
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
    # Simulation only (training scenarios): the kinds of a neighbour's devices, not in this tablet's kit, also
    # in range and heard first (e.g. ("thermometer",)); and the kinds of the kit's own devices left switched off.
    # With the neighbour's thermometer on and the kit's off, a reading is refused: device not paired.
    foreign_devices: tuple[str, ...] = ()
    devices_off: tuple[str, ...] = ()
    wait_limits: WaitLimits = DEFAULT_LIMITS  # how long each phase of a reading waits (tests: shorter)


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
        from sync.delivery.renderer import ChildProcessRenderer

        if ChildProcessRenderer.available():  # the report's libraries stay out of the app (sync.delivery.renderer)
            self.store.report_renderer = ChildProcessRenderer()
        from sync import retention

        retention.purge(self.store)  # also offline: abandoned sessions and old audit rows do not wait for a network
        from sync.delivery import printing

        # a PDF copy handed to a patient earlier is patient data outside the encrypted store: gone at every start
        printing.clear_print_folder(Path(config.store_path).parent / printing.PRINT_FOLDER)
        self.radio = None
        self.simulated: list = []
        self.sync_loop = None
        self.conclusions_watch = None
        self.device_claims = DeviceClaims()  # one device, one open session, across the tablet
        if config.simulated_devices:
            from mobile.simulation import seed_kit

            seed_kit(self.store, dt.datetime.now(dt.timezone.utc).isoformat())
        self.workflow = SessionWorkflow(
            self.store, readers={kind: self._reader(kind) for kind in ("thermometer", "oximeter", "blood_pressure")},
            on_saved=lambda _sid: self.trigger_sync(), device_claims=self.device_claims,
            device_setup=RuntimeDeviceSetup(self._transport), limits=config.wait_limits)

    async def start(self) -> None:
        if self.config.simulated_devices:
            # Bumble takes most of a second to import: in a worker thread, so the first screen is drawn and
            # answers touches meanwhile (a reading waits for this start; nothing else does)
            await asyncio.to_thread(_import_simulators)
            from devices.simulated import VirtualRadio
            from mobile.simulation import start_devices

            self.radio = VirtualRadio()
            config = self.config
            self.simulated.extend(await start_devices(
                self.radio, scenarios={"thermometer": config.thermometer_scenario, "oximeter": config.oximeter_scenario,
                                       "blood_pressure": config.blood_pressure_scenario},
                foreign=config.foreign_devices, switched_off=config.devices_off))
        if self.config.server_url:
            from sync.background import SyncLoop

            self.sync_loop = SyncLoop(self.config.store_path, self.config.server_url, token=self.config.token,
                                      ca_bundle=self.config.ca_bundle, max_entries=self.config.max_entries,
                                      interval_seconds=self.config.sync_interval_seconds, key=self._store_key,
                                      on_answers=self.workflow.conclusions_arrived)
            self.sync_loop.start()
            from sync.conclusions_watch import ConclusionsWatch
            from sync.pull import SearchClient

            # the doctor's answer within seconds while staff wait for it (a call, an advice request on screen)
            self.conclusions_watch = ConclusionsWatch(
                self.config.store_path, SearchClient(self.config.server_url, token=self.config.token,
                                                     ca_bundle=self.config.ca_bundle),
                wanted=self.workflow.waiting_for_answer, online=lambda: self.online is not False,
                on_received=self.workflow.conclusions_arrived, key=self._store_key)
            self.conclusions_watch.start()

    async def stop(self) -> None:
        if self.conclusions_watch is not None:
            await self.conclusions_watch.stop()
        if self.sync_loop is not None:
            await self.sync_loop.stop()
        for device in self.simulated:
            try:
                await device.stop()
            except Exception:  # noqa: BLE001 - shutting down a simulator must not block app exit
                log.debug("simulated device stop failed", exc_info=True)
        if self.store.report_renderer is not None:
            self.store.report_renderer.close()
        self.store.close()

    def trigger_sync(self) -> None:
        if self.sync_loop is not None:
            self.sync_loop.trigger()

    def sync_counts(self) -> dict[str, int]:
        return self.store.sync_counts()

    def refused_reports(self) -> list[dict]:
        from sync.delivery import mail_outbox

        return mail_outbox.refused_reports(self.store)

    def last_sync(self):
        """When the server last confirmed a session (aware datetime), or None."""
        from sync import outbox

        return outbox.last_sent_at(self.store)

    def rejected_sessions(self) -> list[dict]:
        from sync import outbox

        return outbox.rejected_sessions(self.store)

    @property
    def store_damaged(self) -> bool:
        """True once the sync loop's scheduled full check found the store damaged (it stopped syncing)."""
        return self.sync_loop is not None and getattr(self.sync_loop, "integrity_error", None) is not None

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
        drivers (vendor protocols first, the standard profile as fallback), from the tablet's kit only."""
        from devices.registry import read_device
        from mobile.workflow.kit import kit_addresses

        async def read(on_state: Callable[[str], None], on_live: Callable[[ParsedMeasurement], None]) -> DeviceReading:
            return await read_device(kind, self._transport, kit=kit_addresses(self.store, kind), on_state=on_state,
                                     on_live=on_live, limits=self.config.wait_limits)

        return read


class RuntimeDeviceSetup:
    """Searching for and pairing devices for the kit (mobile.workflow.kit.DeviceSetup), over the runtime's
    transport: the simulated air or the platform's Bluetooth."""

    def __init__(self, transport_factory: Callable[[], object]) -> None:
        self._transport = transport_factory

    async def discover(self):
        from devices import discovery

        return await discovery.discover(self._transport)

    async def pair(self, device):
        from devices import discovery

        return await discovery.pair(self._transport, device)


def _import_simulators() -> None:
    """The simulated devices' modules (and Bumble behind them); Python's imports are thread-safe."""
    importlib.import_module("devices.simulated")
    importlib.import_module("mobile.simulation")


def set_scenario(runtime: AppRuntime, scenario: str) -> None:
    """Developer hook: switch what the simulated thermometer does next (normal, fever, error, disconnect)."""
    from devices.simulated import THERMOMETER_SCENARIOS, SimulatedThermometer

    for device in runtime.simulated:
        if isinstance(device, SimulatedThermometer):
            device.scenario = THERMOMETER_SCENARIOS[scenario]
