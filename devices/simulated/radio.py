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
