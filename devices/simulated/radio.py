"""The virtual air shared by simulated peripherals and the tablet's central (a Bumble LocalLink)."""
from __future__ import annotations

import asyncio

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

TABLET_ADDRESS = "C0:7A:B1:E7:00:01"


class VirtualRadio:
    """Every simulated peripheral and the tablet's central attach a controller to this link."""

    def __init__(self) -> None:
        self.link = LocalLink()
        self._next = 0x10
        self._central: Device | None = None
        self.connect_lock = asyncio.Lock()  # bumble, like real stacks, allows one pending LE connection at a time
        self.rssi: dict[str, int] = {}      # signal strength the tablet hears per address (Bumble's own: -50 dBm)
        self.paired: list[str] = []         # addresses the tablet bonded with, in order

    async def central(self) -> Device:
        """The tablet's own controller on this air, created and powered on once, shared by scanner and clients."""
        if self._central is None:
            device = self.new_device("Relais tablet", TABLET_ADDRESS)
            await device.power_on()
            self._central = device
        return self._central

    def new_device(self, name: str, address: str | None = None) -> Device:
        if address is None:
            # Random static address: the two most significant bits set (Core spec Vol 6 Part B §1.3.2.1).
            address = f"C0:DE:00:00:00:{self._next:02X}"
            self._next += 1
        controller = Controller(name, link=self.link, public_address=address)
        return Device(name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller)))


DEFAULT_HCI_PORT = 7700


async def serve_tablet_hci(radio: VirtualRadio, host: str = "127.0.0.1",
                           port: int = DEFAULT_HCI_PORT) -> asyncio.base_events.Server:
    """Serve a tablet controller on this virtual air over HCI/TCP, so another process (`python -m devices read …
    --simulated`) uses it as its Bluetooth adapter. Each client gets a fresh controller, removed from the air
    when it disconnects, so reads can follow one another."""
    from bumble.controller import Controller as _Controller
    from bumble.transport.common import StreamPacketSink, StreamPacketSource

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = StreamPacketSource()
        controller = _Controller("Relais tablet (remote)", host_source=source,
                                 host_sink=StreamPacketSink(writer.transport), link=radio.link,
                                 public_address=TABLET_ADDRESS)
        try:
            while data := await reader.read(4096):
                source.data_received(data)
        except ConnectionError:
            pass
        finally:
            radio.link.remove_controller(controller)
            writer.close()

    return await asyncio.start_server(on_client, host, port)


class RemoteRadio:
    """The tablet side of a virtual air hosted by `python -m devices simulate`, reached over HCI on TCP.

    Offers the same two things the bleak Bumble backend needs from a VirtualRadio: `central()` and
    `connect_lock`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_HCI_PORT) -> None:
        self.spec = f"tcp-client:{host}:{port}"
        self.connect_lock = asyncio.Lock()
        self._central: Device | None = None
        self._transport = None

    async def central(self) -> Device:
        if self._central is None:
            from bumble.transport import open_transport

            self._transport = await open_transport(self.spec)
            device = Device.with_hci("Relais tablet", Address(TABLET_ADDRESS), self._transport.source,
                                     self._transport.sink)
            await device.power_on()
            self._central = device
        return self._central

    async def close(self) -> None:
        self._central = None  # closing the HCI link is enough: the next host resets the controller
        if self._transport is not None:
            await self._transport.close()
            self._transport = None
