"""The Store API beyond patients: staff, sites, session context, consent, notes, summary, every device code with
its units, blood pressure panels, complete closing, abandoning; bad input refused with a code that names the
problem and the field, and nothing written."""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from sync import fhir, outbox
from sync.store import (InputError, NotFoundError, SessionStateError, Store, finess_key_valid, luhn_valid)
from tests.support.samples import SAMPLE_TRAITS, closed_session
from sync import closing


@pytest.fixture
def staff_id(store):
    return store.add_staff(display_name="Inès Infirmière", role="infirmier", rpps="10000000001")


@pytest.fixture
def session_id(store):
    return store.open_session(store.add_patient(**SAMPLE_TRAITS))


def refused(exc: pytest.ExceptionInfo, field: str | None) -> str:
    """The refusal names the input at fault; returns its code (the words are the app's catalog's business)."""
    assert exc.value.field == field
    assert exc.value.code and exc.value.code == exc.value.code.lower() and "." in exc.value.code
    return exc.value.code


# -- staff and sites ----------------------------------------------------------------------------------------------

def test_staff_members(store):
    a = store.add_staff(display_name="  Aline  Aide ", role="aide_soignant")
    b = store.add_staff(display_name="Dr Médecin", role="medecin", rpps="100 0000 0002", pin_hash="x$y")
    c = store.add_staff(display_name="Phil Pharma", role="pharmacien", adeli="2a1234567")
    assert store.get_staff(a)["display_name"] == "Aline  Aide" and store.get_staff(a)["active"] == 1
    assert store.get_staff(b)["rpps"] == "10000000002" and store.get_staff(c)["adeli"] == "2A1234567"
    store.set_staff_active(a, False)
    assert [s["id"] for s in store.list_staff(active_only=True)] == [b, c]
    assert len(store.list_staff()) == 3


@pytest.mark.parametrize("kwargs,field,code", [
    ({"display_name": " "}, "display_name", "staff.display_name.required"),
    ({"display_name": "x" * 101}, "display_name", "staff.display_name.too_long"),
    ({"display_name": 42}, "display_name", "input.not_text"),
    ({"role": "chirurgien"}, "role", "staff.role.invalid"),
    ({"rpps": "1234"}, "rpps", "identifier.rpps.format"),
    ({"rpps": "1000000000A"}, "rpps", "identifier.rpps.format"),
    ({"adeli": "12"}, "adeli", "identifier.adeli.format"),
    ({"pin_hash": ""}, "pin_hash", "staff.pin_hash.invalid"),
    ({"pin": "12a4"}, "pin", "pin.format"),
    ({"active": "yes"}, "active", "input.not_bool"),
    ({"is_admin": 1}, "is_admin", "input.not_bool"),
])
def test_bad_staff_is_refused_with_a_code(store, kwargs, field, code):
    with pytest.raises(InputError) as info:
        store.add_staff(**{"display_name": "Aline", "role": "aide_soignant", **kwargs})
    assert refused(info, field) == code
    assert store.list_staff() == []


def test_a_national_number_belongs_to_one_staff_member(store, staff_id):
    with pytest.raises(InputError) as info:
        store.add_staff(display_name="Autre", role="medecin", rpps="10000000001")
    assert refused(info, "rpps") == "staff.rpps.taken"
    store.add_staff(display_name="Phil", role="pharmacien", adeli="2a1234567")
    with pytest.raises(InputError) as info:
        store.add_staff(display_name="Autre", role="pharmacien", adeli="2A1234567")
    assert refused(info, "adeli") == "staff.adeli.taken"


def test_sites_and_finess(store):
    assert luhn_valid("750712184") and finess_key_valid("750712184") and finess_key_valid("330780321")
    site = store.add_site(kind="ehpad", name="EHPAD Les Tilleuls", finess="75 071 218 4", ars_declaration="ARS-1")
    assert store.get_site(site)["finess"] == "750712184"
    corsica = store.add_site(kind="pharmacie", name="Pharmacie du Port", finess="2A0000015")  # format only
    assert [s["id"] for s in store.list_sites()] == [site, corsica]
    with pytest.raises(InputError) as info:
        store.add_site(kind="ehpad", name="Doublon", finess="750712184")
    assert refused(info, "finess") == "site.finess.taken"


