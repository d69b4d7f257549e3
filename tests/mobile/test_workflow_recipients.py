"""The report's recipients through the workflow, with the real store: the Mon espace santé question at consent
(qualified identity only, required then), the close recording the doctor and the patient's MES box and remembering
the doctor, the next session prefilled, and the PDF copy handed out from a private folder."""
from __future__ import annotations

import os
import stat

import pytest

from mobile.workflow import SessionWorkflow
from sync.delivery.annuaire import import_directory
from sync.delivery.renderer import IN_PROCESS
from tests.support.directory import write_extraction
from tests.support.workflow import DEMO, NOW, ScriptedThermometer, reading_from, refused, \
    set_up_tablet, sign_in, start

INS = "238047505612394"  # fictitious (born 1938-04 in Paris), valid key
QUALIFIED = dict(DEMO, identity_status="QUAL", ins=INS, identity_document="CN")
GP = {"name": "Claire MARTIN", "address": "claire.martin@medecin.mssante.fr", "rpps": "10000000001"}


@pytest.fixture
def store(store):
    set_up_tablet(store)
    return store


def workflow(store, opened=None):
    reader = ScriptedThermometer(*[reading_from("04B00E00FE04") for _ in range(3)])
    wf = SessionWorkflow(store, reader, clock=lambda: NOW, report_opener=(opened.append if opened is not None
                                                                          else lambda _path: None))
    sign_in(wf)
    return wf


def choose(wf, store, traits) -> str:
    patient_id = store.add_patient(**traits)
    wf.select_patient(patient_id)
    return patient_id


async def measure_and_reach_summary(wf):
    await wf.measure_temperature()
    wf.accept()
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="16", consciousness="A", on_oxygen=False)
    wf.start_call(doctor_name="Dr Marc Téléconsultant")
    wf.end_call(conclusion="Pas de signe de gravité.", orientation="stay")


async def test_a_qualified_patient_is_asked_about_mes_and_the_close_records_both_recipients(store, tmp_path):
    import_directory(store, write_extraction(tmp_path))
    wf = workflow(store)
    patient_id = choose(wf, store, QUALIFIED)
    assert wf.asks_mes()
    with refused("session.mes_answer_missing"):
        start(wf)
    start(wf, mes_opposed=False)
    await measure_and_reach_summary(wf)
    assert wf.remembered_gp() is None and wf.mes().address == f"{INS}@patient.mssante.fr"
    assert wf.mssante_configured() is False
    [found] = [r for r in wf.search_directory("martin lyon")]
    session_id = wf.close(summary=wf.state.summary_draft, gp={k: found[k] for k in ("name", "address", "rpps")})
    assert [(r["kind"], r["address"], r["name"]) for r in store.report_recipients(session_id)] == [
        ("gp", GP["address"], "Claire MARTIN"), ("patient", f"{INS}@patient.mssante.fr", None)]
    assert store.patient_gp(patient_id) == GP
    assert store.get_summary(session_id)["recipient_name"] == "Claire MARTIN"  # the FHIR Composition's recipient

    # the next session for this patient: the doctor is prefilled, with the directory's city
    wf.new_session()
    wf.select_patient(patient_id)
    start(wf, mes_opposed=True)
    await measure_and_reach_summary(wf)
    assert wf.remembered_gp() == {**GP, "city": "LYON"}
    assert wf.mes().reason == "opposed"
    session_id = wf.close(summary=wf.state.summary_draft, gp=GP)
    assert [r["kind"] for r in store.report_recipients(session_id)] == ["gp"]


async def test_a_provisional_identity_is_not_asked_and_no_known_doctor_still_closes(store):
    wf = workflow(store)
    choose(wf, store, DEMO)
    assert not wf.asks_mes()
    start(wf, mes_opposed=True)  # an answer for an identity that is not asked is not recorded
    assert store.consents(wf.state.session_id)[-1]["mes_opposed"] is None
    await measure_and_reach_summary(wf)
    assert wf.mes().reason == "not_qualified"
    with refused("recipient.address.invalid"):
        wf.close(summary="Synthèse.", gp={"name": "Dr X", "address": "dr x@medecin.fr"})
    with refused("recipient.address.invalid"):
        wf.check_address("claire.martin@medecin")
    assert wf.check_address(" Claire.Martin@Medecin.MSSante.fr ") == GP["address"]
    session_id = wf.close(summary="Synthèse.", gp=None)
    assert store.report_recipients(session_id) == []
    assert store.get_session(session_id)["state"] == "closed"


