"""Schema v2 through the Store API: staff, sites, session context, consent, notes, summary, every device code with
its units, blood pressure panels, complete closing, abandoning; bad input refused with a French message that names
the field, and nothing written."""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from sync import fhir, outbox
from sync.store import (InputError, NotFoundError, SessionStateError, Store, finess_key_valid, luhn_valid)
from tests.support.samples import SAMPLE_TRAITS, closed_session


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "relais.db") as s:
        yield s


@pytest.fixture
def staff_id(store):
    return store.add_staff(display_name="Inès Infirmière", role="infirmier", rpps="10000000001")


@pytest.fixture
def session_id(store):
    return store.open_session(store.add_patient(**SAMPLE_TRAITS))


def french(exc: pytest.ExceptionInfo, field: str) -> str:
    """The message is a French sentence for staff and the exception names the field."""
    message = str(exc.value)
    assert exc.value.field == field
    assert message.endswith(".") and message[0].isupper()
    assert not any(word in message.lower() for word in ("must", "invalid", "expected", "unsupported"))
    return message


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


@pytest.mark.parametrize("kwargs,field,words", [
    ({"display_name": " "}, "display_name", "obligatoire"),
    ({"role": "chirurgien"}, "role", "rôle"),
    ({"rpps": "1234"}, "rpps", "11 chiffres"),
    ({"rpps": "1000000000A"}, "rpps", "11 chiffres"),
    ({"adeli": "12"}, "adeli", "ADELI"),
    ({"pin_hash": ""}, "pin_hash", "PIN"),
    ({"active": "yes"}, "active", "True"),
])
def test_bad_staff_is_refused_in_french(store, kwargs, field, words):
    with pytest.raises(InputError) as info:
        store.add_staff(**{"display_name": "Aline", "role": "aide_soignant", **kwargs})
    assert words in french(info, field)
    assert store.list_staff() == []


def test_a_national_number_belongs_to_one_staff_member(store, staff_id):
    with pytest.raises(InputError, match="RPPS est déjà attribué"):
        store.add_staff(display_name="Autre", role="medecin", rpps="10000000001")


def test_sites_and_finess(store):
    assert luhn_valid("750712184") and finess_key_valid("750712184") and finess_key_valid("330780321")
    site = store.add_site(kind="ehpad", name="EHPAD Les Tilleuls", finess="75 071 218 4", ars_declaration="ARS-1")
    assert store.get_site(site)["finess"] == "750712184"
    corsica = store.add_site(kind="pharmacie", name="Pharmacie du Port", finess="2A0000015")  # format only
    assert [s["id"] for s in store.list_sites()] == [site, corsica]
    with pytest.raises(InputError, match="existe déjà"):
        store.add_site(kind="ehpad", name="Doublon", finess="750712184")


@pytest.mark.parametrize("kwargs,field,words", [
    ({"kind": "hopital"}, "kind", "ehpad ou pharmacie"),
    ({"name": ""}, "name", "obligatoire"),
    ({"finess": "750712185"}, "finess", "clé"),
    ({"finess": "7507121"}, "finess", "9 caractères"),
    ({"finess": "2C0000015"}, "finess", "9 caractères"),
])
def test_bad_sites_are_refused_in_french(store, kwargs, field, words):
    with pytest.raises(InputError) as info:
        store.add_site(**{"kind": "ehpad", "name": "EHPAD", **kwargs})
    assert words in french(info, field)
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


@pytest.mark.parametrize("kwargs,field,words", [
    ({"started_at": "2024-05-01T10:00:00"}, "started_at", "fuseau horaire"),
    ({"remote_doctor_rpps": "123"}, "remote_doctor_rpps", "RPPS"),
    ({"callback_phone": "appelez-moi"}, "callback_phone", "téléphone"),
    ({"companion_present": "oui"}, "companion_present", "oui"),
    ({"reason": "x" * 501}, "reason", "trop long"),
    ({"staff_id": 42}, "staff_id", "personnel"),
    ({"started_at": "2024-05-01T10:00:00+02:00", "ended_at": "2024-05-01T09:00:00+02:00"}, "ended_at", "précède"),
])
def test_bad_session_context_is_refused_in_french(store, session_id, kwargs, field, words):
    before = store.get_session(session_id)
    with pytest.raises(InputError) as info:
        store.update_session(session_id, **kwargs)
    assert words in french(info, field)
    assert store.get_session(session_id) == before


def test_unknown_or_inactive_references_are_refused(store, session_id, staff_id):
    with pytest.raises(NotFoundError):
        store.update_session(session_id, site_id="nowhere")
    store.set_staff_active(staff_id, False)
    with pytest.raises(InputError, match="désactivé"):
        store.update_session(session_id, staff_id=staff_id)
    with pytest.raises(InputError, match="désactivé"):
        store.record_consent(session_id, decision="given", recorded_by=staff_id)


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


@pytest.mark.parametrize("kwargs,field,words", [
    ({"decision": "maybe"}, "decision", "given"),
    ({"given_by": "neighbour"}, "given_by", "personne de confiance"),
    ({"given_by": "legal_representative"}, "given_by_name", "représentant légal"),
    ({"given_by_name": "Paul"}, "given_by_name", "pas le patient"),
    ({"recorded_at": "hier"}, "recorded_at", "fuseau horaire"),
])
def test_bad_consent_is_refused_in_french(store, session_id, staff_id, kwargs, field, words):
    with pytest.raises(InputError) as info:
        store.record_consent(session_id, **{"decision": "given", "recorded_by": staff_id, **kwargs})
    assert words in french(info, field)
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
    french(info, "author")
    with pytest.raises(InputError) as info:
        store.add_note(other, kind="memo", text="x", author="A")
    french(info, "kind")
    with pytest.raises(InputError) as info:
        store.add_note(other, kind="staff_note", text="  ", author="A")
    french(info, "text")


