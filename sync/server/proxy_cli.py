"""`python -m sync proxy`: the fault-injecting HTTP proxy (sync.server.faultproxy) on the command line, for tests and
demos: it relays to a server on this machine, adding latency and faults, and prints its counts when stopped."""
from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any


def add_command(commands: Any) -> None:
    """Register `proxy` on the `python -m sync` sub-command parser."""
    proxy = commands.add_parser("proxy", help="fault-injecting HTTP proxy on 127.0.0.1 (for tests and demos)")
    proxy.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1 (0 picks one, printed)")
    proxy.add_argument("--target", required=True, help="HOST:PORT of the server (loopback only)")
    proxy.add_argument("--fault-rate", type=float, default=0.3)
    proxy.add_argument("--latency-ms", type=float, default=0.0)
    proxy.add_argument("--seed", type=int, default=None)
    proxy.add_argument("--kinds", help="comma-separated fault kinds (default: all)")
    proxy.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 503/429 faults")
    proxy.set_defaults(run=run_proxy)


def run_proxy(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM, then print the counts of what passed and what was injected, as JSON."""
    import asyncio

    from sync.server.faultproxy import FAULT_KINDS, run_cli

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds else None
    if kinds and set(kinds) - set(FAULT_KINDS):
        print(f"unknown kinds {sorted(set(kinds) - set(FAULT_KINDS))}; known: {', '.join(FAULT_KINDS)}",
              file=sys.stderr)
        return 2

    async def run() -> dict[str, object]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        proxy = await run_cli(args.listen, args.target, fault_rate=args.fault_rate, latency_ms=args.latency_ms,
                              seed=args.seed, kinds=kinds, retry_after=args.retry_after, stop=stop)
        return proxy.stats()

    try:
        stats = asyncio.run(run())
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(stats, sort_keys=True), flush=True)
    return 0