@pytest.mark.parametrize("kwargs,field,code", [
    ({"kind": "hopital"}, "kind", "site.kind.invalid"),
    ({"name": ""}, "name", "site.name.required"),
    ({"name": "x" * 201}, "name", "site.name.too_long"),
    ({"ars_declaration": "x" * 65}, "ars_declaration", "site.ars_declaration.too_long"),
    ({"finess": "750712185"}, "finess", "identifier.finess.key"),
    ({"finess": "7507121"}, "finess", "identifier.finess.format"),
    ({"finess": "2C0000015"}, "finess", "identifier.finess.format"),
])
def test_bad_sites_are_refused_with_a_code(store, kwargs, field, code):
    with pytest.raises(InputError) as info:
        store.add_site(**{"kind": "ehpad", "name": "EHPAD", **kwargs})
    assert refused(info, field) == code
    assert store.list_sites() == []


# -- the session's context ------------------------------------------------------------------------------------------

def test_update_session_sets_only_what_is_given(store, session_id, staff_id):
    site = store.add_site(kind="ehpad", name="EHPAD")
    updated = store.update_session(session_id, reason="Fièvre depuis hier", site_id=site, staff_id=staff_id,
                                   started_at="2024-05-01T10:00:00+02:00", remote_doctor_name="Dr Distant",
                                   remote_doctor_rpps="10000000003", companion_present=True,
                                   interpreter_present=False, callback_phone="01 23 45 67 89")
    assert (updated["reason"], updated["site_id"], updated["staff_id"], updated["callback_phone"],
            updated["companion_present"], updated["interpreter_present"]) == \
        ("Fièvre depuis hier", site, staff_id, "0123456789", 1, 0)
    again = store.update_session(session_id, ended_at=dt.datetime(2024, 5, 1, 8, 20, tzinfo=dt.timezone.utc),
                                 companion_present=None)
    assert again["reason"] == "Fièvre depuis hier" and again["companion_present"] is None
    assert again["ended_at"] == "2024-05-01T08:20:00+00:00"
    assert store.open_session(store.find_patients()[0]["id"], site_id=site, staff_id=staff_id)


@pytest.mark.parametrize("kwargs,field,code", [
    ({"started_at": "2024-05-01T10:00:00"}, "started_at", "input.datetime.timezone"),
    ({"ended_at": "hier"}, "ended_at", "input.datetime.timezone"),
    ({"remote_doctor_rpps": "123"}, "remote_doctor_rpps", "identifier.rpps.format"),
    ({"remote_doctor_name": "x" * 101}, "remote_doctor_name", "session.remote_doctor_name.too_long"),
    ({"callback_phone": "appelez-moi"}, "callback_phone", "input.phone.format"),
    ({"companion_present": "oui"}, "companion_present", "input.not_bool"),
    ({"checklist_room_closed": 1}, "checklist_room_closed", "input.not_bool"),
    ({"reason": "x" * 501}, "reason", "session.reason.too_long"),
    ({"staff": "x" * 101}, "staff", "session.staff.too_long"),
    ({"staff_id": 42}, "staff_id", "staff.required"),
    ({"started_at": "2024-05-01T10:00:00+02:00", "ended_at": "2024-05-01T09:00:00+02:00"}, "ended_at",
     "session.ended_at.before_start"),
])
def test_bad_session_context_is_refused_with_a_code(store, session_id, kwargs, field, code):
    before = store.get_session(session_id)
    with pytest.raises(InputError) as info:
        store.update_session(session_id, **kwargs)
    assert refused(info, field) == code
    assert store.get_session(session_id) == before


def test_unknown_or_inactive_references_are_refused(store, session_id, staff_id):
    with pytest.raises(NotFoundError) as info:
        store.update_session(session_id, site_id="nowhere")
    assert (info.value.code, info.value.params) == ("site.not_found", {"id": "nowhere"})
    store.set_staff_active(staff_id, False)
    with pytest.raises(InputError) as info:
        store.update_session(session_id, staff_id=staff_id)
    assert refused(info, "staff_id") == "staff.inactive"
    with pytest.raises(InputError) as info:
        store.record_consent(session_id, decision="given", recorded_by=staff_id)
    assert refused(info, "recorded_by") == "staff.inactive"


# -- consent, notes, summary ----------------------------------------------------------------------------------------

