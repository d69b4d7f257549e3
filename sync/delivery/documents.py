"""The three documents of one report version, built together in the close (or addendum) transaction: the PDF/A,
the CDA R2 embedding it, and the IHE XDM archive carrying the CDA. Pure: the same content, ids and time give the
same bytes, so a frozen version can always be checked against a rebuild.

fpdf2 and lxml (with fontTools, Pillow and cryptography behind fpdf2) are imported by the first close, not by the
app's start: most starts never close a session before the first screen is wanted."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sync.delivery.content import ReportContent


@dataclass(frozen=True)
class ReportDocuments:
    document_id: str
    set_id: str
    version: int
    pdf: bytes
    cda: bytes
    xdm: bytes


def build_documents(content: ReportContent, *, document_id: str, set_id: str, version: int, created_at: str,
                    previous_id: str | None = None, sender: str | None = None,
                    recipients: Sequence[str] = ()) -> ReportDocuments:
    """PDF, CDA and XDM of one version. `document_id`, `set_id`, `previous_id`: UUID strings (the CDA writes them
    as 2.25 OIDs); `previous_id`: the document this version replaces (version > 1); `sender` and `recipients`:
    mail addresses named in the archive's README and metadata."""
    from sync.delivery.cda import report_cda
    from sync.delivery.pdf import report_pdf
    from sync.delivery.xdm import xdm_archive

    pdf = report_pdf(content, version=version, created_at=created_at)
    cda = report_cda(content, pdf=pdf, document_id=document_id, set_id=set_id, version=version,
                     created_at=created_at, previous_id=previous_id)
    xdm = xdm_archive(content, cda=cda, document_id=document_id, created_at=created_at, sender=sender,
                      recipients=recipients)
    return ReportDocuments(document_id=document_id, set_id=set_id, version=version, pdf=pdf, cda=cda, xdm=xdm)
