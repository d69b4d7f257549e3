"""The tablet's kit at the device layer: two simulated thermometers in range, the neighbour's heard first; a
reading uses only the kit's; only the neighbour in range refuses with device.not_in_kit; a discovery scan lists
every device with its model, serial and signal; pairing bonds through bleak's BleakClient.pair()."""
from __future__ import annotations

import asyncio

import pytest
from bleak.exc import BleakError

from devices import discovery
from devices.errors import DeviceError
from devices.registry import read_device
from devices.simulated import DeviceInformation, SimulatedThermometer, VirtualRadio
from devices.simulated.bleak_backend import bumble_backends, simulated_transport
from devices.simulated.oximeters import SimulatedUartLookalike
from devices.bleak_transport import BleakTransport
from devices.transport import PairingFailed

pytestmark = pytest.mark.timeout(30)

OURS, NEIGHBOURS = "C0:DE:00:00:01:01", "C0:DE:00:00:02:01"


def thermometer(radio, address, serial, name="Relais Thermo"):
    return SimulatedThermometer(radio, name=name, address=address,
                                info=DeviceInformation(model="SIM-THERMO-1", serial=serial))


async def test_the_kit_thermometer_is_read_though_the_neighbours_answers_first():
    radio = VirtualRadio()
    neighbour = thermometer(radio, NEIGHBOURS, "SIM-THERMO-0002", "Relais Thermo 2")
    await neighbour.start()
    reading = asyncio.ensure_future(read_device("thermometer", lambda: simulated_transport(radio), kit={OURS},
                                                scan_timeout=5))
    await asyncio.sleep(0.4)           # the neighbour's is the only one heard for a while
    ours = thermometer(radio, OURS, "SIM-THERMO-0001")
    await ours.start()
    result = await reading
    assert (result.device.address, result.device.serial) == (OURS, "SIM-THERMO-0001")
    assert neighbour.subscriptions == [] and neighbour.sent == []    # never connected to, never measured


async def test_only_the_neighbours_thermometer_in_range_is_refused_as_not_paired():
    radio = VirtualRadio()
    neighbour = thermometer(radio, NEIGHBOURS, "SIM-THERMO-0002")
    await neighbour.start()
    states = []
    with pytest.raises(DeviceError) as caught:
        await read_device("thermometer", lambda: simulated_transport(radio), kit={OURS}, scan_timeout=0.5,
                          on_state=states.append)
    assert caught.value.code == "device.not_in_kit" and caught.value.params == {"kind": "thermometer", "count": 1}
    assert str(caught.value) == "device not paired with this tablet" and NEIGHBOURS not in str(caught.value)
    assert states == ["scanning"] and neighbour.subscriptions == []


async def test_an_empty_kit_refuses_at_once_without_scanning():
    radio = VirtualRadio()
    await thermometer(radio, NEIGHBOURS, "SIM-THERMO-0002").start()
    built = []

    def factory():
        built.append(1)
        return simulated_transport(radio)

    with pytest.raises(DeviceError) as caught:
        await read_device("thermometer", factory, kit=frozenset(), scan_timeout=2)
    assert caught.value.code == "device.none_paired" and built == []


async def test_discovery_lists_every_device_with_model_serial_and_signal_and_never_a_printer():
    radio = VirtualRadio()
    neighbour = thermometer(radio, NEIGHBOURS, "SIM-THERMO-0002", "Relais Thermo 2")
    ours = thermometer(radio, OURS, "SIM-THERMO-0001")
    printer = SimulatedUartLookalike(radio, name="MPT-II")
    for device in (neighbour, ours, printer):
        await device.start()
    radio.rssi[NEIGHBOURS] = -86
    found = await discovery.discover(lambda: simulated_transport(radio), timeout=0.6)
    assert [(d.kind, d.address, d.name, d.model, d.serial, d.rssi) for d in found] == [
        ("thermometer", OURS, "Relais Thermo", "SIM-THERMO-1", "SIM-THERMO-0001", -50),       # strongest first
        ("thermometer", NEIGHBOURS, "Relais Thermo 2", "SIM-THERMO-1", "SIM-THERMO-0002", -86)]
    assert neighbour.subscriptions == [] and ours.subscriptions == []   # identified, never measured


def recording_backends(radio, outcome=None):
    """The Bumble backends, with a client whose pair() records its calls and can fail as a platform would."""
    scanner, client = bumble_backends(radio)
    calls: list[str] = []

    class RecordingClient(client):
        async def pair(self, *args, **kwargs):
            calls.append(self.address)
            if outcome is not None:
                raise outcome

    return scanner, RecordingClient, calls


async def test_pairing_bonds_through_bleak_and_reads_who_the_device_is():
    radio = VirtualRadio()
    await thermometer(radio, OURS, "SIM-THERMO-0001").start()
    scanner, client, calls = recording_backends(radio)
    device = discovery.FoundDevice("thermometer", OURS, "Relais Thermo", -50)
    paired = await discovery.pair(lambda: BleakTransport(scanner_backend=scanner, client_backend=client), device)
    assert calls == [OURS]
    assert (paired.model, paired.serial, paired.rssi) == ("SIM-THERMO-1", "SIM-THERMO-0001", -50)


async def test_the_simulated_backend_accepts_pairing():
    radio = VirtualRadio()
    await thermometer(radio, OURS, "SIM-THERMO-0001").start()
    transport = simulated_transport(radio)
    await transport.pair(OURS)
    assert radio.paired == [OURS]
    await transport.disconnect()


async def test_a_platform_that_pairs_by_itself_is_not_a_failure_and_a_refusal_is_a_code():
    radio = VirtualRadio()
    await thermometer(radio, OURS, "SIM-THERMO-0001").start()
    scanner, client, calls = recording_backends(radio, NotImplementedError("not available in Core Bluetooth"))
    transport = BleakTransport(scanner_backend=scanner, client_backend=client)
    await transport.pair(OURS)      # macOS/iOS: bonds on the first encrypted read
    await transport.disconnect()
    scanner, client, calls = recording_backends(radio, BleakError("Authentication failed"))
    transport = BleakTransport(scanner_backend=scanner, client_backend=client)
    with pytest.raises(PairingFailed) as caught:
        await transport.pair(OURS)
    assert caught.value.code == "device.pairing_failed" and calls == [OURS]
    await transport.disconnect()