def test_consent_history_the_last_decision_is_in_force(store, session_id, staff_id):
    assert store.consent_decision(session_id) is None
    store.record_consent(session_id, decision="refused", recorded_by=staff_id)
    store.record_consent(session_id, decision="given", given_by="trusted_person", given_by_name="Paul Martin",
                         recorded_by=staff_id, recorded_at="2024-05-01T10:05:00+02:00")
    rows = store.consents(session_id)
    assert [r["decision"] for r in rows] == ["refused", "given"] and store.consent_decision(session_id) == "given"
    assert (rows[1]["given_by"], rows[1]["given_by_name"], rows[1]["recorded_at"]) == \
        ("trusted_person", "Paul Martin", "2024-05-01T10:05:00+02:00")


@pytest.mark.parametrize("kwargs,field,code", [
    ({"decision": "maybe"}, "decision", "consent.decision.invalid"),
    ({"given_by": "neighbour"}, "given_by", "consent.given_by.invalid"),
    ({"given_by": "legal_representative"}, "given_by_name", "consent.given_by_name.required"),
    ({"given_by": "trusted_person", "given_by_name": "P" * 101}, "given_by_name", "consent.given_by_name.too_long"),
    ({"given_by_name": "Paul"}, "given_by_name", "consent.given_by_name.not_for_patient"),
    ({"recorded_at": "hier"}, "recorded_at", "input.datetime.timezone"),
    ({"recorded_by": None}, "recorded_by", "staff.required"),
])
def test_bad_consent_is_refused_with_a_code(store, session_id, staff_id, kwargs, field, code):
    with pytest.raises(InputError) as info:
        store.record_consent(session_id, **{"decision": "given", "recorded_by": staff_id, **kwargs})
    assert refused(info, field) == code
    assert store.consents(session_id) == []


def test_notes_and_their_authors(store, session_id, staff_id):
    store.update_session(session_id, remote_doctor_name="Dr Distant")
    conclusion = store.add_note(session_id, kind="remote_doctor_conclusion", text="Pas de signe de gravité.")
    note = store.add_note(session_id, kind="staff_note", text="Patiente anxieuse.\nRassurée.", staff_id=staff_id)
    assert [(n["id"], n["author"]) for n in store.notes(session_id)] == \
        [(conclusion, "Dr Distant"), (note, "Inès Infirmière")]
    assert store.notes(session_id)[1]["text"] == "Patiente anxieuse.\nRassurée."
    other = store.open_session(store.find_patients()[0]["id"])
    with pytest.raises(InputError) as info:
        store.add_note(other, kind="remote_doctor_conclusion", text="Sans auteur")
    assert refused(info, "author") == "note.author.required"
    with pytest.raises(InputError) as info:
        store.add_note(other, kind="memo", text="x", author="A")
    assert refused(info, "kind") == "note.kind.invalid"
    with pytest.raises(InputError) as info:
        store.add_note(other, kind="staff_note", text="  ", author="A")
    assert refused(info, "text") == "note.text.required"
    with pytest.raises(InputError) as info:
        store.add_note(other, kind="staff_note", text="x" * 10001, author="A")
    assert refused(info, "text") == "note.text.too_long"
    with pytest.raises(InputError) as info:
        store.add_note(other, kind="staff_note", text="x", author="A" * 101)
    assert refused(info, "author") == "note.author.too_long"


def test_summary_is_set_then_replaced_while_open(store, session_id):
    first = store.set_summary(session_id, text="Brouillon")
    again = store.set_summary(session_id, text="Synthèse définitive.", recipient_name="Dr Traitant",
                              recipient_rpps="10000000004")
    summary = store.get_summary(session_id)
    assert first == again and (summary["text"], summary["recipient_rpps"]) == ("Synthèse définitive.", "10000000004")
    with pytest.raises(InputError) as info:
        store.set_summary(session_id, text="x", recipient_rpps="12")
    assert refused(info, "recipient_rpps") == "identifier.rpps.format"
    with pytest.raises(InputError) as info:
        store.set_summary(session_id, text=" ")
    assert refused(info, "text") == "summary.text.required"
    with pytest.raises(InputError) as info:
        store.set_summary(session_id, text="x", recipient_name="D" * 101)
    assert refused(info, "recipient_name") == "summary.recipient_name.too_long"


# -- measurements: every device code, units per code, blood pressure panels ----------------------------------------

@pytest.mark.parametrize("code,unit", [
    ("8310-5", "Cel"), ("8310-5", "[degF]"), ("59408-5", "%"), ("2708-6", "%"), ("8867-4", "/min"),
])
def test_every_single_value_code_the_devices_produce(store, session_id, code, unit):
    store.add_measurement(session_id, code=code, value="90", unit=unit)
    assert store.measurements(session_id)[0]["unit"] == unit


