"""The report built in a child process (sync.delivery.renderer): the same bytes as in this process, a child started
ahead used by the next build, the calling process never loading the document libraries, and a child that cannot
start, fails or runs over its time replaced by a build here, with nothing of the report in the log."""
from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sync.delivery.renderer import IN_PROCESS, ChildProcessRenderer, renderer_of
from tests.sync.delivery.conftest import GP_ADDRESS, SENDER

ROOT = Path(__file__).resolve().parents[3]


def _ids(report, previous_id=None) -> dict:
    documents = report.documents
    return dict(document_id=documents.document_id, set_id=documents.set_id, version=documents.version,
                created_at=report.created_at, previous_id=previous_id, sender=SENDER, recipients=(GP_ADDRESS,))


def test_a_child_builds_the_same_documents_and_pdf_as_this_process(reports, caplog):
    renderer = ChildProcessRenderer()
    full, addendum = reports["full"], reports["addendum"]
    with caplog.at_level(logging.WARNING, logger="sync.delivery.renderer"):
        assert renderer.documents(full.content, **_ids(full)) == full.documents
        assert renderer.documents(addendum.content, **_ids(addendum, full.documents.document_id)) \
            == addendum.documents
        pdf = renderer.pdf(full.content, version=1, created_at=full.created_at)
    assert caplog.text == ""  # built by the children, none replaced by a build here
    assert pdf == IN_PROCESS.pdf(full.content, version=1, created_at=full.created_at)
    assert pdf.startswith(b"%PDF-")


def test_a_child_started_ahead_builds_the_next_report_and_only_one_waits(reports):
    renderer = ChildProcessRenderer()
    renderer.prepare()
    waiting = renderer._ready
    renderer.prepare()  # already one waiting: kept, no second child
    assert renderer._ready is waiting and waiting.poll() is None
    full = reports["full"]
    assert renderer.documents(full.content, **_ids(full)) == full.documents
    assert waiting.returncode == 0 and renderer._ready is None  # that child did the build, then ended


def test_a_child_started_ahead_and_not_needed_is_stopped_at_close():
    renderer = ChildProcessRenderer()
    renderer.prepare()
    waiting = renderer._ready
    renderer.close()
    assert waiting.poll() is not None and renderer._ready is None


def test_a_child_whose_parent_quits_ends_on_its_own():
    child = subprocess.run([sys.executable, "-m", "sync.delivery.render_worker"], input=b"", cwd=ROOT,
                           capture_output=True, timeout=60)
    assert child.returncode == 0 and child.stdout == b""


def test_the_calling_process_never_imports_the_document_libraries(tmp_path):
    script = textwrap.dedent("""
        import sys
        from tests.sync.delivery.conftest import _build
        from tests.sync.delivery.sessions import full_session
        from sync.delivery.renderer import ChildProcessRenderer
        from sync.store import Store

        with Store(sys.argv[1]) as store:
            store.report_renderer = ChildProcessRenderer()
            session_id = full_session(store, recipients=(("gp", "paul.generaliste@demo.mssante.fr"),))
            (document,) = store.query("SELECT pdf, cda FROM report_documents WHERE session_id = ?", [session_id])
        assert document["pdf"].startswith(b"%PDF-") and b"ClinicalDocument" in document["cda"]
        print(sorted(m for m in ("fpdf", "fontTools", "lxml") if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "relais.db")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("python, timeout, why", [
    ("/bin/false", 60.0, "failed (exit code 1)"),
    (sys.executable, 0.01, "ran over"),
])
def test_a_child_that_fails_or_runs_over_is_replaced_by_a_build_here(reports, caplog, python, timeout, why):
    renderer = ChildProcessRenderer(python=python, timeout=timeout)
    full = reports["full"]
    with caplog.at_level(logging.WARNING, logger="sync.delivery.renderer"):
        assert renderer.documents(full.content, **_ids(full)) == full.documents
    assert why in caplog.text
    assert full.content.patient.birth_family_name not in caplog.text


def test_without_an_interpreter_to_start_the_store_builds_here(monkeypatch, reports):
    assert not ChildProcessRenderer.available("/nonexistent/python")
    monkeypatch.setenv("ANDROID_ARGUMENT", "/data/app")
    assert not ChildProcessRenderer.available()
    renderer = ChildProcessRenderer(python="/nonexistent/python")
    full = reports["full"]
    assert renderer.documents(full.content, **_ids(full)) == full.documents


def test_a_store_without_a_renderer_builds_in_this_process(tmp_path):
    class Bare:
        pass

    assert renderer_of(Bare()) is IN_PROCESS
