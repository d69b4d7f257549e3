"""Command line for developers: `python -m devices decode|read`.

decode CHARACTERISTIC HEX
    Parse bytes of a characteristic (16-bit UUID such as 2A1C) and print one JSON object:
    {"observations": [{"code", "value", "unit", ...}], "timestamp", "invalid": [{"field", "reason"}], "status", ...}.
    Exit 0 when well formed; exit 2 with a one-line reason on stderr when malformed.
read KIND [--simulated] [--scenario NAME] [--address ADDR]
    Take one reading through bleak: from real hardware on a machine with a Bluetooth adapter, or with
    --simulated from the devices of a running `simulate` (else a simulator started in this process).
    Prints the same JSON plus the device identity.
simulate [--kind KIND] [--scenario NAME] [--speed X] [--list]
    Run simulated devices (real GATT servers on Bumble virtual controllers) until interrupted.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys

from devices.parsers import PARSERS, ParseError, parse

DEFAULT_HCI_PORT = 7700  # where `simulate` serves its virtual air to `read --simulated` (loopback only)


def _decode(args: argparse.Namespace) -> int:
    try:
        data = bytes.fromhex(args.hex.replace(" ", "").replace(":", ""))
    except ValueError:
        print(f"error: not hexadecimal bytes: {args.hex!r}", file=sys.stderr)
        return 2
    try:
        result = parse(args.characteristic, data)
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        print(f"error: unknown characteristic {args.characteristic!r} (known: {known})", file=sys.stderr)
        return 2
    except ParseError as exc:
        print(f"error: malformed {args.characteristic.upper()} value: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_json(), ensure_ascii=False))
    return 0


async def _hci_server_up(port: int) -> bool:
    """Is `python -m devices simulate` serving its virtual air on this port?"""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.5)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def _read(args: argparse.Namespace) -> int:
    from devices.registry import read_device, simulators
    from devices.transport import Transport, TransportError

    local = []
    radio = None
    if args.simulated:
        from devices.simulated import VirtualRadio
        from devices.simulated.bleak_backend import simulated_transport
        from devices.simulated.radio import RemoteRadio

        if not args.in_process and await _hci_server_up(args.hci_port):
            radio = RemoteRadio(port=args.hci_port)
            print(f"… using the simulated devices served on port {args.hci_port}", file=sys.stderr)
        else:
            radio = VirtualRadio()
            simulator, scenarios = simulators()[args.kind]
            local.append(simulator(radio, scenario=scenarios[args.scenario], speed=args.speed))
            await local[0].start()

        def transport_factory() -> Transport:
            return simulated_transport(radio)
    else:
        from devices.bleak_transport import BleakTransport

        transport_factory = BleakTransport
    try:
        reading = await read_device(
            args.kind, transport_factory, address=args.address, scan_timeout=args.timeout,
            on_state=lambda s: print(f"… {s}", file=sys.stderr),
            on_live=lambda m: print(f"… live {m.to_json()['observations']}", file=sys.stderr))
    except TransportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for sim in local:
            await sim.stop()
        if radio is not None and hasattr(radio, "close"):
            await radio.close()
    out = reading.measurement.to_json()
    out.update(kind=reading.kind, device=reading.device.as_dict(), battery_percent=reading.battery_percent,
               raw=reading.raw.hex(), received_at=reading.received_at.isoformat())
    print(json.dumps(out, ensure_ascii=False))
    return 0


async def _simulate(args: argparse.Namespace) -> int:
    """Run simulated devices on a virtual air until interrupted, serving it to other processes over HCI/TCP."""
    from devices.registry import simulators
    from devices.simulated import VirtualRadio
    from devices.simulated.radio import serve_tablet_hci

    radio = VirtualRadio()
    running = []
    for kind, (simulator, scenarios) in simulators().items():
        if args.kind != "all" and kind != args.kind and not kind.startswith(args.kind + "_"):
            continue
        scenario = args.scenario if args.scenario in scenarios else "normal"
        device = simulator(radio, scenario=scenarios[scenario], speed=args.speed)
        await device.start()
        running.append((kind, device, scenario))
    if not running:
        print(f"error: no simulator for {args.kind!r}", file=sys.stderr)
        return 2
    server = await serve_tablet_hci(radio, port=args.hci_port)
    for kind, device, scenario in running:
        print(f"simulating {kind:<15} {device.name!r:<22} {device.address}  scenario={scenario}", flush=True)
    print(f"virtual air served on 127.0.0.1:{args.hci_port}; read with: python -m devices read KIND --simulated",
          flush=True)
    try:
        if args.duration:
            await asyncio.sleep(args.duration)
        else:
            await asyncio.Event().wait()
    finally:
        server.close()
        for _kind, device, _scenario in running:
            await device.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devices", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser("decode", help="decode characteristic bytes to JSON")
    dec.add_argument("characteristic", help="16-bit UUID, e.g. 2A1C")
    dec.add_argument("hex", help="the value's bytes in hexadecimal, e.g. 06B00E00FEDC070C050B321B04")
    from devices.registry import DRIVERS

    rd = sub.add_parser("read", help="read one measurement from a device")
    rd.add_argument("kind", choices=sorted(DRIVERS))
    rd.add_argument("--simulated", action="store_true",
                    help="read simulated devices: those of a running `simulate`, else one started in this process")
    rd.add_argument("--in-process", action="store_true", help="with --simulated: ignore a running `simulate`")
    rd.add_argument("--scenario", default="normal", help="in-process simulated scenario (see `simulate --list`)")
    rd.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    rd.add_argument("--address", default=None, help="only this device address")
    rd.add_argument("--timeout", type=float, default=15.0, help="scan timeout in seconds")
    rd.add_argument("--hci-port", type=int, default=DEFAULT_HCI_PORT, help=argparse.SUPPRESS)
    sim = sub.add_parser("simulate", help="run simulated devices until interrupted")
    sim.add_argument("--kind", default="all", choices=["all", *sorted(DRIVERS)])
    sim.add_argument("--scenario", default="normal", help="applied to every kind that has it, others stay normal")
    sim.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    sim.add_argument("--list", action="store_true", help="list the scenarios of each kind and exit")
    sim.add_argument("--duration", type=float, default=None, help=argparse.SUPPRESS)
    sim.add_argument("--hci-port", type=int, default=DEFAULT_HCI_PORT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "decode":
        return _decode(args)
    if args.command == "simulate" and args.list:
        from devices.registry import simulators

        for kind, (_cls, scenarios) in simulators().items():
            print(f"{kind}: {', '.join(scenarios)}")
        return 0
    return asyncio.run(_read(args) if args.command == "read" else _simulate(args))


if __name__ == "__main__":
    sys.exit(main())
