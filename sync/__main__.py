"""`python -m sync serve|status|push|seed|proxy`: the development server, operator commands and test tools.

serve   --port PORT --db PATH [--host 127.0.0.1] [--token T | --tablets FILE] [--doctors FILE --doctors-port P]
                                                              development FHIR server (prints "serving on URL")
tablets add --file FILE --id ID --site SITE [--site …] | remove --file FILE --id ID
                                                              per-tablet tokens bound to sites (token printed once)
doctors add --file FILE --id ID --name NAME --rpps RPPS --site ID [--site …] | serve --fhir URL --port P --doctors F
                                                              doctors' accounts (TOTP secret printed once) and their
                                                              web application (also served by `serve --doctors F`)
status  [--db PATH]                                           outbox counts per state, rejected reasons, the
                                                              report mails per state, the live sends of open
                                                              sessions per state ("live") and the transaction
                                                              limits learned per server, as JSON
configure [--server URL [--token-stdin] [--max-entries N]] [--ca-bundle P] [--db PATH]
          [--mssante-smtp HOST:PORT --mssante-from ADDRESS --mssante-cert CERT.pem --mssante-key KEY.pem]
                                                              where this tablet syncs and sends its reports by
                                                              secure mail (kept in the encrypted store)
push    [--server URL] [--token T] [--db PATH] [--ca-bundle P] [--batch-size N] [--max-entries N] [--wait S]
                                                              upload now (default: the configured server), then
                                                              send the reports by secure mail;
                                                              exit 0 when everything is sent, 3 when busy
pull    [--server URL] [--token T] [--db PATH] [--site ID …]   download the sites' residents, staff and last 90 days
                                                              of history (default: the configured server), as JSON
audit-check [--server URL] [--db PATH]                       the audit chain, alone and against the server's copy
seed    --sessions N [--db PATH] [--seed S] [--days D]        add N closed demo sessions (demo identities only)
import-directory FILE [--db PATH]                            load the Annuaire Santé MSSanté extraction (.txt or
                                                              .zip) as this tablet's offline directory
import-residents FILE.csv [--db PATH] [--dry-run]            the residents of a care software's export: a JSON
                                                              report, then all rows in one transaction or none
proxy   --listen PORT --target HOST:PORT [--fault-rate R] [--latency-ms MS] [--seed S] [--kinds K,K]
                                                              fault-injecting proxy on loopback (counts on exit)
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any
from pathlib import Path


BUSY_WAIT_SECONDS = 5.0
EXIT_BUSY = 3
PUSH_EXIT_STATUS = ("exit status: 0 everything was sent; 1 something is left or was refused; 2 cannot run (no store, "
                    "no server, a store error); 3 busy: another uploader (the app, another push) is using this "
                    "store, nothing was done, try again later")


def _db_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db)
    from sync.paths import default_store_path
    return default_store_path()


def _open(args: argparse.Namespace, **kwargs: object):
    """The app's store (encrypted, key created at first run) by default; `--db PATH` opens that file as it is."""
    from sync.store import open_app_store, open_store_file

    if args.db:
        return open_store_file(args.db, key_path=getattr(args, "key_file", None), **kwargs)
    return open_app_store(key_path=getattr(args, "key_file", None), **kwargs)


def _status(args: argparse.Namespace) -> int:
    path = _db_path(args)
    if not path.exists():
        print(f"no store at {path}", file=sys.stderr)
        return 2
    from sync import outbox

    with _open(args, recover_in_flight=False) as store:
        report: dict[str, object] = dict(store.outbox_counts())
        # Why each quarantined session was refused: the server's OperationOutcome text, for staff to act on.
        report["rejected_reasons"] = [{"session_id": e.session_id, "reason": e.last_error}
                                      for e in outbox.entries(store, "rejected")]
        from sync.delivery import mail_outbox

        report["reports"] = mail_outbox.counts(store)  # the report messages by secure mail, per state
        from sync import transaction_limits

        # the most entries per transaction each server took after refusing more (learned by the uploader)
        report["transaction_limits"] = transaction_limits.learned(store)
        from sync.store import patient_outbox

        report["residents"] = patient_outbox.counts(store)  # residents' edits waiting to go up, per state
        report["live"] = store.live_counts()  # open sessions' sends to the remote doctor, per state
        report["pull"] = store.query("SELECT scope, watermark, updated_at FROM pull_cursors ORDER BY scope")
        print(json.dumps(report, sort_keys=True, ensure_ascii=False))
    return 0


