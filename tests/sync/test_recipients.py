"""The report's recipients: the médecin traitant remembered on the patient (address checked for form), a session's
recipients chosen while open (replaced, removed), added but never removed after close, their delivery states read
from the mail outbox, the Mon espace santé rule, and the consent's answer about it."""
from __future__ import annotations

import sqlite3

import pytest

from sync import closing
from sync.delivery import freeze
from sync.delivery.recipients import mes_address, mes_decision
from sync.store import InputError, SessionStateError

INS = "231027505612317"  # fictitious (born 1931-02 in Paris), valid key
GP = {"kind": "gp", "address": "claire.martin@medecin.mssante.fr", "name": "Dr Claire MARTIN", "rpps": "10000000001"}
MES = {"kind": "patient", "address": f"{INS}@patient.mssante.fr"}


@pytest.fixture
def patient(store):
    return store.add_patient(family_name="Lavandin", given_name="Odette", birth_date="1931-02-14", sex="F",
                             birth_place_insee="75056", identity_status="QUAL", ins=INS, identity_document="CN")


@pytest.fixture
def session(store, patient):
    staff = store.add_staff(display_name="Inès Infirmière", role="infirmier")
    session_id = store.open_session(patient, staff_id=staff)
    store.record_consent(session_id, decision="given", recorded_by=staff, mes_opposed=False)
    store.add_measurement(session_id, code="8310-5", value="37.2", unit="Cel", source="manual")
    return session_id


@pytest.mark.parametrize("address", ["claire.martin@medecin", "claire martin@medecin.mssante.fr", "a@b@c.fr",
                                     "@medecin.mssante.fr", "claire@.fr", "claire@medecin.mssante.fr;x@y.fr",
                                     "claire@medecin..fr", "<claire@medecin.fr>", "claire@medecin.fr."])
def test_an_address_not_of_the_mail_form_is_refused(store, patient, address):
    with pytest.raises(InputError) as refused:
        store.set_patient_gp(patient, name="Dr Claire MARTIN", address=address)
    assert (refused.value.code, refused.value.field) == ("recipient.address.invalid", "address")
    assert store.patient_gp(patient) is None


def test_the_gp_is_remembered_and_forgotten(store, patient):
    store.set_patient_gp(patient, name=" Dr Claire MARTIN ", address=" Claire.Martin@Medecin.MSSante.fr ",
                         rpps="10000000001")
    assert store.patient_gp(patient) == {"name": "Dr Claire MARTIN", "rpps": "10000000001",
                                         "address": "claire.martin@medecin.mssante.fr"}
    with pytest.raises(InputError) as refused:
        store.set_patient_gp(patient, name="Dr X", address="x@medecin.fr", rpps="1234")
    assert refused.value.code == "recipient.rpps.invalid"
    with pytest.raises(InputError) as refused:
        store.set_patient_gp(patient, name="", address="x@medecin.fr")
    assert refused.value.code == "recipient.name.required"
    store.set_patient_gp(patient, name=None, address=None)
    assert store.patient_gp(patient) is None


def test_recipients_while_open_then_after_close(store, session):
    store.set_report_recipients(session, [GP, MES])
    [gp_id] = store.set_report_recipients(session, [GP])          # chosen again: replaced, not doubled
    assert [(r["kind"], r["address"]) for r in store.report_recipients(session)] == [("gp", GP["address"])]
    with pytest.raises(InputError) as refused:
        store.add_report_recipient(session, kind="gp", address=GP["address"].upper())
    assert refused.value.code == "recipient.address.duplicate"
    store.remove_report_recipient(gp_id)
    assert store.report_recipients(session) == []
    store.add_report_recipient(session, **GP)
    closing.close_session(store, session)
    mes_id = store.add_report_recipient(session, **MES)             # after close: added, the frozen report goes
    assert [r["kind"] for r in store.report_recipients(session)] == ["gp", "patient"]
    with pytest.raises(SessionStateError) as refused:
        store.remove_report_recipient(mes_id)
    assert refused.value.code == "session.closed"
    with pytest.raises(SessionStateError):
        store.set_report_recipients(session, [])
    assert len(store.report_recipients(session)) == 2


