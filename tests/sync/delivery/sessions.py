"""Real closed sessions in a real store for the report documents' tests: a qualified patient (demo INS authority)
with a full session (device readings, a blood pressure panel, a manual respiration rate, ACVPU and air, consent,
the doctor's conclusion, orientation, prescription, a staff note, the summary), and a provisional identity whose
NEWS2 stays partial. Invented names, fictitious RPPS and FINESS."""
from __future__ import annotations

from sync import closing
from tests.support.samples import valid_ins

DOCTOR_RPPS = "10000000017"  # fictitious, Luhn key valid
NURSE_RPPS = "10000000025"
GP_RPPS = "10000000033"
INS = valid_ins("2380475056123")
OXIMETER = {"address": "C0:FF:EE:00:00:02", "name": "Oxy-2", "manufacturer": "Acme", "model": "O200"}
CUFF = {"address": "C0:FF:EE:00:00:03", "name": "Tensio-3", "manufacturer": "Acme", "model": "B300"}
THERMO = {"address": "C0:FF:EE:00:00:01", "name": "Thermo-1", "manufacturer": "Acme", "model": "T100"}


def _site_and_nurse(store) -> tuple[str, str]:
    site_id = store.add_site(kind="ehpad", name="EHPAD Les Tilleuls", finess="750712184")
    staff_id = store.add_staff(display_name="Camille Soignante", role="infirmier", rpps=NURSE_RPPS)
    return site_id, staff_id


def _readings(store, session_id: str) -> None:
    at = "2024-05-01T10:15:00+02:00"
    store.add_measurement(session_id, code="8310-5", value="38.40", unit="Cel", device=THERMO, measured_at=at,
                          interpretation="H")
    store.add_measurement(session_id, code="59408-5", value="93", unit="%", device=OXIMETER, measured_at=at,
                          interpretation="L")
    store.add_measurement(session_id, code="8867-4", value="96", unit="/min", device=OXIMETER, measured_at=at)
    for code, value in (("8480-6", "142"), ("8462-4", "85")):
        store.add_measurement(session_id, code=code, value=value, unit="mm[Hg]", device=CUFF, measured_at=at,
                              panel_id="cuff-1")
    store.add_measurement(session_id, code="9279-1", value="22", unit="/min", source="manual", measured_at=at,
                          interpretation="H")
    store.add_measurement(session_id, code="67775-7", value="A", unit="", source="manual", measured_at=at)
    store.add_measurement(session_id, code="supplemental-oxygen", value="no", unit="", source="manual",
                          measured_at=at)


def full_session(store, recipients: tuple[tuple[str, str], ...] = ()) -> str:
    """A qualified patient's complete teleconsultation, closed; `recipients` ((kind, address), …) are the report's,
    chosen before the close. Returns the session id."""
    site_id, staff_id = _site_and_nurse(store)
    patient_id = store.add_patient(family_name="DÉMO", given_name="Jeanne", birth_date="1938-04-02", sex="F",
                                   birth_place_insee="75056", identity_status="QUAL", ins=INS,
                                   identity_method="INSI", birth_given_names="Jeanne Marie Louise",
                                   usual_name="MARTINEZ", identity_document="CN")
    # the médecin traitant is chosen on another screen (its own store functions); here set as that screen would
    store.db["patients"].update(patient_id, {"gp_name": "Dr Paul Généraliste", "gp_rpps": GP_RPPS,
                                             "gp_mssante": "paul.generaliste@demo.mssante.fr"})
    session_id = store.open_session(patient_id, reason="Toux et fièvre depuis trois jours", site_id=site_id,
                                    staff_id=staff_id)
    store.update_session(session_id, remote_doctor_name="Dr Marc Téléconsultant", remote_doctor_rpps=DOCTOR_RPPS,
                         started_at="2024-05-01T10:30:00+02:00", ended_at="2024-05-01T10:50:00+02:00")
    store.record_consent(session_id, decision="given", recorded_by=staff_id)
    _readings(store, session_id)
    doctor = "Dr Marc Téléconsultant"
    store.add_note(session_id, kind="remote_doctor_conclusion", author=doctor,
                   text="Bronchite aiguë probable, pas de signe de gravité immédiate.")
    store.add_note(session_id, kind="orientation", author=doctor, text="Reste à l'EHPAD — surveillance renforcée")
    store.add_note(session_id, kind="prescription", author=doctor,
                   text="Paracétamol 1 g toutes les 6 heures si fièvre, 3 jours.")
    store.add_note(session_id, kind="staff_note", staff_id=staff_id, text="Résidente fatiguée mais coopérante.")
    store.add_note(session_id, kind="emergency_call", staff_id=staff_id, text="Appel au 15 à 10:20 par Camille Soignante.")
    store.set_summary(session_id, text="Téléconsultation pour toux fébrile. Surveillance de la température et de "
                                       "la saturation deux fois par jour ; réévaluation à 48 heures.")
    for n, (kind, address) in enumerate(recipients):
        store.db["report_recipients"].insert({"id": f"{session_id}-{n}", "session_id": session_id, "kind": kind,
                                              "address": address, "created_at": store.stamp()})
    closing.close_session(store, session_id)
    return session_id


