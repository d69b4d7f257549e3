"""The command line's side of secure mail (`python -m sync configure --mssante-…`, `push`): the MSSanté flags read
into checked settings, what is printed about them (never the private key), and the report-sending step of a push
with its one-line summary (worded in sync.cli_messages)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sync.cli_messages import describe
from sync.delivery.mssante_settings import (MssanteSettings, MssanteSettingsError, check_mssante_settings,
                                            load_mssante_settings, read_pem_file, save_mssante_settings)
from sync.delivery.send_pass import SendReport, send_pending_reports
from sync.errors import RelaisError

if TYPE_CHECKING:
    from sync.store.database import Database

__all__ = ["MssanteSettingsError", "given_flags", "settings_from_args", "save", "describe_saved", "send_reports",
           "report_counts", "report_line"]

FLAGS = {"mssante_smtp": "--mssante-smtp", "mssante_from": "--mssante-from", "mssante_cert": "--mssante-cert",
         "mssante_key": "--mssante-key"}


def given_flags(args: argparse.Namespace) -> list[str]:
    return [flag for name, flag in FLAGS.items() if getattr(args, name, None)]


def settings_from_args(args: argparse.Namespace) -> MssanteSettings:
    """The four MSSanté flags (all together) and `--ca-bundle`, read and checked; nothing saved."""
    missing = [flag for flag in FLAGS.values() if flag not in given_flags(args)]
    if missing:
        raise MssanteSettingsError("mssante.flags.incomplete", missing=", ".join(missing))
    ca = read_pem_file(args.ca_bundle, "mssante.ca.unreadable") if args.ca_bundle else None
    try:
        return check_mssante_settings(smtp=args.mssante_smtp, sender=args.mssante_from,
                                      cert_pem=read_pem_file(args.mssante_cert, "mssante.cert.unreadable"),
                                      key_pem=read_pem_file(args.mssante_key, "mssante.key.unreadable"), ca_pem=ca)
    except MssanteSettingsError as exc:  # a file read but not understood: say which file
        path = {"cert": args.mssante_cert, "key": args.mssante_key, "ca": args.ca_bundle}.get(exc.field or "")
        if path and "path" not in exc.params:
            raise MssanteSettingsError(exc.code, exc.field, **exc.params, path=str(path)) from None
        raise


def save(db: "Database", settings: MssanteSettings) -> MssanteSettings:
    return save_mssante_settings(db, smtp=settings.smtp, sender=settings.sender, cert_pem=settings.cert_pem,
                                 key_pem=settings.key_pem, ca_pem=settings.ca_pem)


def describe_saved(settings: MssanteSettings) -> dict[str, object]:
    """What `configure` prints: where and as whom, whether a CA is set; never the key."""
    return {"smtp": settings.smtp, "from": settings.sender, "ca_bundle": bool(settings.ca_pem)}


def send_reports(db: "Database") -> SendReport:
    """The push's mail step: one send pass with the saved settings (none saved: nothing sent, they wait)."""
    return send_pending_reports(db, load_mssante_settings(db))


def report_counts(report: SendReport) -> dict[str, object]:
    return {"sent": report.sent, "refused": report.refused, "waiting": report.waiting,
            "not_configured": report.not_configured}


def report_line(report: SendReport) -> str:
    """One line for a person: the counts, why reports wait when they do."""
    if report.not_configured:
        return describe(RelaisError("mssante.not_configured", waiting=report.waiting))
    line = describe(RelaisError("mssante.reports", sent=report.sent, refused=report.refused, waiting=report.waiting))
    if report.errors:
        line += " — " + "; ".join(describe(RelaisError(code)) for code in report.errors)
    return line
