"""Start Relais: `python -m mobile`.

Embedded defaults: simulated Bluetooth devices on an in-process virtual radio, the local store in
$RELAIS_HOME (default ~/.local/share/relais), and the development sync server on http://127.0.0.1:8765/fhir,
started here as its own process (its doctor's page is at http://127.0.0.1:8765/).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")  # our options are parsed here, not by Kivy

DEFAULT_PORT = 8765


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mobile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=None, help="store file (default: $RELAIS_HOME/relais.db)")
    parser.add_argument("--server", default=None, help="sync to this FHIR base URL instead of the local server")
    parser.add_argument("--token", default=None, help="bearer token for --server")
    parser.add_argument("--offline", action="store_true", help="no sync at all (sessions wait in the outbox)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of the local development server")
    parser.add_argument("--real-devices", action="store_true", help="use the Bluetooth adapter instead of simulators")
    parser.add_argument("--scenario", default="normal", help="simulated thermometer: normal, fever, error, disconnect")
    parser.add_argument("--demo", action="store_true", help="play one full session by itself, then exit")
    parser.add_argument("--screenshots", type=Path, default=None, help="with --demo: save a PNG per screen here")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from sync.server.process import LocalServer, server_alive
    from sync.paths import default_store_path

    store_path = args.store or default_store_path()
    store_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    from sync import server_config

    # --server, else what `python -m sync configure` saved on this tablet, else the local development server
    target = None if args.offline else server_config.effective(
        None if args.server else _saved_server(store_path), url=args.server, token=args.token)
    server_url, local = (target.url if target else None), None
    if target is not None and not args.server:
        print(f"Relais: sync server {server_url} (configured)", flush=True)
    elif not args.offline and server_url is None:
        wanted = f"http://127.0.0.1:{args.port}/fhir"
        if server_alive(wanted):
            server_url = wanted  # another Relais already started it: share it
        else:
            local = LocalServer(store_path.parent / "devserver.db", port=args.port)
            try:
                server_url = local.start()
            except RuntimeError:  # port taken by something else: any free port will do
                local = LocalServer(store_path.parent / "devserver.db", port=0)
                server_url = local.start()
        print(f"Relais: sync server {server_url} (doctor's page: {server_url.removesuffix('/fhir')}/)", flush=True)

    from mobile.app import run_app
    from mobile.runtime import RuntimeConfig

    config = RuntimeConfig(store_path=store_path, server_url=None if args.offline else server_url,
                           token=target.token if target else None, ca_bundle=target.ca_bundle if target else None,
                           max_entries=target.max_entries if target else None,
                           simulated_devices=not args.real_devices, thermometer_scenario=args.scenario,
                           sync_interval_seconds=2.0 if args.demo else 30.0, demo=args.demo)
    try:
        run_app(config, screenshots_dir=args.screenshots, demo=args.demo)
    finally:
        if local is not None:
            local.stop()
    return 0


def _saved_server(store_path: Path):
    """The server this tablet was configured for, read from its encrypted store (None: not configured)."""
    from sync import server_config
    from sync.store import open_app_store

    if not store_path.exists():
        return None
    with open_app_store(store_path, recover_in_flight=False) as store:
        return server_config.load(store)


if __name__ == "__main__":
    sys.exit(main())
