"""Stores filled with data at each released schema version, for the migration tests.

Each filler writes raw SQL in the schema of ITS version (never through today's Store API, which targets the latest
schema): when schema v(N+1) lands, v(N)'s filler stays as it is and a new one is added. `FILLERS[v]` fills a store
that is at version v; `store_at(path, v)` creates one (v = 0: an empty file, as a fresh install before the first
migration)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Callable

from sync import fhir, frozen_payloads
from sync.store import MIGRATIONS, Store
from sync.store.database import name_prefixes_json, name_tokens_json
from sync.store.identity import list_key

PATIENT_QUAL = "11111111-1111-4111-8111-111111111111"
PATIENT_PROV = "22222222-2222-4222-8222-222222222222"
SESSION_CLOSED = "33333333-3333-4333-8333-333333333333"
SESSION_SENT = "44444444-4444-4444-8444-444444444444"
SESSION_OPEN = "55555555-5555-4555-8555-555555555555"
V2_STAFF = "66666666-6666-4666-8666-666666666666"
V2_SITE = "77777777-7777-4777-8777-777777777777"
V2_SESSION_CLOSED = "88888888-8888-4888-8888-888888888888"
V2_SESSION_OPEN = "99999999-9999-4999-8999-999999999999"
INS = "238047505612328"  # fictitious, valid key


def _v1_payload(patient_id: str, key: str, value: str) -> str:
    """A session bundle exactly as the v1 code froze it (Patient + one body temperature), kept literal here."""
    patient_url = f"urn:uuid:{fhir.resource_uuid(fhir.PATIENT_ID_SYSTEM, patient_id)}"
    obs_value = f"{key}/obs/1-8310-5"
    return fhir.dumps({"resourceType": "Bundle", "type": "transaction",
                       "identifier": {"system": fhir.BUNDLE_ID_SYSTEM, "value": key},
                       "entry": [
                           {"fullUrl": patient_url,
                            "request": {"method": "POST", "url": "Patient",
                                        "ifNoneExist": fhir.if_none_exist(fhir.PATIENT_ID_SYSTEM, patient_id)},
                            "resource": {"resourceType": "Patient",
                                         "identifier": [{"system": fhir.PATIENT_ID_SYSTEM, "value": patient_id}],
                                         "name": [{"use": "official", "family": "Lavandin", "given": ["Odette"]}],
                                         "gender": "female", "birthDate": "1931-02-14"}},
                           {"fullUrl": f"urn:uuid:{fhir.resource_uuid(fhir.OBSERVATION_ID_SYSTEM, obs_value)}",
                            "request": {"method": "POST", "url": "Observation",
                                        "ifNoneExist": fhir.if_none_exist(fhir.OBSERVATION_ID_SYSTEM, obs_value)},
                            "resource": {"resourceType": "Observation", "status": "final",
                                         "identifier": [{"system": fhir.OBSERVATION_ID_SYSTEM, "value": obs_value}],
                                         "code": {"coding": [{"system": fhir.LOINC, "code": "8310-5"}]},
                                         "subject": {"reference": patient_url},
                                         "effectiveDateTime": "2024-05-01T10:15:00+02:00",
                                         "valueQuantity": {"value": fhir.decimal_from_text(value), "unit": "Cel",
                                                           "system": fhir.UCUM, "code": "Cel"}}}]})


def fill_v1(con: sqlite3.Connection) -> None:
    """Two patients (one QUAL with INS), a closed session pending upload, a sent one, and an open session."""
    con.executemany(
        "INSERT INTO patients (id, family_name, given_name, birth_date, sex, birth_place_insee, identity_status, ins,"
        " resident_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(PATIENT_QUAL, "Lavandin", "Odette", "1931-02-14", "F", "75056", "QUAL", INS, "CH-12",
          "2024-05-01T07:00:00.000000+00:00"),
         (PATIENT_PROV, "Genévrier", "Émile", "1929-11-02", "M", "2A004", "PROV", None, None,
          "2024-05-01T07:01:00.000000+00:00")])
    con.executemany(
        "INSERT INTO sessions (id, idempotency_key, patient_id, state, opened_at, closed_at, reason, staff)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(SESSION_CLOSED, "key-closed", PATIENT_QUAL, "open", "2024-05-01T08:00:00.000000+00:00", None,
          "Suivi fièvre", "IDE-01"),
         (SESSION_SENT, "key-sent", PATIENT_PROV, "open", "2024-05-01T09:00:00.000000+00:00", None, None, None),
         (SESSION_OPEN, "key-open", PATIENT_PROV, "open", "2024-05-01T10:00:00.000000+00:00", None,
          "Contrôle", "AS-02")])
    con.executemany(
        "INSERT INTO measurements (id, session_id, code, value, unit, source, device_address, device_name,"
        " device_manufacturer, device_model, device_serial, device_firmware, raw, status, measured_at, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [("m-1", SESSION_CLOSED, "8310-5", "37.60", "Cel", "bluetooth", "C0:FF:EE:00:00:01", "Thermo-1", "Acme",
          "T100", "SN-1", "1.0", b"\x04\x10\x0e\x00\xfe\x01", '["site:armpit"]', "2024-05-01T10:15:00+02:00",
          "2024-05-01T08:15:30+00:00"),
         ("m-2", SESSION_SENT, "8310-5", "36.9", "Cel", "manual", None, None, None, None, None, None, None, "[]",
          None, "2024-05-01T09:05:00+00:00"),
         ("m-3", SESSION_OPEN, "8310-5", "38.20", "Cel", "bluetooth", "C0:FF:EE:00:00:01", None, None, None, None,
          None, b"\x00", "[]", "2024-05-01T12:01:00+02:00", "2024-05-01T10:01:00+00:00")])
    # closed after their measurements, as the app does (the triggers refuse rows added to a closed session)
    con.executemany("UPDATE sessions SET state = 'closed', closed_at = ? WHERE id = ?",
                    [("2024-05-01T08:20:00.000000+00:00", SESSION_CLOSED),
                     ("2024-05-01T09:10:00.000000+00:00", SESSION_SENT)])
    con.executemany(
        "INSERT INTO outbox (id, session_id, idempotency_key, payload, state, attempts, last_error, next_attempt_at,"
        " created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [("o-1", SESSION_CLOSED, "key-closed", _v1_payload(PATIENT_QUAL, "key-closed", "37.60"), "pending", 2,
          "HTTP 503", "2024-05-01T08:30:00.000000+00:00", "2024-05-01T08:20:00.000000+00:00", None),
         ("o-2", SESSION_SENT, "key-sent", _v1_payload(PATIENT_PROV, "key-sent", "36.9"), "sent", 1, None, None,
          "2024-05-01T09:10:00.000000+00:00", "2024-05-01T09:11:00.000000+00:00")])


def fill_v2(con: sqlite3.Connection) -> None:
    """The v1 data plus staff, a site with a FINESS, a closed session with context, a blood pressure panel, consent,
    notes and summary, and an open session with a half-recorded context."""
    fill_v1(con)
    con.execute("UPDATE patients SET identity_method = 'CV', birth_given_names = 'Odette Marie' WHERE id = ?",
                [PATIENT_QUAL])
    con.execute("INSERT INTO staff (id, display_name, role, rpps, adeli, pin_hash, active, created_at) VALUES "
                "(?, 'Inès Infirmière', 'infirmier', NULL, '751234567', NULL, 1, '2024-05-01T06:00:00.000000+00:00')",
                [V2_STAFF])
    con.execute("INSERT INTO sites (id, kind, name, finess, ars_declaration, created_at) VALUES "
                "(?, 'ehpad', 'EHPAD Les Tilleuls', '750712184', 'ARS-IDF-2026-001', "
                "'2024-05-01T06:00:00.000000+00:00')", [V2_SITE])
    con.executemany(
        "INSERT INTO sessions (id, idempotency_key, patient_id, state, opened_at, closed_at, reason, staff, site_id,"
        " staff_id, started_at, ended_at, remote_doctor_name, remote_doctor_rpps, companion_present,"
        " interpreter_present, callback_phone) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(V2_SESSION_CLOSED, "key-v2-closed", PATIENT_QUAL, "open", "2024-05-02T08:00:00.000000+00:00",
          None, "Dyspnée", None, V2_SITE, V2_STAFF, "2024-05-02T08:10:00+02:00",
          "2024-05-02T08:30:00+02:00", "Dr Téléconsultant", "10000000001", 1, 0, "+33123456789"),
         (V2_SESSION_OPEN, "key-v2-open", PATIENT_PROV, "open", "2024-05-02T09:00:00.000000+00:00", None, None,
          None, V2_SITE, V2_STAFF, None, None, None, None, None, None, None)])
    con.executemany(
        "INSERT INTO measurements (id, session_id, code, value, unit, source, status, measured_at, received_at,"
        " panel_id) VALUES (?, ?, ?, ?, ?, 'bluetooth', '[]', ?, ?, ?)",
        [("m-v2-1", V2_SESSION_CLOSED, "8480-6", "142", "mm[Hg]", "2024-05-02T10:12:00+02:00",
          "2024-05-02T08:12:05+00:00", "bp-1"),
         ("m-v2-2", V2_SESSION_CLOSED, "8462-4", "85", "mm[Hg]", "2024-05-02T10:12:00+02:00",
          "2024-05-02T08:12:05+00:00", "bp-1"),
         ("m-v2-3", V2_SESSION_CLOSED, "59408-5", "94", "%", "2024-05-02T10:14:00+02:00",
          "2024-05-02T08:14:02+00:00", None)])
    con.execute("INSERT INTO consents (id, session_id, decision, given_by, given_by_name, recorded_at, recorded_by)"
                " VALUES ('c-1', ?, 'given', 'trusted_person', 'Paul Lavandin', '2024-05-02T08:05:00+00:00', ?)",
                [V2_SESSION_CLOSED, V2_STAFF])
    con.execute("INSERT INTO notes (id, session_id, kind, author, staff_id, text, created_at) VALUES "
                "('n-1', ?, 'remote_doctor_conclusion', 'Dr Téléconsultant', NULL, 'Pas de signe de gravité.', "
                "'2024-05-02T08:31:00.000000+00:00')", [V2_SESSION_CLOSED])
    con.execute("INSERT INTO summaries (id, session_id, text, recipient_name, recipient_rpps, created_at) VALUES "
                "('s-1', ?, 'Dyspnée modérée, SpO2 94 %. Revoir sous 48 h.', 'Dr Traitant', NULL, "
                "'2024-05-02T08:35:00.000000+00:00')", [V2_SESSION_CLOSED])
    con.execute("UPDATE sessions SET state = 'closed', closed_at = '2024-05-02T08:40:00.000000+00:00' WHERE id = ?",
                [V2_SESSION_CLOSED])
    payload = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [],
                          "identifier": {"system": fhir.BUNDLE_ID_SYSTEM, "value": "key-v2-closed"}},
                         sort_keys=True, separators=(",", ":"))
    con.execute("INSERT INTO outbox (id, session_id, idempotency_key, payload, state, attempts, created_at) VALUES "
                "('o-v2', ?, 'key-v2-closed', ?, 'rejected', 1, '2024-05-02T08:40:00.000000+00:00')",
                [V2_SESSION_CLOSED, payload])


def fill_v3(con: sqlite3.Connection) -> None:
    """The v2 data plus the room checklist on the open session, an orientation note, a PIN lock-out counter, an
    addendum to the closed session and the tablet's settings."""
    fill_v2(con)
    con.execute("UPDATE sessions SET checklist_room_closed = 1, checklist_device_hygiene = 1, "
                "checklist_accessibility = 0 WHERE id = ?", [V2_SESSION_OPEN])
    con.execute("INSERT INTO notes (id, session_id, kind, author, staff_id, text, created_at) VALUES "
                "('n-v3', ?, 'orientation', 'Dr Téléconsultant', NULL, 'Consultation du médecin traitant sous 48 h.', "
                "'2024-05-02T09:20:00.000000+00:00')", [V2_SESSION_OPEN])
    con.execute("UPDATE staff SET pin_failures = 2 WHERE id = ?", [V2_STAFF])
    con.execute("INSERT INTO addenda (id, session_id, staff_id, text, created_at) VALUES "
                "('a-1', ?, ?, 'Appel du médecin traitant : pris connaissance.', '2024-05-03T09:00:00.000000+00:00')",
                [V2_SESSION_CLOSED, V2_STAFF])
    con.executemany("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, '2024-05-01T06:00:00+00:00')",
                    [("site_id", V2_SITE), ("idle_lock_seconds", "120")])