def test_summary_is_set_then_replaced_while_open(store, session_id):
    first = store.set_summary(session_id, text="Brouillon")
    again = store.set_summary(session_id, text="Synthèse définitive.", recipient_name="Dr Traitant",
                              recipient_rpps="10000000004")
    summary = store.get_summary(session_id)
    assert first == again and (summary["text"], summary["recipient_rpps"]) == ("Synthèse définitive.", "10000000004")
    with pytest.raises(InputError) as info:
        store.set_summary(session_id, text="x", recipient_rpps="12")
    french(info, "recipient_rpps")


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
    assert "non admise" in french(info, "unit")
    assert store.measurements(session_id) == []


@pytest.mark.parametrize("unit", ["mm[Hg]", "kPa"])
def test_a_blood_pressure_reading_is_one_panel(store, session_id, unit):
    for code, value in (("8480-6", "132"), ("8462-4", "81"), ("8478-0", "98")):
        store.add_measurement(session_id, code=code, value=value, unit=unit, panel_id="cuff-1",
                              measured_at="2024-05-01T10:00:00+02:00")
    assert {m["panel_id"] for m in store.measurements(session_id)} == {"cuff-1"}
    store.close_session(session_id)


def test_panel_rules(store, session_id):
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code="8480-6", value="120", unit="mm[Hg]")
    assert "relevé" in french(info, "panel_id")
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel", panel_id="p")
    french(info, "panel_id")
    store.add_measurement(session_id, code="8480-6", value="120", unit="mm[Hg]", panel_id="p")
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code="8480-6", value="121", unit="mm[Hg]", panel_id="p")
    assert "déjà" in french(info, "panel_id")
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code="8462-4", value="10", unit="kPa", panel_id="p")
    assert "même unité" in french(info, "unit")
    with pytest.raises(SessionStateError, match="diastolique"):  # an incomplete reading cannot be shipped
        store.close_session(session_id)
    store.add_measurement(session_id, code="8462-4", value="80", unit="mm[Hg]", panel_id="p")
    store.add_measurement(session_id, code="8480-6", value="118", unit="mm[Hg]", panel_id="p2")
    with pytest.raises(SessionStateError, match="diastolique"):
        store.close_session(session_id)
    assert store.session_sync_state(session_id) == "open"


def test_measurement_errors_are_french_too(store, session_id):
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code="0000-0", value="1", unit="Cel")
    french(info, "code")
    with pytest.raises(InputError) as info:
        store.add_measurement(session_id, code="8310-5", value=37.6, unit="Cel")
    assert "point" in french(info, "value")


# -- closing and abandoning -----------------------------------------------------------------------------------------

def test_close_still_works_for_v1_callers_and_complete_closing_demands_consent_and_summary(store, session_id,
                                                                                            staff_id):
    _, plain, _ = closed_session(store, family_name="Simple")  # v1 call: no consent, no summary
    assert store.session_sync_state(plain) == "pending"
    store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel")
    with pytest.raises(SessionStateError, match="consentement"):
        store.close_session(session_id, require_complete=True)
    store.record_consent(session_id, decision="given", recorded_by=staff_id)
    with pytest.raises(SessionStateError, match="synthèse"):
        store.close_session(session_id, require_complete=True)
    store.set_summary(session_id, text="RAS.")
    oid = store.close_session(session_id, require_complete=True)
    payload = outbox.get_entry(store, oid).payload
    assert '"resourceType":"Consent"' in payload and '"resourceType":"Composition"' in payload


def test_nothing_is_added_to_a_closed_session(store, session_id, staff_id):
    store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel")
    store.close_session(session_id)
    for call in (lambda: store.record_consent(session_id, decision="given", recorded_by=staff_id),
                 lambda: store.add_note(session_id, kind="staff_note", text="x", author="A"),
                 lambda: store.set_summary(session_id, text="x"),
                 lambda: store.update_session(session_id, reason="x"),
                 lambda: store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel")):
        with pytest.raises(SessionStateError, match="close"):
            call()
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
    with pytest.raises(SessionStateError, match="abandonnée"):
        store.close_session(session_id)
    with pytest.raises(SessionStateError, match="abandonnée"):
        store.add_measurement(session_id, code="8310-5", value="37.0", unit="Cel")
    with pytest.raises(SessionStateError):
        store.abandon_session(session_id)


def test_identity_collection_method_and_birth_given_names(store):
    pid = store.add_patient(**{**SAMPLE_TRAITS, "given_name": "Jeanne"}, identity_method="av",
                            birth_given_names="Jeanne Marie Louise")
    patient = store.get_patient(pid)
    assert (patient["identity_method"], patient["birth_given_names"]) == ("AV", "Jeanne Marie Louise")
    from sync.store import IdentityError
    with pytest.raises(IdentityError) as info:
        store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Autre"}, identity_method="QR")
    french(info, "identity_method")
    with pytest.raises(IdentityError) as info:
        store.add_patient(**{**SAMPLE_TRAITS, "family_name": "Autre"}, birth_given_names="Marie Jeanne")
    french(info, "birth_given_names")


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
