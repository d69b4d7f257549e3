"""Start Relais: `python -m mobile`.

Training and demos: `python -m mobile --demo --scenario NAME [--screenshots DIR]` plays a whole session by itself
(`--scenario list` lists them); without --demo, --scenario sets what the simulated devices do, for trying the app
by hand. A demo without --store runs on a fresh store of its own under $RELAIS_HOME/demo/, removed at the end.

Embedded defaults: simulated Bluetooth devices on an in-process virtual radio, the local store in
$RELAIS_HOME (default ~/.local/share/relais), and the development sync server on http://127.0.0.1:8765/fhir,
started here as its own process (http://127.0.0.1:8765/ leads to its doctors' sign-in).
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")  # our options are parsed here, not by Kivy

DEFAULT_PORT = 8765


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mobile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=None, help="store file (default: $RELAIS_HOME/relais.db)")
    parser.add_argument("--server", default=None, help="sync to this FHIR base URL instead of the local server")
    parser.add_argument("--token", default=None, help="bearer token for --server")
    parser.add_argument("--offline", action="store_true", help="no sync at all (sessions wait in the outbox)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of the local development server")
    parser.add_argument("--real-devices", action="store_true", help="use the Bluetooth adapter instead of simulators")
    parser.add_argument("--scenario", default="normal",
                        help="training scenario (list: show them); without --demo also a simulated thermometer "
                             "behaviour: error, disconnect, slow, ...")
    parser.add_argument("--demo", action="store_true", help="play the scenario's whole session by itself")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="with --demo: save DIR/NN-<screen>.png for every screen shown, then exit")
    parser.add_argument("--language", choices=("fr", "en"), default=None, help="language shown first (default fr)")
    parser.add_argument("--portrait", action="store_true", help="a tablet held upright (window 800x1280)")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from sync.errors import RelaisError

    try:
        return _start(parser, args)
    except RelaisError as exc:  # a damaged or emptied store, a missing key, a full disk: one clear line, no traceback
        from mobile.messages import error_text

        print(f"Relais: {error_text(exc, args.language or 'fr')}", file=sys.stderr, flush=True)
        return 2


def _start(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from mobile.training import choose

    if args.scenario == "list":
        print(choose.listing(args.language or "fr"))
        return 0
    try:
        scenario = choose.scenario(args.scenario) if args.demo else None
        devices = choose.device_settings(args.scenario)
    except choose.UnknownScenario as exc:
        parser.error(str(exc))
    if args.portrait:  # before Kivy is imported: the window is created at this size
        os.environ["KCFG_GRAPHICS_WIDTH"], os.environ["KCFG_GRAPHICS_HEIGHT"] = "800", "1280"
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from sync.paths import default_store_path

    demo_home = _demo_home() if args.demo and args.store is None else None
    store_path = args.store or (demo_home / "relais.db" if demo_home else default_store_path())
    store_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    from sync import server_config

    # --server, else what `python -m sync configure` saved on this tablet, else the local development server
    target = None if args.offline else server_config.effective(
        None if args.server else _saved_server(store_path), url=args.server, token=args.token)
    server_url, local, token = (target.url if target else None), None, (target.token if target else None)
    if target is not None and not args.server:
        print(f"Relais: sync server {server_url} (configured)", flush=True)
    elif not args.offline and server_url is None:
        from sync.server.process import app_server, local_token, server_alive

        wanted = f"http://127.0.0.1:{args.port}/fhir"
        keys = demo_home / "keys" if demo_home else None  # a demo's server key goes with the demo
        token = local_token(keys)  # the local server answers only it (and signed-in doctors)
        if server_alive(wanted) and not demo_home:
            server_url = wanted  # another Relais already started it: share it
        else:
            # doctors' accounts for its sign-in: `python -m sync doctors add --file $RELAIS_HOME/doctors.json …`
            doctors = store_path.parent / "doctors.json"
            local = app_server(store_path.parent / "devserver.db", port=0 if demo_home else args.port,
                               doctors=doctors, keys=keys)
            try:
                server_url = local.start()
            except RuntimeError:  # port taken by something else: any free port will do
                local = app_server(store_path.parent / "devserver.db", port=0, doctors=doctors, keys=keys)
                server_url = local.start()
        print(f"Relais: sync server {server_url} (doctors' sign-in: {server_url.removesuffix('/fhir')}/)", flush=True)

    from mobile.app import TABLET_PORTRAIT, run_app
    from mobile.runtime import RuntimeConfig

    config = RuntimeConfig(store_path=store_path, server_url=None if args.offline else server_url,
                           token=token, ca_bundle=target.ca_bundle if target else None,
                           max_entries=target.max_entries if target else None,
                           simulated_devices=not args.real_devices, **devices,
                           sync_interval_seconds=2.0 if args.demo else 30.0, demo=args.demo)
    try:
        run_app(config, screenshots_dir=args.screenshots, scenario=scenario, language=args.language,
                window_size=TABLET_PORTRAIT if args.portrait else None)
    except RuntimeError as exc:
        print(f"Relais: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if local is not None:
            local.stop()
        if demo_home is not None:
            shutil.rmtree(demo_home, ignore_errors=True)
    return 0


def _demo_home() -> Path:
    """A fresh directory for one demo's store (and its local server): never the staff's real store."""
    from sync.paths import relais_home

    parent = relais_home() / "demo"
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Path(tempfile.mkdtemp(prefix="run-", dir=parent))


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