@pytest.mark.parametrize("code,unit", [
    ("8310-5", "%"), ("59408-5", "/min"), ("8867-4", "%"), ("8867-4", "{beats}/min"), ("8480-6", "Cel"),
    ("8462-4", "mmHg"), ("59408-5", "Cel"),
])
def test_units_are_checked_per_code(store, session_id, code, unit):
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code=code, value="90", unit=unit, panel_id="p")
    assert refused(info, "unit") == "measurement.unit.not_allowed"
    assert info.value.params["loinc"] == code and info.value.params["allowed"]
    assert store.measurements(session_id) == []


@pytest.mark.parametrize("unit", ["mm[Hg]", "kPa"])
def test_a_blood_pressure_reading_is_one_panel(store, session_id, unit):
    for code, value in (("8480-6", "132"), ("8462-4", "81"), ("8478-0", "98")):
        store.add_measurement(session_id, code=code, value=value, unit=unit, panel_id="cuff-1",
                              measured_at="2024-05-01T10:00:00+02:00")
    assert {m["panel_id"] for m in store.measurements(session_id)} == {"cuff-1"}
    closing.close_session(store, session_id)


def test_panel_rules(store, session_id):
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code="8480-6", value="120", unit="mm[Hg]")
    assert refused(info, "panel_id") == "measurement.panel_id.required"
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel", panel_id="p")
    assert refused(info, "panel_id") == "measurement.panel_id.not_bp"
    store.add_measurement(session_id, code="8480-6", value="120", unit="mm[Hg]", panel_id="p")
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code="8480-6", value="121", unit="mm[Hg]", panel_id="p")
    assert refused(info, "panel_id") == "measurement.panel_id.duplicate"
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code="8462-4", value="10", unit="kPa", panel_id="p")
    assert refused(info, "unit") == "measurement.unit.panel_mismatch"
    with pytest.raises(SessionStateError) as info:  # an incomplete reading cannot be shipped
        closing.close_session(store, session_id)
    assert info.value.code == "session.bp_panel.missing_diastolic"
    store.add_measurement(session_id, code="8462-4", value="80", unit="mm[Hg]", panel_id="p")
    store.add_measurement(session_id, code="8462-4", value="79", unit="mm[Hg]", panel_id="p2")
    with pytest.raises(SessionStateError) as info:
        closing.close_session(store, session_id)
    assert info.value.code == "session.bp_panel.missing_systolic"
    store.add_measurement(session_id, code="8478-0", value="95", unit="mm[Hg]", panel_id="p3")
    store.add_measurement(session_id, code="8480-6", value="118", unit="mm[Hg]", panel_id="p2")
    with pytest.raises(SessionStateError) as info:
        closing.close_session(store, session_id)
    assert info.value.code == "session.bp_panel.missing_both"
    assert store.session_sync_state(session_id) == "open"


@pytest.mark.parametrize("kwargs,field,code", [
    ({"code": "0000-0"}, "code", "measurement.code.unsupported"),
    ({"value": 37.6}, "value", "measurement.value.decimal"),
    ({"code": "67775-7", "unit": "", "value": "Z"}, "value", "measurement.value.not_allowed"),
    ({"source": "telepathy"}, "source", "measurement.source.invalid"),
    ({"device": {"colour": "red"}}, "device", "measurement.device.unknown_fields"),
    ({"device": {"name": 3}}, "device", "measurement.device.not_text"),
    ({"raw": "text"}, "raw", "measurement.raw.not_bytes"),
    ({"status": "site:armpit"}, "status", "measurement.status.not_list"),
    ({"status": [1]}, "status", "measurement.status.not_list"),
    ({"measured_at": "2024-05-01T10:15:00"}, "measured_at", "input.datetime.timezone"),
    ({"received_at": dt.datetime(2024, 5, 1, 10, 15)}, "received_at", "input.datetime.timezone"),
])
def test_measurement_errors_carry_a_code(store, session_id, kwargs, field, code):
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, **{"code": "8310-5", "value": "37.6", "unit": "Cel", **kwargs})
    assert refused(info, field) == code
    assert "37.6" not in str(info.value)  # no measured value in what may reach a log
    assert store.measurements(session_id) == []


# -- closing and abandoning -----------------------------------------------------------------------------------------