def fill_v4(con: sqlite3.Connection) -> None:
    """The v3 data plus a chained audit trail (a sign-in, a view, a session created) and the patients' last visit."""
    from sync.audit import GENESIS_HASH, row_hash

    fill_v3(con)
    prev = GENESIS_HASH
    for seq, (at, action, kind, subject) in enumerate((
            ("2024-05-02T09:00:00.000+00:00", "sign_in", "staff", V2_STAFF),
            ("2024-05-02T09:01:00.000+00:00", "view", "patient", PATIENT_QUAL),
            ("2024-05-02T09:02:00.000+00:00", "create", "session", V2_SESSION_OPEN)), start=1):
        digest = row_hash(prev, seq, at, V2_STAFF, action, kind, subject, None)
        con.execute("INSERT INTO audit_log (seq, at, staff_id, action, subject_kind, subject_id, detail, prev_hash, "
                    "hash) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)", [seq, at, V2_STAFF, action, kind, subject, prev,
                                                                    digest])
        prev = digest
    con.execute("UPDATE patients SET last_seen_at = '2024-05-02T09:02:00.000000+00:00'")


def fill_v5(con: sqlite3.Connection) -> None:
    """The v4 data plus flagged measurements in the open session (a fever, a very low SpO2)."""
    fill_v4(con)
    con.executemany(
        "INSERT INTO measurements (id, session_id, code, value, unit, source, status, received_at, interpretation)"
        " VALUES (?, ?, ?, ?, ?, 'manual', '[]', '2024-05-02T09:10:00+00:00', ?)",
        [("m-v5-1", V2_SESSION_OPEN, "8310-5", "38.4", "Cel", "H"),
         ("m-v5-2", V2_SESSION_OPEN, "59408-5", "88", "%", "LL")])


