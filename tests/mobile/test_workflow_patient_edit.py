"""Correcting a resident's record from the patient list, as plain Python with the real store: the room and the usual
name, a typo in a provisional identity, its validation against a document, the traits of a qualified identity kept,
nothing stored when a value is refused, the probable duplicates, and no session opened. Each saved change is traced
in the audit trail and queues the resident for the next sync."""
from __future__ import annotations

from sync import audit
from mobile.i18n import tr
from mobile.screens.edit_texts import saved_line
from mobile.workflow import DuplicateWarning, SessionWorkflow
from tests.support.workflow import DEMO, NOW, ScriptedThermometer, refused, set_up_tablet, sign_in

INS = "235047505612347"  # fictitious (born 1935-04 in Paris), valid key
QUALIFIED = dict(family_name="Démo-Tilleul", given_name="Lucette", birth_date="1935-04-02", sex="F",
                 birth_place_insee="75056")
MARTIN = dict(family_name="MARTIN", given_name="Germaine", birth_date="1934-05-06", sex="F",
              birth_place_insee="69123")
# DEMO as the form shows it: the date of birth as staff type it
FORM = dict(DEMO, birth_date="02/04/1938", usual_name="", room="12", identity_status="PROV")


def workflow(store) -> SessionWorkflow:
    set_up_tablet(store)
    wf = SessionWorkflow(store, ScriptedThermometer(), clock=lambda: NOW)
    sign_in(wf)
    return wf


def queued(store, patient_id) -> int:
    """The resident's generation in the queue for the server (0: not queued)."""
    rows = store.query("SELECT generation FROM patient_outbox WHERE patient_id = ? AND state = 'pending'",
                       [patient_id])
    return rows[0]["generation"] if rows else 0


def test_the_room_and_the_usual_name_are_corrected_without_opening_a_session(store):
    wf = workflow(store)
    patient_id = store.add_patient(**DEMO, room="12")
    generation = queued(store, patient_id)
    wf.open_patient_edit(patient_id)
    assert wf.state.step == "patient_edit" and wf.state.editing["id"] == patient_id
    assert wf.state.session_id is None and wf.open_sessions() == []
    assert wf.save_patient_edit(**FORM | {"room": " 14  B ", "usual_name": "Martin"}) == ["room", "usual_name"]
    record = store.get_patient(patient_id)
    assert (record["room"], record["usual_name"], record["family_name"]) == ("14 B", "Martin", "DÉMO")
    assert wf.state.step == "patient" and wf.state.editing is None and wf.state.edited == ("room", "usual_name")
    assert store.query("SELECT count(*) AS n FROM sessions")[0]["n"] == 0
    trail = [(r["action"], r["detail"]) for r in audit.rows(store, subject_id=patient_id)]
    assert ("view", "edit") in trail and trail[-1] == ("change", "edit: room, usual_name")
    assert queued(store, patient_id) == generation + 1
    tr.switch_lang("fr")
    assert saved_line("fr", wf.state.edited) == "Fiche mise à jour : chambre, nom utilisé"
    # the usual name taken away again
    wf.open_patient_edit(patient_id)
    assert wf.save_patient_edit(**FORM | {"room": "14 B", "usual_name": "  "}) == ["usual_name"]
    assert store.get_patient(patient_id)["usual_name"] is None


def test_a_typo_in_a_provisional_identity_is_corrected(store):
    wf = workflow(store)
    patient_id = store.add_patient(**DEMO, room="12")
    wf.open_patient_edit(patient_id)
    keys = wf.save_patient_edit(**FORM | {"family_name": "DÉMO-LEROY", "birth_date": "03/04/1938"})
    assert keys == ["birth_date", "family_name"]
    record = store.get_patient(patient_id)
    assert (record["family_name"], record["birth_date"], record["identity_status"]) == \
        ("DÉMO-LEROY", "1938-04-03", "PROV")