def _configure(args: argparse.Namespace) -> int:
    from sync import server_config
    from sync.cli_messages import describe
    from sync.delivery import mssante_cli

    mail_flags = mssante_cli.given_flags(args)
    if not args.server and not mail_flags:
        print("relais: give --server URL and/or the MSSanté settings (--mssante-smtp …)", file=sys.stderr)
        return 2
    try:  # the mail settings are checked before anything is saved
        mail = mssante_cli.settings_from_args(args) if mail_flags else None
    except mssante_cli.MssanteSettingsError as exc:
        print(f"relais: {describe(exc)}", file=sys.stderr)
        return 2
    token = sys.stdin.readline().strip() if args.token_stdin else None  # never on the command line (`ps`)
    report: dict[str, object] = {}
    with _open(args) as store:
        if args.server:
            try:
                saved = server_config.save(store, url=args.server, token=token, ca_bundle=args.ca_bundle,
                                           max_entries=args.max_entries)
            except server_config.ServerConfigError as exc:
                print(f"relais: {exc}", file=sys.stderr)
                return 2
            report.update(server=saved.url, token=bool(saved.token), ca_bundle=saved.ca_bundle,
                          max_entries=saved.max_entries)
        if mail is not None:
            report["mssante"] = mssante_cli.describe_saved(mssante_cli.save(store, mail))
    print(json.dumps(report, sort_keys=True, ensure_ascii=False))
    return 0


def _push(args: argparse.Namespace) -> int:
    from sync import server_config
    from sync.uploader import Uploader

    path = _db_path(args)
    if not path.exists():
        print(f"no store at {path}", file=sys.stderr)
        return 2
    with _open(args) as store:
        target = server_config.effective(server_config.load(store), url=args.server, token=args.token,
                                         ca_bundle=args.ca_bundle, max_entries=args.max_entries)
        if target is None:
            print("relais: no server: give --server or run `python -m sync configure` first", file=sys.stderr)
            return 2
        try:
            uploader = Uploader(target.url, token=target.token, ca_bundle=target.ca_bundle,
                                batch_size=args.batch_size, max_entries=target.max_entries)
        except ValueError as exc:
            print(f"relais: {exc}", file=sys.stderr)
            return 2
        # a push asked for by a person means "try now", whatever backoff the background loop had planned; the
        # audit trail written since the last extract goes with it
        from sync import audit_extracts

        audit_extracts.freeze_extract(store, force=True)
        result = uploader.push(store, ignore_backoff=True, lock_wait=max(0.0, args.wait))
        live_left = sum(n for state, n in store.live_counts().items() if state in ("pending", "in_flight"))
        if result.stopped == "busy":  # the app or another push is uploading this store: nothing was done
            from sync.cli_messages import CLI_MESSAGES

            print(f"relais: {CLI_MESSAGES['upload.busy']}", file=sys.stderr)
            return EXIT_BUSY
        # the reports by secure mail go after the FHIR upload, whatever it did: a mail server and a FHIR server
        # fail independently
        from sync.delivery import mssante_cli

        reports = mssante_cli.send_reports(store)
    print(json.dumps({"sent": result.sent, "rejected": result.rejected, "remaining": result.remaining,
                      "stopped": result.stopped, "requests": result.requests,
                      "audit_extracts": result.audit_extracts, "residents": result.residents,
                      "live": result.live, "live_remaining": live_left,
                      "reports": mssante_cli.report_counts(reports)},
                     sort_keys=True))
    print(f"relais: {mssante_cli.report_line(reports)}", file=sys.stderr)
    done = (result.remaining == 0 and result.rejected == 0 and live_left == 0 and reports.waiting == 0
            and reports.refused == 0)
    return 0 if done else 1


