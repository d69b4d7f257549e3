"""The three documents built together: each one carries the one before it, and the whole build is quick enough for
the close transaction (measured on the shared fixtures)."""
from __future__ import annotations

import base64
import io
import zipfile


def test_the_archive_carries_the_cda_which_carries_the_pdf(reports):
    documents = reports["addendum"].documents
    assert documents.version == 2
    cda = zipfile.ZipFile(io.BytesIO(documents.xdm)).read("IHE_XDM/SUBSET01/DOC0001.XML")
    assert cda == documents.cda
    assert base64.b64encode(documents.pdf) in documents.cda


def test_building_the_documents_is_quick_enough_for_the_close(reports):
    seconds = {name: round(report.seconds, 3) for name, report in reports.items()}
    print(f"build_documents seconds: {seconds}")
    assert max(seconds.values()) < 5, seconds