def test_no_recipient_for_an_abandoned_session(store, session):
    store.abandon_session(session)
    with pytest.raises(SessionStateError) as refused:
        store.add_report_recipient(session, **GP)
    assert refused.value.code == "session.abandoned"


def _queue(store, session, recipient, *, state="pending", refusal=None, sent_at=None):
    """A message for `recipient` of the document frozen at close, as the mail side writes it, straight in SQL."""
    document_id = freeze.latest_document(store, session)["id"]
    with store.transaction():
        store.conn.execute("INSERT INTO report_outbox (id, document_id, session_id, recipient_kind, recipient, "
                           "message_id, message, state, refusal, sent_at, created_at) VALUES "
                           "(?, ?, ?, ?, ?, ?, X'46', ?, ?, ?, '2024-05-01T10:00:00+00:00')",
                           [f"o-{recipient['kind']}", document_id, session, recipient["kind"], recipient["address"],
                            f"<{recipient['kind']}@relais.test>", state, refusal, sent_at])


def test_recipient_states_follow_the_mail_outbox(store, session):
    store.set_report_recipients(session, [GP, MES])
    closing.close_session(store, session)
    states = store.recipient_states(session)
    assert [(s["kind"], s["state"]) for s in states] == [("gp", "waiting"), ("patient", "waiting")]  # nothing queued
    _queue(store, session, GP, state="sent", sent_at="2024-05-01T08:42:00+00:00")
    _queue(store, session, MES, state="refused", refusal="550 5.1.1 mailbox unknown")
    late = {"kind": "gp", "address": "remplacant@medecin.mssante.fr", "name": "Dr Remplaçant"}
    store.add_report_recipient(session, **late)
    by_address = {s["address"]: s for s in store.recipient_states(session)}
    assert (by_address[GP["address"]]["state"], by_address[GP["address"]]["sent_at"]) == \
        ("sent", "2024-05-01T08:42:00+00:00")
    assert (by_address[MES["address"]]["state"], by_address[MES["address"]]["refusal"]) == \
        ("refused", "550 5.1.1 mailbox unknown")
    assert by_address[late["address"]]["state"] == "waiting"
    assert store.recipient_states("no-such-session") == []


def test_the_consent_records_the_mes_answer(store, patient):
    staff = store.add_staff(display_name="Inès Infirmière", role="infirmier")
    session_id = store.open_session(patient, staff_id=staff)
    store.record_consent(session_id, decision="given", recorded_by=staff)
    store.record_consent(session_id, decision="given", recorded_by=staff, mes_opposed=True)
    assert [c["mes_opposed"] for c in store.consents(session_id)] == [None, 1]
    with pytest.raises(InputError) as refused:
        store.record_consent(session_id, decision="given", recorded_by=staff, mes_opposed="no")
    assert refused.value.code == "input.not_bool"


QUALIFIED = {"identity_status": "QUAL", "ins": INS}


@pytest.mark.parametrize("patient, consent, address, reason", [
    (QUALIFIED, {"mes_opposed": 0}, f"{INS}@patient.mssante.fr", None),
    (QUALIFIED, {"mes_opposed": 1}, None, "opposed"),
    (QUALIFIED, {"mes_opposed": None}, None, "not_asked"),
    (QUALIFIED, None, None, "not_asked"),
    ({"identity_status": "VALI", "ins": None}, {"mes_opposed": 0}, None, "not_qualified"),
    ({"identity_status": "PROV", "ins": INS}, {"mes_opposed": 0}, None, "not_qualified"),
    ({"identity_status": "QUAL", "ins": None}, {"mes_opposed": 0}, None, "not_qualified"),
])
def test_the_mon_espace_sante_rule(patient, consent, address, reason):
    assert mes_address(patient, consent) == address
    assert mes_decision(patient, consent).reason == reason


def test_the_schema_still_guards_what_the_functions_check(store, session):
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction():
            store.conn.execute("INSERT INTO report_recipients (id, session_id, kind, address, created_at) VALUES "
                               "('x', ?, 'gp', 'not an address', 'now')", [session])