def fill_v6(con: sqlite3.Connection) -> None:
    """The v5 data plus the usual name and room of the qualified patient, and a validated identity with the document
    it was checked against."""
    fill_v5(con)
    con.execute("UPDATE patients SET usual_name = 'Durand', room = '12 B' WHERE id = ?", [PATIENT_QUAL])
    con.execute("INSERT INTO patients (id, family_name, given_name, birth_date, sex, birth_place_insee, "
                "identity_status, identity_document, created_at, last_seen_at) VALUES ('p-v6', 'Verveine', 'Aimé', "
                "'1929-07-30', 'M', '69123', 'VALI', 'LECV', '2024-06-01T08:00:00+00:00', "
                "'2024-06-01T08:00:00+00:00')")


def fill_v7(con: sqlite3.Connection) -> None:
    """The v6 data plus where staff left the open session (its resume document)."""
    fill_v6(con)
    con.execute("INSERT INTO session_resume (session_id, state, saved_at) VALUES (?, ?, "
                "'2024-05-02T09:12:00.000000+00:00')", [V2_SESSION_OPEN, json.dumps({"version": 1, "step": "vitals"})])


def fill_v8(con: sqlite3.Connection) -> None:
    """The v7 data plus the qualified patient's médecin traitant, and the closed session's report frozen for them
    (a document and its message waiting to be sent)."""
    fill_v7(con)
    con.execute("UPDATE patients SET gp_name = 'Dr Claire MARTIN', gp_rpps = '10000000001', "
                "gp_mssante = 'claire.martin@medecin.mssante.fr' WHERE id = ?", [PATIENT_QUAL])
    con.execute("INSERT INTO report_recipients (id, session_id, kind, address, name, rpps, created_at) VALUES "
                "('r-v8', ?, 'gp', 'claire.martin@medecin.mssante.fr', 'Dr Claire MARTIN', '10000000001', "
                "'2024-05-01T10:00:00+00:00')", [V2_SESSION_CLOSED])
    con.execute("INSERT INTO report_documents (id, session_id, set_id, version, pdf, cda, xdm, created_at) VALUES "
                "('d-v8', ?, 's-v8', 1, X'255044462D', X'3C3F786D6C', X'504B0304', '2024-05-01T10:00:00+00:00')",
                [V2_SESSION_CLOSED])
    con.execute("INSERT INTO report_outbox (id, document_id, session_id, recipient_kind, recipient, message_id, "
                "message, created_at) VALUES ('o-v8', 'd-v8', ?, 'gp', 'claire.martin@medecin.mssante.fr', "
                "'<v8@relais.test>', X'46726F6D3A', '2024-05-01T10:00:00+00:00')", [V2_SESSION_CLOSED])


