"""`python -m sync serve|status|push`: the development server and two operator commands.

serve   --port PORT --db PATH [--host 127.0.0.1] [--token T]   development FHIR server (prints "serving on URL")
status  [--db PATH]                                           outbox counts per state, as JSON
push    --server URL [--token T] [--db PATH] [--ca-bundle P]    upload now; exit 0 when everything is sent
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from sync.server import base_url, make_server

    server = make_server(args.host, args.port, args.db, token=args.token)

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"serving on {base_url(server)}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _db_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db)
    from sync.paths import default_store_path
    return default_store_path()


def _status(args: argparse.Namespace) -> int:
    from sync.store import Store

    path = _db_path(args)
    if not path.exists():
        print(f"no store at {path}", file=sys.stderr)
        return 2
    with Store(path, recover_in_flight=False) as store:
        print(json.dumps(store.outbox_counts(), sort_keys=True))
    return 0


def _push(args: argparse.Namespace) -> int:
    from sync.store import Store
    from sync.uploader import Uploader

    path = _db_path(args)
    if not path.exists():
        print(f"no store at {path}", file=sys.stderr)
        return 2
    uploader = Uploader(args.server, token=args.token, ca_bundle=args.ca_bundle)
    with Store(path) as store:
        # a push asked for by a person means "try now", whatever backoff the background loop had planned
        result = uploader.push(store, ignore_backoff=True)
    print(json.dumps({"sent": result.sent, "rejected": result.rejected, "remaining": result.remaining,
                      "stopped": result.stopped}, sort_keys=True))
    return 0 if result.remaining == 0 and result.rejected == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the development FHIR server")
    serve.add_argument("--port", type=int, required=True, help="0 picks a free port (printed on start)")
    serve.add_argument("--db", required=True, help="the server's own SQLite file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--token", default=os.environ.get("RELAIS_SERVER_TOKEN"),
                       help="require 'Authorization: Bearer TOKEN' (default: $RELAIS_SERVER_TOKEN)")
    serve.set_defaults(run=_serve)

    status = commands.add_parser("status", help="outbox counts per state")
    status.add_argument("--db", help="store file (default: the app's store)")
    status.set_defaults(run=_status)

    push = commands.add_parser("push", help="upload the outbox now")
    push.add_argument("--server", required=True, help="FHIR base URL, e.g. http://127.0.0.1:8080/fhir")
    push.add_argument("--token", default=os.environ.get("RELAIS_TOKEN"), help="bearer token (default: $RELAIS_TOKEN)")
    push.add_argument("--db", help="store file (default: the app's store)")
    push.add_argument("--ca-bundle", help="CA file for a private PKI (verification is always on)")
    push.set_defaults(run=_push)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
