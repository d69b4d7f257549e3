"""`python -m sync serve` and `python -m sync tablets`: the development server and its tablet registry on the
command line (with `doctors` and `proxy`, registered from their own modules)."""
from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
from pathlib import Path
from typing import Any


def add_commands(commands: Any) -> None:
    """The development server's side: the server itself, its tablet registry, the fault-injecting proxy."""
    serve = commands.add_parser("serve", help="run the development FHIR server")
    serve.add_argument("--port", type=int, required=True, help="0 picks a free port (printed on start)")
    serve.add_argument("--db", required=True, help="the server's own SQLite file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--token", default=os.environ.get("RELAIS_SERVER_TOKEN"),
                       help="require 'Authorization: Bearer TOKEN' (default: $RELAIS_SERVER_TOKEN)")
    serve.add_argument("--tablets", help="per-tablet tokens bound to their sites (see `tablets add`)")
    serve.add_argument("--doctors", help="the doctors' accounts file (`doctors add`); `/` leads to their sign-in")
    serve.add_argument("--doctors-port", type=int, default=0, help="the doctors' application port (0: a free one)")
    serve.add_argument("--doctors-view-log", help="where patient views are logged (default: beside --db)")
    serve.add_argument("--key-file", help="keep --db encrypted (SQLCipher) under the key in this owner-only file, "
                                          "created with the database")
    serve.set_defaults(run=_serve)
    from sync.server.doctors.cli import add_commands as add_doctors_commands

    add_doctors_commands(commands)  # `doctors add` (accounts) and `doctors serve` (the application alone)

    tablets_cmd = commands.add_parser("tablets", help="register or remove a tablet allowed to upload")
    tablets_cmd.add_argument("action", choices=("add", "remove"))
    tablets_cmd.add_argument("--file", required=True, help="the server's tablet registry (JSON)")
    tablets_cmd.add_argument("--id", required=True, help="a name for the tablet, e.g. ehpad-tilleuls-1")
    tablets_cmd.add_argument("--site", action="append", default=[],
                             help="FINESS or local site id the tablet works for (repeat for several)")
    tablets_cmd.set_defaults(run=_tablets)

    from sync.server.proxy_cli import add_command

    add_command(commands)  # `proxy`: the fault-injecting proxy for tests and demos


# The cycle collector runs once this many more container objects are alive than at its last run. A transaction of
# twenty sessions parses into some 30,000 dicts and lists that live until its reply is written, then are freed by
# reference counting (parsed JSON holds no cycles). At the interpreter's default (700) the collector ran dozens of
# times inside each such request, each time walking the body parsed so far and older objects too: about a third of
# the body's parsing time, measured. At this threshold it ran five times in fifty such requests.
COLLECTOR_THRESHOLD = 50_000


def _collect_less_often() -> None:
    gc.set_threshold(COLLECTOR_THRESHOLD, *gc.get_threshold()[1:])


def _server_key(args: argparse.Namespace) -> bytes | None:
    """The server file's key (`--key-file`, created with the file), None for a plain file; KeyFileError."""
    if not args.key_file:
        return None
    from sync.keys import load_or_create_key
    from sync.server.at_rest import is_plain

    db = Path(args.db)
    return load_or_create_key(Path(args.key_file), database_exists=db.exists() and not is_plain(db))


def _serve(args: argparse.Namespace) -> int:
    from sync.keys import KeyFileError
    from sync.server.at_rest import OWNER_ONLY_UMASK, AtRestError
    from sync.server.handler import base_url, make_server
    from sync.server.tablets import RegistryError, TabletRegistry

    os.umask(OWNER_ONLY_UMASK)  # the database, its WAL, the doctors' view log: owner-only
    try:
        key = _server_key(args)
    except KeyFileError as exc:
        print(f"relais: the server key cannot be used: {exc.code} {exc.params.get('path', '')}", file=sys.stderr)
        return 2
    registry = None
    if args.tablets:
        try:
            registry = TabletRegistry.load(args.tablets)
        except RegistryError as exc:
            print(f"relais: {exc}", file=sys.stderr)
            return 2
    from sync.server.doctors.listen import bind

    doctors_socket = bind(args.host, args.doctors_port)  # the doctors' application: its own port, known now
    try:
        server = make_server(args.host, args.port, args.db, token=args.token, registry=registry,
                             doctors_port=doctors_socket.getsockname()[1], key=key)
    except AtRestError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return 2

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    _collect_less_often()
    print(f"serving on {base_url(server)}", flush=True)
    from sync.server.doctors.embedded import DoctorsBeside

    doctors = DoctorsBeside(doctors_socket, base_url(server), host=args.host, accounts=args.doctors,
                            view_log=args.doctors_view_log or f"{args.db}.doctor-views.sqlite",
                            registry=server.RequestHandlerClass.registry)  # type: ignore[attr-defined]
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        doctors.stop()
    return 0


def _tablets(args: argparse.Namespace) -> int:
    from sync.server import tablets

    if args.action == "add":
        token = tablets.add_tablet(args.file, args.id, args.site)
        print(token, flush=True)  # shown once: configure it on the tablet, it is not kept here
        return 0
    if not tablets.remove_tablet(args.file, args.id):
        print(f"relais: no tablet {args.id!r} in {args.file}", file=sys.stderr)
        return 2
    return 0
