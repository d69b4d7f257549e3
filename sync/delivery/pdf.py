"""The report as a PDF/A-1b document a doctor reads in one page or two: who the patient is (and whether the identity
is qualified), the call, every reading with its unit, flag, device or "saisie manuelle" and time, NEWS2 with its
band (a partial score says what is missing), the doctor's conclusions, orientation, prescriptions, the summary and
any addenda.

Built with fpdf2 in its PDF/A-1B mode (ISO 19005-1, level B; fpdf2 `enforce_compliance`, which refuses the
non-embedded base-14 fonts and adds the sRGB output intent), DejaVu Sans embedded. The same content and `created_at`
give the same bytes: the creation date, the XMP packet (whose modification date fpdf2 would otherwise take from the
clock) and the file identifier are all derived from the input, so a rebuilt report is byte-identical.
"""
from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Sequence

from fpdf import FPDF
from fpdf.fonts import FontFace

from sync.delivery.content import Measurement, News2Result, Remark, ReportContent
from sync.fhir.narrative import fr_datetime

FONTS = Path(__file__).resolve().parents[2] / "assets" / "fonts"
FONT = "DejaVu"
IDENTITY_STATUS_FR = {"QUAL": "identité qualifiée", "VALI": "identité validée (INS non qualifié)",
                      "RECUP": "identité récupérée (non qualifiée)", "PROV": "identité provisoire (non qualifiée)"}
SEX_FR = {"F": "féminin", "M": "masculin", "I": "indéterminé"}
_ALERT = (150, 0, 0)
_GREY = (90, 90, 90)


