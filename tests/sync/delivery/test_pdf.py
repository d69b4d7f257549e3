"""The report's PDF: PDF/A-1b (version, XMP identification, output intent), DejaVu Sans embedded and no base-14
font, what a doctor reads on it (read back through the fonts' ToUnicode maps), and byte-identical rebuilds."""
from __future__ import annotations

import re

from sync.delivery.pdf import report_pdf
from tests.sync.delivery.pdftext import objects, stream, text
from tests.sync.delivery.sessions import DOCTOR_RPPS, INS


def _xmp(pdf: bytes) -> str:
    body = next(b for b in objects(pdf).values() if b"/Type /Metadata" in b.split(b"stream")[0])
    return stream(body).decode("utf-8")


def test_the_pdf_declares_pdfa_1b(reports):
    pdf = reports["full"].documents.pdf
    assert pdf.startswith(b"%PDF-1.4")
    xmp = _xmp(pdf)
    assert "<pdfaid:part>1</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "<xmp:CreateDate>2024-05-01T08:55:00+00:00</xmp:CreateDate>" in xmp
    assert b"/S /GTS_PDFA1" in pdf  # the sRGB output intent


def test_dejavu_is_embedded_and_no_base14_font_is_used(reports):
    pdf = reports["full"].documents.pdf
    base_fonts = re.findall(rb"/BaseFont /(\S+)", pdf)
    assert base_fonts and all(b"+DejaVuSans" in name for name in base_fonts)
    assert len(re.findall(rb"/FontFile2 \d+ 0 R", pdf)) == 2  # regular and bold, both embedded


def test_the_doctor_reads_identity_call_readings_and_news2(reports):
    said = text(reports["full"].documents.pdf)
    for expected in ("Compte rendu de téléconsultation assistée", "EHPAD Les Tilleuls", "DÉMO",
                     "Jeanne Marie Louise", "MARTINEZ", f"{INS} — identité qualifiée",
                     f"Dr Marc Téléconsultant (RPPS {DOCTOR_RPPS})", "Camille Soignante",
                     "Toux et fièvre depuis trois jours",
                     "Température corporelle", "38,40 °C", "élevée", "Acme T100 (Thermo-1)",
                     "Fréquence respiratoire", "22 /min", "saisie manuelle", "01/05/2024 10:15",
                     "NEWS2 : 6 — risque moyen", "Bronchite aiguë probable", "surveillance renforcée",
                     "Paracétamol 1 g", "Résidente fatiguée", "réévaluation à 48 heures",
                     "Appel au SAMU (15)", "Appel au 15 à 10:20 par Camille Soignante.",
                     "Document généré par Relais — page 1/"):
        assert expected in said, expected
    assert "Version" not in said and "Addenda" not in said


def test_a_partial_news2_says_what_is_missing(reports):
    said = text(reports["partial"].documents.pdf)
    assert "NEWS2 partiel : 0 — incomplet — manquent : fréquence respiratoire, air ou oxygène" in said
    assert "risque faible" not in said
    assert "identité provisoire (non qualifiée) — pas d'INS transmis" in said
    assert "Pharmacie du Marché" in said


def test_the_second_version_says_so_and_carries_the_addendum(reports):
    said = text(reports["addendum"].documents.pdf)
    assert "Version 2 du 02/05/2024 09:00 : remplace la version 1" in said
    assert "Température à 37,2 °C ce matin, toux en diminution. (Camille Soignante," in said


def test_the_same_input_gives_the_same_bytes(reports):
    report = reports["addendum"]
    again = report_pdf(report.content, version=2, created_at=report.created_at)
    assert again == report.documents.pdf
    later = report_pdf(report.content, version=2, created_at="2024-05-02T09:00:01+02:00")
    assert later != again and "<xmp:CreateDate>2024-05-02T07:00:01+00:00</xmp:CreateDate>" in _xmp(later)
