"""Where and as whom the tablet sends its reports by secure mail (MSSanté): the operator's SMTP submission host and
port, the site's application mailbox (the envelope sender), its client certificate and private key, and an
optional private CA to trust.

An unattended sender uses an application mailbox ("BAL applicative", for automated sending by a software) that
authenticates with a client certificate over TLS (ANS, Annuaire Santé FHIR documentation, use case "BAL MSS",
https://github.com/ansforge/annuaire-sante-fhir-documentation; ANS Référentiel socle MSSanté #2 for clients).
The settings live in the encrypted store (SQLCipher, sync.store) like the FHIR server's token: the private key is
never written to a plain file, printed or logged, and the audit trail records the names of the settings that
changed, never their values. There is no setting to turn TLS verification off: only which CA to trust.

Everything is checked before anything is saved (the cert and the key parse and belong together, the CA bundle
parses), so a wrong file leaves the previous settings as they were.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sync.errors import RelaisError
from sync.store.settings import get_setting, set_settings

if TYPE_CHECKING:
    from sync.store.database import Database

SMTP, SENDER, CERT, KEY, CA = "mssante_smtp", "mssante_from", "mssante_cert", "mssante_key", "mssante_ca"
SETTING_KEYS = (SMTP, SENDER, CERT, KEY, CA)

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_ADDRESS = re.compile(r"^[^\s@<>,;\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")


class MssanteSettingsError(RelaisError, ValueError):
    """A secure-mail setting that cannot work: `mssante.smtp.invalid`, `mssante.from.invalid`,
    `mssante.cert.unreadable`, `mssante.key.unreadable`, `mssante.key.mismatch`, `mssante.ca.unreadable`."""


@dataclass(frozen=True)
class MssanteSettings:
    host: str
    port: int
    sender: str
    cert_pem: str
    key_pem: str
    ca_pem: str | None = None

    def __repr__(self) -> str:  # never the private key; the certificate is public but long
        return (f"MssanteSettings(host={self.host!r}, port={self.port!r}, sender={self.sender!r}, "
                f"cert_pem=<{len(self.cert_pem)} chars>, key_pem=***, ca_pem={'<set>' if self.ca_pem else None})")

    __str__ = __repr__

    @property
    def smtp(self) -> str:
        return f"{self.host}:{self.port}"


def parse_smtp_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` → (host, port); `mssante.smtp.invalid` otherwise (no default port: the operator says which)."""
    host, sep, port = (text or "").strip().rpartition(":")
    if not sep or not _HOST.match(host) or not port.isdigit() or not 0 < int(port) < 65536:
        raise MssanteSettingsError("mssante.smtp.invalid", "smtp", value=text)
    return host, int(port)


def _certificates(pem: str, code: str, field: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise MssanteSettingsError(code, field) from None
    if not certificates:
        raise MssanteSettingsError(code, field)
    return certificates


def _public_key_der(key: object) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _check_pair(cert_pem: str, key_pem: str) -> None:
    """The first certificate of `cert_pem` (the client's, before any intermediates) is the key's."""
    certificate = _certificates(cert_pem, "mssante.cert.unreadable", "cert")[0]
    try:
        key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):  # not a key, or one protected by a passphrase
        raise MssanteSettingsError("mssante.key.unreadable", "key") from None
    if _public_key_der(certificate.public_key()) != _public_key_der(key.public_key()):
        raise MssanteSettingsError("mssante.key.mismatch", "key")


def check_mssante_settings(*, smtp: str, sender: str, cert_pem: str, key_pem: str,
                           ca_pem: str | None = None) -> MssanteSettings:
    """The settings checked, not saved: see the module's docstring."""
    host, port = parse_smtp_address(smtp)
    sender = (sender or "").strip()
    if not _ADDRESS.match(sender):
        raise MssanteSettingsError("mssante.from.invalid", "sender")
    _check_pair(cert_pem, key_pem)
    if ca_pem is not None:
        _certificates(ca_pem, "mssante.ca.unreadable", "ca")
    return MssanteSettings(host=host, port=port, sender=sender, cert_pem=cert_pem, key_pem=key_pem,
                           ca_pem=ca_pem or None)


def read_pem_file(path: str | Path, code: str) -> str:
    """A PEM file's text for the settings; `code` (e.g. `mssante.key.unreadable`) with the path if it cannot be
    read."""
    try:
        return Path(path).expanduser().read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise MssanteSettingsError(code, path=str(path)) from None


def save_mssante_settings(db: "Database", *, smtp: str, sender: str, cert_pem: str, key_pem: str,
                          ca_pem: str | None = None) -> MssanteSettings:
    """Check, then keep the five settings in the encrypted store in one transaction (all or nothing), each traced
    in the audit trail by its name only."""
    settings = check_mssante_settings(smtp=smtp, sender=sender, cert_pem=cert_pem, key_pem=key_pem, ca_pem=ca_pem)
    set_settings(db, {SMTP: settings.smtp, SENDER: settings.sender, CERT: settings.cert_pem,
                      KEY: settings.key_pem, CA: settings.ca_pem or ""})
    return settings


def load_mssante_settings(db: "Database") -> MssanteSettings | None:
    """The saved settings; None when secure mail is not configured (then nothing is sent and reports wait)."""
    values = {key: get_setting(db, key) or "" for key in SETTING_KEYS}
    if not all(values[key] for key in (SMTP, SENDER, CERT, KEY)):
        return None
    host, port = parse_smtp_address(values[SMTP])
    return MssanteSettings(host=host, port=port, sender=values[SENDER], cert_pem=values[CERT],
                           key_pem=values[KEY], ca_pem=values[CA] or None)
