"""Identity rules of the guided session, as plain Python with the real store: which status staff may set by hand
(national identity-vigilance referential, RNIV), the document a validated identity needs (with the nursing-home
allowance only in an EHPAD), and probable duplicates that follow what is typed, the usual name included."""
from __future__ import annotations

from mobile.messages import error_text
from mobile.workflow import SessionWorkflow
from tests.support.workflow import DEMO, NOW, ScriptedThermometer, refused, set_up_tablet, sign_in

MARTIN = dict(family_name="MARTIN", given_name="Germaine", birth_date="1934-05-06", sex="F",
              birth_place_insee="69123")


def workflow(store, site_kind: str = "ehpad") -> SessionWorkflow:
    set_up_tablet(store)
    if site_kind != "ehpad":
        site_id = store.add_site(kind=site_kind, name="Pharmacie du Marché")
        store.set_setting("site_id", site_id)
    wf = SessionWorkflow(store, ScriptedThermometer(), clock=lambda: NOW)
    sign_in(wf)
    return wf


def test_retrieved_and_qualified_are_not_set_by_hand(store):
    wf = workflow(store)
    for status in ("RECUP", "QUAL", "qual"):
        with refused("patient.identity_status.insi_only") as caught:
            wf.create_patient(**DEMO, identity_status=status, identity_method="INSI")
    assert "téléservice INSi, que la tablette ne peut pas joindre" in error_text(caught.value, "fr")
    assert "INSi teleservice, which this tablet cannot reach" in error_text(caught.value, "en")
    with refused("patient.ins.insi_only"):
        wf.create_patient(**DEMO, identity_status="PROV", ins="238047505612328")
    assert store.find_patients("") == []


def test_validated_needs_a_document_from_the_list(store):
    wf = workflow(store)
    with refused("patient.identity_document.missing"):
        wf.create_patient(**DEMO, identity_status="VALI")
    with refused("patient.identity_document.not_here"):
        wf.create_patient(**DEMO, identity_status="VALI", identity_document="permis de conduire")
    with refused("patient.identity_document.provisional"):
        wf.create_patient(**DEMO, identity_status="PROV", identity_document="CN")
    assert store.find_patients("") == []
    patient_id = wf.create_patient(**DEMO, identity_status="VALI", identity_document="CN")
    assert store.get_patient(patient_id)["identity_status"] == "VALI"
    assert store.get_patient(patient_id)["identity_document"] == "CN"
    assert wf.create_patient(**MARTIN)  # provisional needs no document


def test_the_nursing_home_allowance_only_in_a_nursing_home(store, tmp_path):
    ehpad = workflow(store)
    assert ehpad.identity_documents() == ("CN", "PA", "CS", "LECV", "ANCV")
    patient_id = ehpad.create_patient(**MARTIN, identity_status="VALI", identity_document="LECV")
    assert store.get_patient(patient_id)["identity_document"] == "LECV"

    from sync.store import Store
    with Store(tmp_path / "pharmacy.db") as other:
        pharmacy = workflow(other, site_kind="pharmacie")
        assert pharmacy.identity_documents() == ("CN", "PA", "CS")
        with refused("patient.identity_document.not_here"):
            pharmacy.create_patient(**MARTIN, identity_status="VALI", identity_document="LECV")


def test_the_duplicates_follow_the_typed_traits(store):
    wf = workflow(store)
    martin = store.add_patient(**MARTIN, usual_name="Lefort")
    typed = dict(MARTIN, birth_date="06/05/1934")
    assert [p["id"] for p in wf.check_duplicates(**typed)] == [martin]
    assert [p["id"] for p in wf.state.duplicates] == [martin]
    assert wf.check_duplicates(**typed | {"family_name": "DURAND", "given_name": "Paul"}) == []
    assert wf.state.duplicates == []  # gone as soon as nothing matches
    # the name staff call her by, typed where the birth name goes, still finds her
    assert [p["id"] for p in wf.check_duplicates(**typed | {"family_name": "lefort", "given_name": "Ginette"})] \
        == [martin]
    assert [p["id"] for p in wf.check_duplicates(**typed | {"family_name": "Roux", "usual_name": "Martin",
                                                              "given_name": "Ginette"})] == [martin]
    assert wf.check_duplicates(**typed | {"birth_date": "07/05/1934"}) == []
    assert wf.check_duplicates(**typed | {"birth_date": "06/05/19"}) == []  # a date still being typed
