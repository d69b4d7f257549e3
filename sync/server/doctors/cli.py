"""The command line of the doctors' application (dispatched by `python -m sync`):

    doctors add --file FILE --id ID --name NAME --rpps RPPS --site ID [--site ID …]
        create or replace a local account; the password is read on standard input (never on the command line,
        where `ps` shows it); the TOTP enrolment secret and its otpauth:// URI are printed once, to scan.
    doctors serve --fhir URL --port PORT --doctors FILE [--host H] [--view-log PATH] [--ca-bundle P]
                  [--oidc-discovery URL --oidc-client-id ID [--oidc-acr eidas1]]
        the application alone, in front of any FHIR server; the FHIR server's token comes from
        $RELAIS_DOCTORS_FHIR_TOKEN and the OpenID Connect client secret from $RELAIS_OIDC_CLIENT_SECRET.

`python -m sync serve … --doctors FILE` also serves it beside the development server (sync.server.doctors.embedded).
"""
from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
from typing import Any

FHIR_TOKEN_VARIABLE = "RELAIS_DOCTORS_FHIR_TOKEN"
OIDC_SECRET_VARIABLE = "RELAIS_OIDC_CLIENT_SECRET"


def add_commands(commands: Any) -> None:
    doctors = commands.add_parser("doctors", help="the doctors' web application: accounts, and serving it alone")
    actions = doctors.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create a doctor's local account (password on stdin, TOTP secret shown "
                                         "once)")
    add.add_argument("--file", required=True, help="the doctors' accounts file (JSON, created if missing)")
    add.add_argument("--id", required=True, help="the sign-in id, e.g. dr-demo")
    add.add_argument("--name", required=True, help="as shown on the pages, e.g. \"Dr Claire Démo\"")
    add.add_argument("--rpps", required=True, help="the doctor's 11-digit RPPS number")
    add.add_argument("--site", action="append", required=True, help="FINESS or local site id served (repeat)")
    add.set_defaults(run=run_add)
    serve = actions.add_parser("serve", help="serve the doctors' application in front of a FHIR server")
    serve.add_argument("--fhir", required=True, help="the FHIR base URL it reads from")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--doctors", required=True, help="the doctors' accounts file (`doctors add`)")
    serve.add_argument("--view-log", help="the SQLite file of patient views (default: beside the accounts file)")
    serve.add_argument("--ca-bundle", help="CA file of a private PKI (verification is always on)")
    serve.add_argument("--oidc-discovery", help="OpenID Connect discovery URL (Pro Santé Connect: its own name)")
    serve.add_argument("--oidc-client-id")
    serve.add_argument("--oidc-acr", help="required authentication level, e.g. eidas1")
    serve.set_defaults(run=run_serve)


def read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Mot de passe : ")
    return sys.stdin.readline().rstrip("\n")


def run_add(args: argparse.Namespace) -> int:
    from sync.server.doctors.accounts import AccountBook, AccountsError

    try:
        secret, uri = AccountBook(args.file).add(args.id, args.name, args.rpps, args.site, read_password())
    except AccountsError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return 2
    # shown once: the doctor enrols it in an authenticator app; only the file keeps it
    print(f"secret TOTP : {secret}\n{uri}", flush=True)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from sync.server.doctors.app import DoctorsSettings, create_app, is_loopback
    from sync.server.doctors.oidc import OidcSettings
    from sync.server.doctors.serve import BackgroundServer, bind

    oidc = None
    if args.oidc_discovery:
        oidc = OidcSettings(args.oidc_discovery, args.oidc_client_id or "", os.environ.get(OIDC_SECRET_VARIABLE, ""),
                            acr_values=args.oidc_acr, ca_bundle=args.ca_bundle)
    settings = DoctorsSettings(fhir_base=args.fhir, accounts=args.doctors,
                               view_log=args.view_log or f"{args.doctors}.views.sqlite",
                               fhir_token=os.environ.get(FHIR_TOKEN_VARIABLE), ca_bundle=args.ca_bundle,
                               secure_cookies=not is_loopback(args.host), oidc=oidc)
    server = BackgroundServer(create_app(settings), bind(args.host, args.port)).start()
    print(f"doctors on {server.url}/", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()
    return 0