def _pull(args: argparse.Namespace) -> int:
    """Counts only on the terminal; a server that cannot be read: one plain line, exit 1 (what was stored stays)."""
    from sync import server_config
    from sync.cli_messages import describe
    from sync.pull import PullError, SearchClient, pull
    from sync.pull.sites import SiteNotFound, adopt_site
    from sync.store import Store

    with _open(args) if not args.db or Path(args.db).exists() else Store(_db_path(args)) as store:
        target = server_config.effective(server_config.load(store), url=args.server, token=args.token,
                                         ca_bundle=args.ca_bundle)
        if target is None:
            print("relais: no server: give --server or run `python -m sync configure` first", file=sys.stderr)
            return 2
        try:
            client = SearchClient(target.url, token=target.token, ca_bundle=target.ca_bundle)
            # a site not on this tablet yet is looked up on the server (a new tablet joining its site)
            site_ids = [adopt_site(store, client, wanted) for wanted in args.site or ()]
            report = pull(store, client, site_ids=site_ids or None)
        except (ValueError, SiteNotFound) as exc:
            print(f"relais: {describe(exc) if isinstance(exc, SiteNotFound) else exc}", file=sys.stderr)
            return 2
        except PullError as exc:
            print(f"relais: {describe(exc)}", file=sys.stderr)
            return 1
    print(json.dumps(report.summary(), sort_keys=True))
    return 0


def _audit_check(args: argparse.Namespace) -> int:
    """The tablet's audit chain checked on its own and, with a server, against the copy the server holds."""
    import requests

    from sync import audit, audit_extracts, server_config
    from sync.uploader import Uploader

    with _open(args, recover_in_flight=False) as store:
        local = audit.verify(store)
        report: dict[str, object] = {"rows": local.rows, "local": local.reason or "ok"}
        target = server_config.effective(server_config.load(store), url=args.server, token=args.token,
                                         ca_bundle=args.ca_bundle)
        if target is not None:
            uploader = Uploader(target.url, token=target.token, ca_bundle=target.ca_bundle)
            try:
                copy = uploader.fetch_audit_copy(audit_extracts.install_id(store))
            except requests.RequestException as exc:  # unreachable, TLS refused: say so, the local check stands
                print(f"relais: the server could not be reached ({type(exc).__name__}): only the tablet's chain "
                      "was checked", file=sys.stderr)
                report["server"] = "unreachable"
                print(json.dumps(report, sort_keys=True, ensure_ascii=False))
                return 2
            against = audit.compare(store, copy, now=uploader.server_date)  # the rows' ages on the server's clock
            report.update(server_rows=len(copy), server=against.reason or "ok")
        ok = local.ok and report.get("server", "ok") == "ok"
    print(json.dumps(report, sort_keys=True, ensure_ascii=False))
    return 0 if ok else 1


def _seed(args: argparse.Namespace) -> int:
    from sync.seed import seed_sessions
    from sync.store import Store

    if args.sessions < 0:
        print("--sessions must be >= 0", file=sys.stderr)
        return 2
    with _open(args) if not args.db or Path(args.db).exists() else Store(_db_path(args)) as store:
        result = seed_sessions(store, args.sessions, seed=args.seed, days=args.days, doctors=True)
        counts = store.outbox_counts()
    # counts only: never names or values on a terminal that may be recorded
    print(json.dumps({"patients": len(result.patients), "sessions": len(result.sessions), "outbox": counts},
                     sort_keys=True))
    return 0