def fill_v9(con: sqlite3.Connection) -> None:
    """The v8 data plus a directory of one MSSanté box (imported from an extraction) and its FTS index."""
    fill_v8(con)
    con.execute("INSERT INTO mssante_directory (address, bal_type, national_id, rpps, family_name, given_name, "
                "profession, specialty, organisation, address_lines, postal_code, city, search) VALUES "
                "('claire.martin@medecin.mssante.fr', 'PER', '810000000001', '10000000001', 'MARTIN', 'Claire', "
                "'Médecin', 'Médecine générale', NULL, '1 RUE DES LILAS', '69003', 'LYON', "
                "'MARTIN CLAIRE MEDECIN MEDECINE GENERALE LYON 69003')")
    con.execute("INSERT INTO mssante_directory_search (mssante_directory_search) VALUES ('rebuild')")
    con.execute("INSERT INTO directory_meta (id, file_name, imported_at, row_count) VALUES "
                "(1, 'Extraction_Correspondance_MSSante_test.txt', '2024-05-01T06:00:00+00:00', 1)")


def fill_v10(con: sqlite3.Connection) -> None:
    """The v9 data plus a pulled resident with one session and two values of history, and a pull cursor."""
    fill_v9(con)
    con.execute("INSERT INTO patients (id, family_name, given_name, birth_date, sex, birth_place_insee, "
                "identity_status, created_at, origin) VALUES ('p-v10', 'DEMO-TIROIR', 'Lucienne', '1931-02-11', 'F', "
                "'75056', 'PROV', '2024-06-01T08:00:00+00:00', 'pulled')")
    con.execute("INSERT INTO history_sessions (id, patient_id, started_at, reason, news2_score, news2_band, "
                "news2_complete, server_version, pulled_at) VALUES ('key-v10', 'p-v10', '2024-06-01T09:00:00+00:00', "
                "'Toux', 3, 'low_medium', 1, '1', '2024-06-02T08:00:00+00:00')")
    con.executemany("INSERT INTO history_observations (id, patient_id, session_id, code, value, unit, source, "
                    "effective_at, pulled_at) VALUES (?, 'p-v10', 'key-v10', ?, ?, ?, 'bluetooth', "
                    "'2024-06-01T09:05:00+00:00', '2024-06-02T08:00:00+00:00')",
                    [("key-v10/obs/1-59408-5", "59408-5", "93", "%"), ("key-v10/obs/2-8310-5", "8310-5", "37.9", "Cel")])
    con.execute("INSERT INTO pull_cursors (server, scope, watermark, seen, updated_at) VALUES "
                "('https://fhir.example.test/fhir', 'Patient@site-1', '2024-06-02T07:59:00.000Z', '[\"p1\"]', "
                "'2024-06-02T08:00:00+00:00')")