def add_addendum(store, session_id: str, text: str = "Température à 37,2 °C ce matin, toux en diminution.") -> str:
    staff_id = store.get_session(session_id)["staff_id"]
    return closing.add_addendum(store, session_id, staff_id=staff_id, text=text)


def partial_session(store) -> str:
    """A provisional identity in a pharmacy without FINESS, neither the remote doctor's nor the pharmacist's RPPS
    known, one temperature and one SpO2: NEWS2 stays partial. Returns the session id."""
    site_id = store.add_site(kind="pharmacie", name="Pharmacie du Marché")
    staff_id = store.add_staff(display_name="Léa Officine", role="pharmacien")
    patient_id = store.add_patient(family_name="ESSAI", given_name="Paul", birth_date="1950-07-14", sex="M",
                                   birth_place_insee="69123")
    session_id = store.open_session(patient_id, reason="Malaise", site_id=site_id, staff_id=staff_id)
    store.update_session(session_id, remote_doctor_name="Dr Anne Distante")
    store.record_consent(session_id, decision="given", recorded_by=staff_id)
    at = "2024-05-01T11:00:00+02:00"
    store.add_measurement(session_id, code="8310-5", value="37.10", unit="Cel", device=THERMO, measured_at=at)
    store.add_measurement(session_id, code="59408-5", value="97", unit="%", source="manual", measured_at=at)
    store.add_note(session_id, kind="remote_doctor_conclusion", author="Dr Anne Distante", text="Pas d'urgence.")
    closing.close_session(store, session_id)
    return session_id


def advice_session(store) -> str:
    """Advice asked without a call (téléexpertise): the request sent, the remote doctor's answer, no call started,
    closed. Returns the session id."""
    site_id = store.add_site(kind="ehpad", name="EHPAD Les Glycines")
    staff_id = store.add_staff(display_name="Inès Aide", role="aide_soignant")
    patient_id = store.add_patient(family_name="AVIS", given_name="Marthe", birth_date="1941-09-23", sex="F",
                                   birth_place_insee="13055")
    session_id = store.open_session(patient_id, reason="Plaie du talon qui ne cicatrise pas", site_id=site_id,
                                    staff_id=staff_id)
    store.record_consent(session_id, decision="given", recorded_by=staff_id)
    store.add_measurement(session_id, code="8310-5", value="37.80", unit="Cel", device=THERMO,
                          measured_at="2024-05-01T11:40:00+02:00")
    store.send_request(session_id, kind="teleexpertise")
    store.update_session(session_id, remote_doctor_name="Dr Hélène Requise", remote_doctor_rpps=DOCTOR_RPPS)
    store.add_note(session_id, kind="remote_doctor_conclusion", author="Dr Hélène Requise",
                   text="Escarre de stade 2 : pansement hydrocolloïde, décharge du talon.")
    closing.close_session(store, session_id)
    return session_id