def test_a_provisional_identity_is_validated_with_the_document_checked(store):
    wf = workflow(store)
    patient_id = store.add_patient(**DEMO, room="12")
    wf.open_patient_edit(patient_id)
    with refused("patient.identity_document.missing"):
        wf.save_patient_edit(**FORM | {"identity_status": "VALI"})
    with refused("patient.identity_status.insi_only"):
        wf.save_patient_edit(**FORM | {"identity_status": "QUAL"})
    assert store.get_patient(patient_id)["identity_status"] == "PROV"
    keys = wf.save_patient_edit(**FORM | {"identity_status": "VALI", "identity_document": "LECV",
                                          "identity_method": "SM"})
    assert keys == ["reliability"]
    record = store.get_patient(patient_id)
    assert (record["identity_status"], record["identity_document"], record["identity_method"]) == \
        ("VALI", "LECV", "SM")
    assert audit.rows(store, subject_id=patient_id)[-1]["detail"] == "identity PROV to VALI: reliability"


def test_the_traits_of_a_qualified_identity_are_kept_but_its_room_changes(store):
    wf = workflow(store)
    patient_id = store.add_patient(**QUALIFIED, identity_status="QUAL", ins=INS, room="3")
    wf.open_patient_edit(patient_id)
    with refused("identity.locked") as caught:
        wf.save_patient_edit(family_name="Autre", usual_name="", room="3")
    assert caught.value.field == "family_name" and caught.value.params["status"] == "QUAL"
    with refused("identity.locked"):
        wf.save_patient_edit(room="3", identity_status="VALI", identity_document="CN")
    assert store.get_patient(patient_id)["family_name"] == "Démo-Tilleul"
    assert wf.save_patient_edit(usual_name="Martin", room="4") == ["room", "usual_name"]
    assert store.get_patient(patient_id)["identity_status"] == "QUAL"


def test_a_refused_value_stores_nothing(store):
    wf = workflow(store)
    patient_id = store.add_patient(**DEMO, room="12")
    before, generation = store.get_patient(patient_id), queued(store, patient_id)
    wf.open_patient_edit(patient_id)
    with refused("identity.usual_name.characters"):
        wf.save_patient_edit(**FORM | {"room": "20", "usual_name": "M4rtin"})
    with refused("patient.birth_date.impossible"):
        wf.save_patient_edit(**FORM | {"room": "20", "birth_date": "31/02/1938"})
    with refused("identity.family_name.required"):
        wf.save_patient_edit(**FORM | {"room": "20", "family_name": " "})
    # the room is written before the status in the same transaction: a refused method takes the room back too
    with refused("identity.identity_method.invalid"):
        wf.save_patient_edit(**FORM | {"room": "20", "identity_status": "VALI", "identity_document": "CN",
                                       "identity_method": "XX"})
    assert store.get_patient(patient_id) == before and queued(store, patient_id) == generation
    assert wf.state.step == "patient_edit"  # the form stays open with its message


def test_the_duplicates_follow_the_corrected_traits(store):
    wf = workflow(store)
    patient_id = store.add_patient(**DEMO, room="12")
    martin = store.add_patient(**MARTIN)
    wf.open_patient_edit(patient_id)
    assert wf.check_duplicates(**DEMO) == []  # the resident corrected is not their own duplicate
    like_martin = dict(MARTIN, birth_date="06/05/1934")
    assert [p["id"] for p in wf.check_duplicates(**like_martin)] == [martin]
    assert [p["id"] for p in wf.state.duplicates] == [martin]
    try:
        wf.save_patient_edit(**FORM | like_martin)
    except DuplicateWarning as warning:
        assert [p["id"] for p in warning.candidates] == [martin]
    else:
        raise AssertionError("no duplicate warning")
    assert store.get_patient(patient_id)["family_name"] == "DÉMO"
    assert wf.save_patient_edit(**FORM | like_martin, allow_duplicate=True) == \
        ["birth_date", "birth_place_insee", "family_name", "given_name"]
    assert wf.state.duplicates == []


def test_cancel_changes_nothing_and_the_form_opens_only_from_the_list(store):
    wf = workflow(store)
    patient_id = store.add_patient(**DEMO, room="12")
    before = store.get_patient(patient_id)
    with refused("patient.edit.none"):
        wf.save_patient_edit(**FORM | {"room": "20"})
    wf.open_patient_edit(patient_id)
    wf.cancel_patient_edit()
    assert wf.state.step == "patient" and wf.state.editing is None and wf.state.edited is None
    assert store.get_patient(patient_id) == before
    wf.select_patient(patient_id)
    with refused("patient.edit.not_from_here"):
        wf.open_patient_edit(patient_id)
    wf.lock()
    with refused("auth.sign_in_first"):
        wf.save_patient_edit(room="20")