def fill_v11(con: sqlite3.Connection) -> None:
    """The v10 data plus a resident edited on this tablet (field stamps, queued for the server), a second record of
    the same person pulled from the server, and the probable duplicate they make. The earlier fillers complete a
    qualified identity's traits as the versions before v11 allowed: the v11 trigger keeping such traits is set aside
    meanwhile."""
    kept = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'patients' "
                       "AND name = 'patients_qualified_identity_kept'").fetchall()
    for name, _ in kept:
        con.execute(f"DROP TRIGGER {name}")
    fill_v10(con)
    for _, sql in kept:
        con.execute(sql)
    con.execute("UPDATE patients SET field_stamps = json_set(field_stamps, '$.room', '2024-06-03T08:00:00.000000+00:00'),"
                " room = '14' WHERE id = ?", [PATIENT_PROV])
    con.execute("INSERT INTO patient_outbox (patient_id, state, generation, queued_at) VALUES (?, 'pending', 2, "
                "'2024-06-03T08:00:00.000000+00:00')", [PATIENT_PROV])
    con.execute("INSERT INTO patients (id, family_name, given_name, birth_date, sex, birth_place_insee, "
                "identity_status, created_at, origin, server_version) VALUES ('p-v11', 'DEMO-TIROIR', 'Lucienne', "
                "'1931-02-11', 'F', '75056', 'PROV', '2024-06-02T08:00:00+00:00', 'pulled', '3')")
    con.execute("INSERT INTO probable_duplicates (id, patient_a, patient_b, reason, found_at) VALUES "
                "('dup-v11', 'p-v10', 'p-v11', 'traits', '2024-06-03T08:00:00+00:00')")


