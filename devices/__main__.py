"""Command line for developers: `python -m devices decode|read`.

decode CHARACTERISTIC HEX
    Parse bytes of a characteristic (16-bit UUID such as 2A1C) and print one JSON object:
    {"observations": [{"code", "value", "unit", ...}], "timestamp", "invalid": [{"field", "reason"}], "status", ...}.
    Exit 0 when well formed; exit 2 with a one-line reason on stderr when malformed.
read thermometer [--simulated] [--scenario NAME] [--address ADDR]
    Take one reading through bleak: from a simulated device on an in-process virtual radio, or from real
    hardware on a machine with a Bluetooth adapter. Prints the same JSON plus the device identity.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys

from devices.parsers import PARSERS, ParseError, parse


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


async def _read_thermometer(args: argparse.Namespace) -> int:
    from devices.bleak_transport import BleakTransport
    from devices.drivers import ThermometerDriver
    from devices.transport import TransportError

    simulators = []
    if args.simulated:
        from devices.simulated import SimulatedThermometer, VirtualRadio

        radio = VirtualRadio()
        simulators.append(SimulatedThermometer(radio, scenario=args.scenario))
        await simulators[0].start()
        transport = BleakTransport.simulated(radio)
    else:
        transport = BleakTransport()
    driver = ThermometerDriver(transport, on_state=lambda s: print(f"… {s}", file=sys.stderr),
                               on_live=lambda m: print(f"… live {m.to_json()['observations']}", file=sys.stderr))
    try:
        reading = await driver.read(address=args.address, scan_timeout=args.timeout)
    except TransportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for sim in simulators:
            await sim.stop()
    out = reading.measurement.to_json()
    out.update(device=reading.device.as_dict(), battery_percent=reading.battery_percent, raw=reading.raw.hex(),
               received_at=reading.received_at.isoformat())
    print(json.dumps(out, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devices", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser("decode", help="decode characteristic bytes to JSON")
    dec.add_argument("characteristic", help="16-bit UUID, e.g. 2A1C")
    dec.add_argument("hex", help="the value's bytes in hexadecimal, e.g. 06B00E00FEDC070C050B321B04")
    rd = sub.add_parser("read", help="read one measurement from a device")
    rd.add_argument("kind", choices=["thermometer"])
    rd.add_argument("--simulated", action="store_true", help="use a simulated device on a virtual radio")
    rd.add_argument("--scenario", default="normal", help="simulated scenario: normal, fever, error, disconnect")
    rd.add_argument("--address", default=None, help="only this device address")
    rd.add_argument("--timeout", type=float, default=15.0, help="scan timeout in seconds")
    args = parser.parse_args(argv)
    if args.command == "decode":
        return _decode(args)
    return asyncio.run(_read_thermometer(args))


if __name__ == "__main__":
    sys.exit(main())