def _import_directory(args: argparse.Namespace) -> int:
    """Replace the tablet's copy of the MSSanté directory; counts only on the terminal."""
    from sync.cli_messages import say
    from sync.delivery.annuaire import import_directory

    with _open(args, recover_in_flight=False) as store:
        result = import_directory(store, args.file)
    print(say("directory.imported", file=Path(args.file).name, imported=result.imported,
              malformed=result.malformed, other_types=result.other_types, duplicates=result.duplicates))
    return 0


def _import_residents(args: argparse.Namespace) -> int:
    """The residents of a care software's CSV export: the JSON report on stdout (line numbers, ids and codes, never
    a name), a one-line summary on stderr; 1 when a row is bad (then nothing is written)."""
    from sync.cli_messages import say
    from sync.residents_csv import import_residents

    with _open(args, recover_in_flight=False) as store:
        outcome = import_residents(store, args.file, dry_run=args.dry_run)
    report = outcome.report()
    print(json.dumps({"file": Path(args.file).name, "dry_run": args.dry_run, **report}, sort_keys=True))
    verdict = ("residents.bad_rows" if outcome.plan.bad else "residents.applied" if outcome.applied
               else "residents.checked")
    print(f"relais: {say(verdict, **report['counts'])}", file=sys.stderr)
    return 1 if outcome.plan.bad else 0


def _tablet_commands(commands: Any) -> None:
    """The tablet's side: its store and outbox, where it syncs, its audit trail, demo data."""
    status = commands.add_parser("status", help="outbox counts per state")
    status.add_argument("--db", help="store file (default: the app's store)")
    status.add_argument("--key-file", help="key of an encrypted store (default: the install key)")
    status.set_defaults(run=_status)

    push = commands.add_parser("push", help="upload the outbox now", epilog=PUSH_EXIT_STATUS)
    push.add_argument("--server", help="FHIR base URL, e.g. http://127.0.0.1:8080/fhir (default: as configured)")
    push.add_argument("--token", default=os.environ.get("RELAIS_TOKEN"), help="bearer token (default: $RELAIS_TOKEN)")
    push.add_argument("--db", help="store file (default: the app's store)")
    push.add_argument("--key-file", help="key of an encrypted store (default: the install key)")
    push.add_argument("--ca-bundle", help="CA file for a private PKI (verification is always on)")
    push.add_argument("--batch-size", type=int, default=20, help="sessions per request (default 20)")
    push.add_argument("--max-entries", type=int, default=None,
                      help="most entries the server takes in one transaction (Medplum: 8); larger sessions go as "
                           "several transactions in dependency order (default: the limit learned from the server's "
                           "refusals, shown by `status`)")
    push.add_argument("--wait", type=float, default=BUSY_WAIT_SECONDS, metavar="SECONDS",
                      help="how long to wait for another uploader of this store (the app) to finish "
                           f"(default {BUSY_WAIT_SECONDS:g})")
    push.set_defaults(run=_push)

    configure = commands.add_parser("configure", help="where this tablet syncs and sends its reports (kept in the "
                                                      "encrypted store)")
    configure.add_argument("--server", help="FHIR base URL (https://…)")
    configure.add_argument("--token-stdin", action="store_true", help="read the tablet's token from standard input")
    configure.add_argument("--ca-bundle", help="CA file of a private PKI (verification is always on); trusted for "
                                              "the FHIR server and for the MSSanté operator, whichever is configured")
    configure.add_argument("--max-entries", type=int, default=None, help="the server's transaction size limit")
    configure.add_argument("--mssante-smtp", metavar="HOST:PORT", help="the MSSanté operator's SMTP submission")
    configure.add_argument("--mssante-from", metavar="ADDRESS", help="the site's application mailbox")
    configure.add_argument("--mssante-cert", metavar="CERT.pem", help="its client certificate (chain)")
    configure.add_argument("--mssante-key", metavar="KEY.pem", help="its private key (kept encrypted in the store)")
    configure.add_argument("--db", help="store file (default: the app's store)")
    configure.add_argument("--key-file", help="key of an encrypted store (default: the install key)")
    configure.set_defaults(run=_configure)

    check = commands.add_parser("audit-check", help="verify the audit chain, and against the server's copy")
    check.add_argument("--server", help="FHIR base URL (default: the configured server, if any)")
    check.add_argument("--token", default=os.environ.get("RELAIS_TOKEN"))
    check.add_argument("--ca-bundle")
    check.add_argument("--db", help="store file (default: the app's store)")
    check.add_argument("--key-file", help="key of an encrypted store (default: the install key)")
    check.set_defaults(run=_audit_check)

    seed = commands.add_parser("seed", help="add closed demo sessions to a store")
    seed.add_argument("--sessions", type=int, required=True)
    seed.add_argument("--db", help="store file (default: the app's store)")
    seed.add_argument("--key-file", help="key of an encrypted store (default: the install key)")
    seed.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    seed.add_argument("--days", type=float, default=7.0, help="spread the sessions over the last DAYS days")
    seed.set_defaults(run=_seed)

    directory = commands.add_parser("import-directory", help="load the Annuaire Santé MSSanté extraction (offline "
                                                             "search of the médecin traitant's address)")
    directory.add_argument("file", help="Extraction_Correspondance_MSSante….txt, or the .zip holding it")
    directory.add_argument("--db", help="store file (default: the app's store)")
    directory.add_argument("--key-file", help="key of an encrypted store (default: the install key)")
    directory.set_defaults(run=_import_directory)

    residents = commands.add_parser(
        "import-residents", help="import the residents from a CSV export of the care software",
        doc_module="sync.residents_csv", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status: 0 imported (or, with --dry-run, nothing bad found); 1 a row is bad: nothing was "
               "imported; 2 the file or the store cannot be used")
    residents.add_argument("file", help="the CSV export (UTF-8 or Windows-1252, ';' or ',')")
    residents.add_argument("--db", help="store file (default: the app's store)")
    residents.add_argument("--key-file", help="key of an encrypted store (default: the install key)")
    residents.add_argument("--dry-run", action="store_true", help="report what would be done, change nothing")
    residents.set_defaults(run=_import_residents)