def fill_v12(con: sqlite3.Connection) -> None:
    """The v11 data plus a session of this tablet kept as history after it left the tablet."""
    fill_v11(con)
    con.execute("INSERT INTO history_sessions (id, patient_id, started_at, reason, news2_score, news2_band, "
                "news2_complete, pulled_at, origin) VALUES ('key-v12', ?, '2024-06-04T09:00:00+00:00', 'Chute', 1, "
                "'low', 0, '2024-06-12T08:00:00+00:00', 'this_tablet')", [PATIENT_PROV])
    con.execute("INSERT INTO history_observations (id, patient_id, session_id, code, value, unit, source, "
                "effective_at, pulled_at, origin) VALUES ('key-v12/m/m-v12', ?, 'key-v12', '8867-4', '72', '/min', "
                "'bluetooth', '2024-06-04T09:05:00+00:00', '2024-06-12T08:00:00+00:00', 'this_tablet')",
                [PATIENT_PROV])


def fill_v13(con: sqlite3.Connection) -> None:
    """The v12 data plus an advice request for the open session and its live send waiting."""
    fill_v12(con)
    con.execute("UPDATE sessions SET request_kind = 'teleexpertise', requested_at = '2024-06-13T08:00:00+00:00' "
                "WHERE id = ?", [V2_SESSION_OPEN])
    con.execute("INSERT INTO live_outbox (id, session_id, payload, state, attempts, created_at) VALUES "
                "('live-v13', ?, '{\"resourceType\":\"Bundle\"}', 'pending', 0, '2024-06-13T08:00:00+00:00')",
                [V2_SESSION_OPEN])


def fill_v14(con: sqlite3.Connection) -> None:
    """The v13 data plus the remote doctor's conclusions received for an open session (waiting for staff) and a
    transcribed conclusion note."""
    fill_v13(con)
    con.execute("INSERT INTO received_conclusions (id, session_id, resource_id, version, doctor_name, doctor_rpps, "
                "conclusion, orientation, orientation_detail, prescriptions, written_at, received_at) VALUES "
                "('rc-v14', ?, 'ci-1', '2', 'Dr Démo Distant', '10000000009', 'Surveillance simple.', 'stay', '', "
                "'Paracétamol 1 g si fièvre.', '2024-06-05T09:30:00+02:00', '2024-06-05T07:31:00+00:00')",
                [V2_SESSION_OPEN])
    con.execute("INSERT INTO notes (id, session_id, kind, author, staff_id, text, created_at, written_by, "
                "author_rpps) VALUES ('n-v14', ?, 'remote_doctor_conclusion', 'Dr Démo Distant', ?, "
                "'Surveillance simple.', '2024-06-05T07:32:00+00:00', 'staff', '10000000009')",
                [V2_SESSION_OPEN, V2_STAFF])


def fill_v15(con: sqlite3.Connection) -> None:
    """The v14 data plus a staff member locked out, with the boot the lock-out started in."""
    fill_v14(con)
    con.execute("UPDATE staff SET pin_failures = 5, pin_locked_until = '2024-06-04T09:00:30.000000+00:00', "
                "pin_lock_boot = 'boot-v15', pin_lock_uptime = 1234.5 WHERE id = ?", [V2_STAFF])


PATIENT_V16 = "12121212-1212-4121-8121-121212121212"