def test_close_still_works_for_v1_callers_and_complete_closing_demands_consent_and_summary(store, session_id,
                                                                                            staff_id):
    _, plain, _ = closed_session(store, family_name="Simple")  # v1 call: no consent, no summary
    assert store.session_sync_state(plain) == "pending"
    store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel")
    with pytest.raises(SessionStateError) as info:
        closing.close_session(store, session_id, require_complete=True)
    assert info.value.code == "session.consent_missing"
    store.record_consent(session_id, decision="given", recorded_by=staff_id)
    with pytest.raises(SessionStateError) as info:
        closing.close_session(store, session_id, require_complete=True)
    assert info.value.code == "session.summary_missing"
    store.set_summary(session_id, text="RAS.")
    oid = closing.close_session(store, session_id, require_complete=True)
    payload = outbox.get_entry(store, oid).payload
    assert '"resourceType":"Consent"' in payload and '"resourceType":"Composition"' in payload


def test_nothing_is_added_to_a_closed_session(store, session_id, staff_id):
    store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel")
    closing.close_session(store, session_id)
    for call in (lambda: store.record_consent(session_id, decision="given", recorded_by=staff_id),
                 lambda: store.add_note(session_id, kind="staff_note", text="x", author="A"),
                 lambda: store.set_summary(session_id, text="x"),
                 lambda: store.update_session(session_id, reason="x"),
                 lambda: store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel")):
        with pytest.raises(SessionStateError) as info:
            call()
        assert (info.value.code, info.value.params) == ("session.closed", {"session_id": session_id})
    with pytest.raises(sqlite3.IntegrityError):  # the database refuses it too
        with store.transaction():
            store.conn.execute("INSERT INTO notes (id, session_id, kind, author, text, created_at) VALUES "
                               "('n', ?, 'staff_note', 'A', 'x', 'now')", [session_id])


def test_abandoned_session_is_kept_frozen_and_never_uploaded(store, session_id):
    store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel")
    store.abandon_session(session_id)
    session = store.get_session(session_id)
    assert session["state"] == "abandoned" and session["closed_at"] is not None
    assert store.session_sync_state(session_id) == "abandoned"
    assert store.outbox_counts() == {"pending": 0, "in_flight": 0, "sent": 0, "rejected": 0}
    with pytest.raises(SessionStateError) as info:
        closing.close_session(store, session_id)
    assert info.value.code == "session.abandoned.cannot_close"
    with pytest.raises(SessionStateError) as info:
        store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel")
    assert info.value.code == "session.abandoned"
    with pytest.raises(SessionStateError) as info:
        store.abandon_session(session_id)
    assert info.value.code == "session.abandoned"


def test_identity_collection_method_and_birth_given_names(store):
    pid = store.add_patient(**{**SAMPLE_TRAITS, "given_name": "Jeanne"}, identity_method="av",
                            birth_given_names="Jeanne Marie Louise")
    patient = store.get_patient(pid)
    assert (patient["identity_method"], patient["birth_given_names"]) == ("AV", "Jeanne Marie Louise")
    from sync.store import IdentityError
    with pytest.raises(IdentityError) as info:
        store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Autre"}, identity_method="QR")
    assert refused(info, "identity_method") == "identity.identity_method.invalid"
    with pytest.raises(IdentityError) as info:
        store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Autre"}, birth_given_names="Marie Jeanne")
    assert refused(info, "birth_given_names") == "identity.birth_given_names.order"
    with pytest.raises(IdentityError) as info:
        store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Autre"}, resident_id=12)
    assert refused(info, "resident_id") == "identity.resident_id.not_text"


def test_demo_store_refuses_an_unknown_ins_authority(tmp_path):
    with pytest.raises(ValueError):
        Store(tmp_path / "x.db", ins_system="urn:oid:1.2.3")
    with Store(tmp_path / "y.db", ins_system=fhir.INS_DEMO_SYSTEM) as demo:
        assert demo.ins_system == fhir.INS_DEMO_SYSTEM


def test_store_and_fhir_agree_on_the_code_lists():
    from sync import store as store_module
    assert set(store_module.STAFF_ROLES) == set(fhir.STAFF_ROLES)
    assert set(store_module.SITE_KINDS) == set(fhir.SITE_KINDS)
    assert set(store_module.CONSENT_GRANTORS) == set(fhir.CONSENT_GRANTORS)
    assert fhir.PANEL_CODES == {"8480-6", "8462-4", "8478-0"}
