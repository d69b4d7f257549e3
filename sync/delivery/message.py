"""The report as one MSSanté mail message per recipient (standard library `email`, RFC 5322 with CRLF line ends):
the IHE XDM archive and the PDF attached, a short French body with no clinical value (those travel only in the
attachments), and the MSSanté headers.

Conventions followed:
- subject `XDM/1.0/DDM+<libellé> <NOM> <prénom> <date de naissance>`, the PDF named `<date>_<type>_<NOM>_<prénom>.pdf`
  and the archive `IHE_XDM.ZIP` (ANS, volet transmission de documents CDA par messagerie sécurisée,
  ansforge/IG-hl7v2-volet-trans-lps-doc-cda-courriel-mss, struct-msg-mdn.md, cas-usage.md);
- `X-MSS-CODECDA` the CDA code, `X-MSS-INS` O when the document carries a qualified INS, else N (ANS Référentiel
  socle MSSanté #2 ECO.2.4.1 / ECO.2.4.2, as documented at doc.devbox-sante.fr, entete-x-mss);
- `X-MSS-MES: FIN` to a patient's Mon espace santé box: the patient cannot answer a message that needs no answer
  (ansforge/IG-hl7v2-volet-transmission-document-cda-r2, mapping-mss.md);
- `Disposition-Notification-To` (RFC 8098) to the doctor's box only: a read receipt from a professional, correlated
  on the `Message-ID` the caller fixed when the report was frozen.
"""
from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from sync.delivery.content import ReportContent
from sync.delivery.header import DOCUMENT_CODE
from sync.fhir.narrative import fr_datetime

XDM_NAME = "IHE_XDM.ZIP"


@dataclass(frozen=True)
class Recipient:
    kind: str  # 'gp' (the médecin traitant's MSSanté box) or 'patient' (Mon espace santé)
    address: str
    name: str | None = None
    rpps: str | None = None


def new_message_id(sender: str) -> str:
    """A globally unique Message-ID in the sender's domain (an MDN is correlated on it)."""
    return make_msgid(domain=sender.rpartition("@")[2])


def _day(iso: str) -> str:
    """The French wall-clock day of a time: 01/05/2024."""
    return fr_datetime(iso)[:10]


def subject(content: ReportContent) -> str:
    p = content.patient
    birth = dt.date.fromisoformat(p.birth_date).strftime("%d/%m/%Y")
    return f"XDM/1.0/DDM+{content.act.document_type} {p.birth_family_name.upper()} {p.first_given_name} {birth}"


def pdf_filename(content: ReportContent) -> str:
    p = content.patient
    day, month, year = _day(content.start).split("/")
    return f"{year}{month}{day}_{content.act.file_label}_{p.birth_family_name.upper()}_{p.first_given_name}.pdf"


def _body(content: ReportContent, recipient: Recipient) -> str:
    p = content.patient
    when = _day(content.start)
    site = f" ({content.site.name})" if content.site else ""
    if recipient.kind == "patient":
        return (f"Bonjour,\n\nVous trouverez ci-joint le compte rendu de {content.act.for_patient} du {when}{site}, "
                "au format PDF et dans l'archive IHE_XDM.ZIP.\n\nCe message est envoyé automatiquement : il n'est pas "
                "possible d'y répondre. Pour toute question, adressez-vous à votre médecin traitant.\n")
    greeting = f"Bonjour {recipient.name}," if recipient.name else "Bonjour,"
    return (f"{greeting}\n\nVeuillez trouver ci-joint le compte rendu de la {content.act.name} du {when}{site} "
            f"de votre patient(e) {p.birth_family_name.upper()} {p.first_given_name}, né(e) le "
            f"{dt.date.fromisoformat(p.birth_date):%d/%m/%Y} : le document CDA R2 dans l'archive IHE_XDM.ZIP et sa "
            "version PDF.\n\nMessage envoyé par Relais.\n")


def report_message(content: ReportContent, *, pdf: bytes, xdm: bytes, sender: str, recipient: Recipient,
                   message_id: str, date: str) -> bytes:
    """The message for one recipient as exact bytes (policy SMTP: CRLF). `date`: ISO date-time with its zone (the
    Date header); `message_id`: as fixed by the caller (`<…@domain>`)."""
    if recipient.kind not in ("gp", "patient"):
        raise ValueError(f"unknown recipient kind {recipient.kind!r}")
    moment = dt.datetime.fromisoformat(date)
    if moment.tzinfo is None:
        raise ValueError("date without a timezone")
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = formataddr((recipient.name, recipient.address)) if recipient.name else recipient.address
    msg["Subject"] = subject(content)
    msg["Date"] = format_datetime(moment)
    msg["Message-ID"] = message_id
    msg["X-MSS-CODECDA"] = DOCUMENT_CODE[0]
    msg["X-MSS-INS"] = "O" if content.patient.qualified else "N"
    if recipient.kind == "patient":
        msg["X-MSS-MES"] = "FIN"
    else:
        msg["Disposition-Notification-To"] = sender
    msg.set_content(_body(content, recipient))
    msg.add_attachment(xdm, maintype="application", subtype="zip", filename=XDM_NAME)
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_filename(content))
    # a boundary derived from the Message-ID instead of a random one: the same message gives the same bytes
    msg.set_boundary(f"relais-{hashlib.sha256(message_id.encode()).hexdigest()[:32]}")
    return bytes(msg)