def fill_v16(con: sqlite3.Connection) -> None:
    """The v15 data plus a resident with a hyphenated, accented birth name and a usual name, written with the
    triggers that keep the search tokens (the connection has `relais_name_tokens`, as the app's have)."""
    fill_v15(con)
    con.execute("INSERT INTO patients (id, family_name, given_name, birth_date, sex, birth_place_insee, "
                "identity_status, usual_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [PATIENT_V16, "Le Pévèle-Aubrac", "Noëlle", "1938-07-21", "F", "59350", "PROV", "d'Orcière",
                 "2024-06-05T08:00:00.000000+00:00"])


def fill_v17(con: sqlite3.Connection) -> None:
    """The v16 data plus a session bundle queued compressed, as closing writes it from v17 on (the rows written
    as text before stay readable as they are)."""
    fill_v16(con)
    stored, size = frozen_payloads.pack(_v1_payload(PATIENT_QUAL, "key-v17", "38.20"))
    con.execute("INSERT INTO outbox (id, session_id, addendum_id, idempotency_key, payload, payload_size, state, "
                "attempts, created_at) VALUES ('o-v17', ?, 'a-1', 'a-1', ?, ?, 'pending', 0, "
                "'2024-06-05T08:00:00+00:00')", [V2_SESSION_CLOSED, stored, size])


def fill_v18(con: sqlite3.Connection) -> None:
    """The v17 data: v18 adds only the outbox's counts per state, which follow from its rows."""
    fill_v17(con)


PATIENT_V19 = "19191919-1919-4191-8191-191919191919"


def fill_v19(con: sqlite3.Connection) -> None:
    """The v18 data plus a resident written with the triggers that keep the list's order (the connection has
    `relais_list_key`, as the app's have)."""
    fill_v18(con)
    con.execute("INSERT INTO patients (id, family_name, given_name, birth_date, sex, birth_place_insee, "
                "identity_status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [PATIENT_V19, "Abélard", "Zoé", "1931-01-09", "F", "59350", "PROV",
                 "2024-06-06T08:00:00.000000+00:00"])


FILLERS: dict[int, Callable[[sqlite3.Connection], None]] = {0: lambda con: None, 1: fill_v1, 2: fill_v2, 3: fill_v3,
                                                            4: fill_v4, 5: fill_v5, 6: fill_v6, 7: fill_v7,
                                                            8: fill_v8, 9: fill_v9, 10: fill_v10, 11: fill_v11,
                                                            12: fill_v12, 13: fill_v13, 14: fill_v14, 15: fill_v15,
                                                            16: fill_v16, 17: fill_v17, 18: fill_v18,
                                                            19: fill_v19}


def store_at(path: Path, version: int) -> None:
    """Create a store at schema `version` (migrations 1..version) and fill it with that version's data."""
    Store(path, migrations=MIGRATIONS[:version], recover_in_flight=False).close()
    con = sqlite3.connect(path)
    con.create_function("relais_name_tokens", 3, name_tokens_json)  # what the app registers (schema v16 triggers)
    con.create_function("relais_list_key", 4, list_key)  # and for the list's order (schema v19 triggers)
    con.create_function("relais_name_prefixes", 3, name_prefixes_json)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == version
        con.execute("PRAGMA foreign_keys = ON")
        with con:
            FILLERS[version](con)
    finally:
        con.close()


def _order(con: sqlite3.Connection, table: str) -> str:
    """rowid, or for a WITHOUT ROWID table its primary key's columns."""
    sql = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
    if "WITHOUT ROWID" not in sql.upper():
        return "rowid"
    return ", ".join(f"[{r[1]}]" for r in sorted(con.execute(f"PRAGMA table_info([{table}])"), key=lambda r: r[5])
                     if r[5])


def snapshot(path: Path) -> dict[str, list[dict]]:
    """Every row of every table, in rowid (or primary key) order (BLOBs kept as bytes)."""
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        # full-text indexes (virtual tables and their shadow tables) are derived data, rebuilt from their table
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master AS t WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND NOT EXISTS "
            "(SELECT 1 FROM sqlite_master AS v WHERE v.sql LIKE 'CREATE VIRTUAL TABLE%' "
            "AND (t.name = v.name OR t.name GLOB v.name || '_*')) ORDER BY name")]
        return {t: [dict(r) for r in con.execute(f"SELECT * FROM [{t}] ORDER BY {_order(con, t)}")] for t in tables}
    finally:
        con.close()
