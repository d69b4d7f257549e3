"""What the report says, read from a real closed session: identity traits and INS authority, readings in French
with their device or "saisie manuelle", NEWS2 over the stored readings (complete, partial, a floor), addenda."""
from __future__ import annotations

from sync.delivery.content import news2_of, report_content
from tests.sync.delivery.sessions import INS, full_session


def test_a_qualified_identity_carries_its_traits_and_the_stores_ins_authority(reports):
    patient = reports["full"].content.patient
    assert (patient.birth_family_name, patient.first_given_name, patient.given_names) == (
        "DÉMO", "Jeanne", "Jeanne Marie Louise")
    assert (patient.birth_date, patient.sex, patient.birthplace_insee, patient.usual_name) == (
        "1938-04-02", "F", "75056", "MARTINEZ")
    assert (patient.ins, patient.ins_oid) == (INS, "1.2.250.1.213.1.4.11")  # the demo store's authority


def test_a_provisional_identity_has_no_ins(reports):
    patient = reports["partial"].content.patient
    assert patient.identity_status == "PROV" and not patient.qualified
    assert patient.ins is None and patient.ins_oid is None


def test_without_a_store_authority_the_fhir_mappings_switch_decides(store):
    session_id = full_session(store)
    with store.transaction():
        assert report_content(store, session_id).patient.ins_oid == "1.2.250.1.213.1.4.8"


def test_readings_in_french_with_their_device_or_manual_entry(reports):
    by_label = {m.label: m for m in reports["full"].content.measurements}
    temperature = by_label["Température corporelle"]
    assert (temperature.value, temperature.unit, temperature.display_value) == ("38.40", "Cel", "38,40\u00a0°C")
    assert temperature.flag == "élevée" and temperature.device == "Acme T100 (Thermo-1)"
    rate = by_label["Fréquence respiratoire"]
    assert rate.manual and rate.device is None and rate.flag == "élevée"
    assert by_label["Conscience (ACVPU)"].display_value == "alerte (A)"
    assert by_label["Fréquence cardiaque"].flag is None


def test_news2_over_the_stored_readings(reports):
    # RR 22 → 2, SpO2 93 → 2, air → 0, systolic 142 → 0, pulse 96 → 1, alert → 0, 38.4 °C → 1
    score = reports["full"].content.news2
    assert (score.score, score.risk, score.band, score.complete, score.missing) == (
        6, "medium", "risque moyen", True, ())


def test_a_partial_news2_names_what_is_missing_and_is_never_low(reports):
    score = reports["partial"].content.news2
    assert not score.complete and score.risk == "incomplete" and score.band == "incomplet"
    assert score.missing == ("fréquence respiratoire", "air ou oxygène", "pression systolique",
                             "fréquence cardiaque", "conscience (ACVPU)")


def test_a_partial_score_that_reaches_a_band_is_at_least_that_band():
    score = news2_of([{"code": "9279-1", "value": "8", "unit": "/min"}])
    assert score.score == 3 and score.band == "au moins risque faible à moyen (un paramètre à 3)"


def test_notes_consent_and_summary(reports):
    content = reports["full"].content
    assert [r.text for r in content.orientation] == ["Reste à l'EHPAD — surveillance renforcée"]
    assert content.prescriptions[0].author == "Dr Marc Téléconsultant"
    assert content.consents[0].text == "donné par le patient" and content.consents[0].author == "Camille Soignante"
    assert content.summary.startswith("Téléconsultation pour toux fébrile")
    assert content.remote_doctor.rpps and content.staff.role == "infirmier"


def test_addenda_appear_from_the_version_after_them(reports):
    assert reports["full"].content.addenda == ()
    assert [a.text for a in reports["addendum"].content.addenda] == [
        "Température à 37,2 °C ce matin, toux en diminution."]
    assert reports["addendum"].content.addenda[0].author == "Camille Soignante"