def _pull_command(commands: Any) -> None:
    """The tablet's download of its sites' records (sync.pull)."""
    pull_cmd = commands.add_parser("pull", help="download the sites' residents, staff and recent history")
    pull_cmd.add_argument("--server", help="FHIR base URL (default: as configured)")
    pull_cmd.add_argument("--token", default=os.environ.get("RELAIS_TOKEN"),
                          help="bearer token (default: $RELAIS_TOKEN)")
    pull_cmd.add_argument("--db", help="store file (default: the app's store; a new path creates a store)")
    pull_cmd.add_argument("--key-file", help="key of an encrypted store (default: the install key)")
    pull_cmd.add_argument("--ca-bundle", help="CA file for a private PKI (verification is always on)")
    pull_cmd.add_argument("--site", action="append",
                          help="only this site, by its FINESS or site id (repeat for several); a site not on this "
                               "tablet yet is looked up on the server and added")
    pull_cmd.set_defaults(run=_pull)


class _CommandParser(argparse.ArgumentParser):
    """A command's parser whose description may be a module's docstring (`doc_module`), imported only when its
    help is shown: the other commands do not pay for importing it."""

    def __init__(self, *args: Any, doc_module: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.doc_module = doc_module

    def format_help(self) -> str:
        if self.doc_module and self.description is None:
            import importlib

            self.description = importlib.import_module(self.doc_module).__doc__
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sync", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    from sync.server.serve_cli import add_commands

    add_commands(commands)  # the development server's side: `serve`, `doctors`, `tablets`, `proxy`
    _tablet_commands(commands)
    _pull_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from sync.cli_messages import describe
    from sync.errors import RelaisError

    try:
        return args.run(args)
    except RelaisError as exc:  # a locked or damaged store, a missing key: one clear line, no traceback
        print(f"relais: {describe(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