async def test_the_pdf_copy_is_handed_out_from_a_private_folder(store):
    opened = []
    wf = workflow(store, opened)
    choose(wf, store, DEMO)
    start(wf)
    await measure_and_reach_summary(wf)
    session_id = wf.close(summary="Synthèse.")
    built = wf.report_pdf(session_id)     # no recipient, nothing frozen: built from the closed session when asked
    assert built.startswith(b"%PDF-1.4") and store.query("SELECT count(*) AS n FROM report_documents")[0]["n"] == 0
    with refused("report.pdf_not_ready"):
        wf.hand_out_report("no-such-session")
    with store.transaction():
        for version, pdf in ((1, b"%PDF-1 first"), (2, b"%PDF-1 second")):
            addendum = None
            if version == 2:
                addendum = "a-2"
                store.conn.execute("INSERT INTO addenda (id, session_id, staff_id, text, created_at) VALUES "
                                   "('a-2', ?, ?, 'Remarque.', '2026-11-22T08:00:00+00:00')",
                                   [session_id, wf.state.staff["id"]])
            store.conn.execute("INSERT INTO report_documents (id, session_id, set_id, version, addendum_id, pdf, cda, "
                               "xdm, created_at) VALUES (?, ?, 'set', ?, ?, ?, X'3C', X'50', 'now')",
                               [f"d-{version}", session_id, version, addendum, pdf])
    assert wf.report_pdf(session_id) == b"%PDF-1 second"   # the latest version
    folder = store.path.parent / "print"
    folder.mkdir(mode=0o755)
    (folder / "old-copy.pdf").write_bytes(b"%PDF-1 yesterday")
    path = wf.hand_out_report(session_id)
    assert opened == [path] and path.parent == folder and path.read_bytes() == b"%PDF-1 second"
    assert sorted(p.name for p in folder.iterdir()) == [path.name]          # earlier copies removed
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.name == "compte-rendu-" + NOW.astimezone().strftime("%Y%m%d-%H%M") + ".pdf"


def test_the_app_start_removes_copies_left_behind(tmp_path):
    from tests.support.ui import make_runtime

    folder = tmp_path / "print"
    folder.mkdir()
    (folder / "compte-rendu-20261121-1000.pdf").write_bytes(b"%PDF-1 yesterday")
    runtime = make_runtime(tmp_path, signed_in=False)
    try:
        assert list(folder.iterdir()) == []
    finally:
        runtime.store.close()


def test_the_system_opener_is_xdg_open_else_lp(monkeypatch):
    from sync.delivery import printing

    found = {"xdg-open": None, "lp": "/usr/bin/lp"}
    monkeypatch.setattr(printing.shutil, "which", lambda name: found[name])
    started = []
    monkeypatch.setattr(printing.subprocess, "Popen", lambda args, **_kw: started.append(args))
    printing.system_opener()(printing.Path("/tmp/x.pdf"))
    assert started == [["/usr/bin/lp", "/tmp/x.pdf"]]
    found["lp"] = None
    assert printing.system_opener() is None


async def test_the_summary_model_says_when_the_directory_is_missing_or_finds_nothing(store, tmp_path):
    from mobile.messages import error_text
    from mobile.screens import recipient_texts
    from mobile.screens.viewmodels.summary import SummaryModel
    from mobile.workflow import WorkflowError

    wf = workflow(store)
    choose(wf, store, DEMO)
    start(wf)
    await measure_and_reach_summary(wf)
    model = SummaryModel(wf)
    model.prepare()
    assert (model.gp, model.mes_reason, model.mssante_configured) == (None, "not_qualified", False)
    model.search("martin")
    assert (model.results, recipient_texts.search_note("fr", model.search_note)) == (
        [], "Annuaire non importé sur cette tablette")
    import_directory(store, write_extraction(tmp_path))
    model.search("personne")
    assert recipient_texts.search_note("fr", model.search_note) == "Aucun résultat"
    model.search("dupré")
    model.choose(0)
    assert model.gp["address"] == "jean.dupre@infirmier.mssante.fr" and model.results == []
    model.check_typed("jean dupre@x")
    assert "un seul @" in error_text(model.address_error, "fr")
    model.set_no_gp(True)
    assert model.gp is None and model.chosen("", "") is None
    model.set_no_gp(False)
    with pytest.raises(WorkflowError) as refused_choice:
        model.chosen("", "")
    assert "Pas de médecin traitant connu" in error_text(refused_choice.value, "fr")


class RecordingRenderer:
    """The store's report renderer, seen from the workflow: when it is asked to start ahead, and what it builds."""

    def __init__(self):
        self.calls = []

    def prepare(self):
        self.calls.append("prepare")

    def documents(self, content, **ids):
        self.calls.append("documents")
        return IN_PROCESS.documents(content, **ids)


async def test_reaching_the_summary_starts_the_report_builder_ahead_and_the_close_uses_it(store):
    store.report_renderer = renderer = RecordingRenderer()
    wf = workflow(store)
    choose(wf, store, QUALIFIED)
    start(wf, mes_opposed=False)
    await wf.measure_temperature()
    wf.accept()
    wf.finish_measurements()
    wf.confirm_vitals(respiration_rate="16", consciousness="A", on_oxygen=False)
    wf.start_call(doctor_name="Dr Marc Téléconsultant")
    assert renderer.calls == []  # not during the measurements or the call
    wf.end_call(conclusion="Pas de signe de gravité.", orientation="stay")
    assert renderer.calls == ["prepare"]
    session_id = wf.close(summary=wf.state.summary_draft, gp=GP)
    assert renderer.calls == ["prepare", "documents"]
    (document,) = store.query("SELECT pdf FROM report_documents WHERE session_id = ?", [session_id])
    assert document["pdf"].startswith(b"%PDF-")