class _ReportPDF(FPDF):
    """A4 portrait, the footer on every page: page number of total and who generated the document."""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(*_GREY)
        self.cell(0, 5, f"Document généré par Relais — page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0)


def fr_date(iso_date: str) -> str:
    """1938-04-02 → 02/04/1938."""
    return dt.date.fromisoformat(iso_date[:10]).strftime("%d/%m/%Y")


def _xmp(pdf: FPDF, created: dt.datetime) -> str:
    """The PDF/A identification and the document information as XMP (ISO 19005-1 §6.7), dated by `created`
    only (fpdf2 writes no Info dictionary beside it in this mode, so nothing else can disagree)."""
    stamp = created.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    esc = lambda text: html.escape(text, quote=True)  # noqa: E731
    return "\n".join([
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
        '  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/"'
        ' xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">',
        f"   <xmp:CreatorTool>{esc(pdf.creator)}</xmp:CreatorTool>",
        f"   <xmp:CreateDate>{stamp}</xmp:CreateDate>",
        f"   <xmp:ModifyDate>{stamp}</xmp:ModifyDate>",
        f"   <xmp:MetadataDate>{stamp}</xmp:MetadataDate>",
        f"   <pdf:Producer>{esc(pdf.producer)}</pdf:Producer>",
        "   <pdfaid:part>1</pdfaid:part>",
        "   <pdfaid:conformance>B</pdfaid:conformance>",
        f'   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{esc(pdf.title)}</rdf:li></rdf:Alt></dc:title>',
        f"   <dc:creator><rdf:Seq><rdf:li>{esc(pdf.author)}</rdf:li></rdf:Seq></dc:creator>",
        "  </rdf:Description>",
        " </rdf:RDF>",
        "</x:xmpmeta>",
    ])


def _new_pdf(created: dt.datetime, title: str) -> FPDF:
    pdf = _ReportPDF(format="A4", enforce_compliance="PDF/A-1B")
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(15, 14, 15)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(title)
    pdf.set_author("Relais")
    pdf.set_creator("Relais")
    pdf.set_producer("Relais (fpdf2)")
    pdf.set_lang("fr-FR")
    pdf.set_creation_date(created)
    pdf.set_xmp_metadata(_xmp(pdf, created))
    pdf.add_page()
    return pdf


def _heading(pdf: FPDF, text: str) -> None:
    if pdf.get_y() > pdf.h - 40:  # a heading never sits alone at the foot of a page
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(*_GREY)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(1)
    pdf.set_font(FONT, size=9.5)


def _line(pdf: FPDF, text: str, *, bold: bool = False, color: tuple[int, int, int] | None = None) -> None:
    pdf.set_font(FONT, "B" if bold else "", 9.5)
    if color:
        pdf.set_text_color(*color)
    pdf.multi_cell(0, 4.8, text, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_font(FONT, size=9.5)


def _field(pdf: FPDF, label: str, value: str) -> None:
    """A label in bold and its value, wrapping under the value when long."""
    pdf.set_font(FONT, size=9.5)
    pdf.multi_cell(0, 4.8, f"**{label} :** {value}", markdown=True, align="L", new_x="LMARGIN", new_y="NEXT")


def _header(pdf: FPDF, content: ReportContent, *, version: int, created_at: str) -> None:
    pdf.set_font(FONT, "B", 15)
    pdf.cell(0, 8, content.act.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9.5)
    where = f"{content.site.name} ({content.site.kind_label})" if content.site else "lieu non renseigné"
    _line(pdf, f"{content.act.heading} du {fr_datetime(content.start)} — {where}")
    if version > 1:
        _line(pdf, f"Version {version} du {fr_datetime(created_at)} : remplace la version {version - 1} "
                   "(addendum ajouté après la clôture).", bold=True, color=_ALERT)


def _patient(pdf: FPDF, content: ReportContent) -> None:
    p = content.patient
    _heading(pdf, "Patient")
    _field(pdf, "Nom de naissance", p.birth_family_name)
    _field(pdf, "Prénoms de naissance", p.given_names + (f" (premier prénom : {p.first_given_name})"
                                                         if p.given_names != p.first_given_name else ""))
    if p.usual_name:
        _field(pdf, "Nom utilisé", p.usual_name)
    _field(pdf, "Né(e) le", f"{fr_date(p.birth_date)} — sexe {SEX_FR[p.sex]} — lieu de naissance (code INSEE) "
                            f"{p.birthplace_insee}")
    if p.qualified:
        _field(pdf, "INS", f"{p.ins} — {IDENTITY_STATUS_FR['QUAL']}")
    else:
        _line(pdf, f"Identité : {IDENTITY_STATUS_FR[p.identity_status]} — pas d'INS transmis.", bold=True,
              color=_ALERT)


def _call(pdf: FPDF, content: ReportContent) -> None:
    _heading(pdf, content.act.heading)
    doctor = content.remote_doctor
    if doctor:
        _field(pdf, content.act.doctor_role, doctor.name + (f" (RPPS {doctor.rpps})" if doctor.rpps else ""))
    if content.staff:
        staff = content.staff
        extra = ", ".join(x for x in (staff.role_label, f"RPPS {staff.rpps}" if staff.rpps else None) if x)
        _field(pdf, "Professionnel accompagnant", staff.name + (f" ({extra})" if extra else ""))
    times = f"début {fr_datetime(content.start)}" + (f", fin {fr_datetime(content.end)}" if content.end else "")
    _field(pdf, "Horaires", times)
    _field(pdf, "Motif", content.reason or "non renseigné")
    for consent in content.consents:
        _field(pdf, "Consentement", f"{consent.text} le {fr_datetime(consent.time)}"
                                    + (f", recueilli par {consent.author}" if consent.author else ""))


def _measurements(pdf: FPDF, measurements: Sequence[Measurement]) -> None:
    _heading(pdf, "Mesures")
    if not measurements:
        _line(pdf, "Aucune mesure.")
        return
    pdf.set_font(FONT, size=8.5)
    pdf.set_draw_color(170, 170, 170)
    with pdf.table(col_widths=(48, 22, 28, 50, 32), line_height=4.4, padding=1, text_align="LEFT",
                   headings_style=FontFace(emphasis="BOLD", fill_color=(232, 232, 232))) as table:
        header = table.row()
        for title in ("Mesure", "Valeur", "Interprétation", "Appareil / saisie", "Heure"):
            header.cell(title)
        for m in measurements:
            row = table.row()
            row.cell(m.label)
            row.cell(m.display_value)
            row.cell(m.flag or "—", style=FontFace(emphasis="BOLD", color=_ALERT) if m.flag else None)
            row.cell(m.device or "saisie manuelle")
            row.cell(fr_datetime(m.time))
    pdf.set_font(FONT, size=9.5)


def _news2(pdf: FPDF, score: News2Result | None) -> None:
    _heading(pdf, "Score NEWS2")
    if score is None:
        _line(pdf, "Non calculé : aucune mesure utilisable.")
        return
    scale = " (SpO2 échelle 2)" if score.spo2_scale == 2 else ""
    if score.complete:
        alert = score.risk in ("medium", "high", "low_medium")
        _line(pdf, f"NEWS2 : {score.score} — {score.band}{scale}", bold=True, color=_ALERT if alert else None)
    else:
        band = "" if score.risk == "incomplete" else f" — {score.band}"
        _line(pdf, f"NEWS2 partiel : {score.score}{band}{scale} — incomplet — manquent : "
                   f"{', '.join(score.missing)}. Un score partiel n'est pas rassurant.", bold=True, color=_ALERT)
    pdf.set_text_color(*_GREY)
    _line(pdf, "NEWS2 (Royal College of Physicians, 2017) informe le médecin ; il n'est pas validé hors de "
               "l'hôpital et ne décide pas.")
    pdf.set_text_color(0)


def _remarks(pdf: FPDF, title: str, remarks: Sequence[Remark], *, with_time: bool = False,
             said: str | None = None) -> None:
    """A titled list of notes; `said`: first, who wrote them (the doctor's own words, or transcribed by staff)."""
    if not remarks:
        return
    _heading(pdf, title)
    if said:
        _line(pdf, said + ".", bold=True)
    for r in remarks:
        who = ", ".join(x for x in (r.author, fr_datetime(r.time) if with_time else None) if x)
        _line(pdf, r.text + (f" ({who})" if who else ""))


def report_pdf(content: ReportContent, *, version: int, created_at: str) -> bytes:
    """The report as PDF/A-1b bytes; `created_at` (ISO date-time with zone) dates the document (same input, same
    bytes). Version > 1 is a new version after an addendum and says so in its header."""
    created = dt.datetime.fromisoformat(created_at)
    if created.tzinfo is None:
        raise ValueError("created_at without a timezone")
    pdf = _new_pdf(created, content.act.title)
    _header(pdf, content, version=version, created_at=created_at)
    _patient(pdf, content)
    _call(pdf, content)
    _measurements(pdf, content.measurements)
    _news2(pdf, content.news2)
    _remarks(pdf, "Appel au SAMU (15)", content.emergency_calls)
    conclusions = "Conclusions du médecin téléconsultant" if content.act.kind == "teleconsultation" else \
        content.act.conclusion_title
    _remarks(pdf, conclusions, content.conclusions, said=content.conclusions_by)
    _remarks(pdf, "Orientation", content.orientation)
    _remarks(pdf, "Prescriptions", content.prescriptions)
    _remarks(pdf, "Notes de l'équipe soignante", content.staff_notes)
    if content.summary:
        _heading(pdf, "Synthèse pour le médecin traitant")
        _line(pdf, content.summary)
    _remarks(pdf, "Addenda (après la clôture)", content.addenda, with_time=True)
    return bytes(pdf.output())
