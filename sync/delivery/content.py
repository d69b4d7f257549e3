"""What the teleconsultation report says, read once from the store: a frozen tree of plain values that the PDF,
the CDA R2 header, the IHE XDM metadata and the mail message are all built from, so the four never disagree.

Read inside the caller's transaction (the close, or an addendum after it). The French wording of values reuses the
FHIR narrative's helpers (decimal comma, Paris wall-clock time, interpretation flags in words); NEWS2 is computed
from the stored readings by sync.clinical.news2 (Royal College of Physicians, NEWS2, 2017), the same rules staff
saw on the vitals screen: a partial score names what is missing and is never called low.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import sync.fhir as fhir
from sync.fhir.acts import ACTS, Act, act_of
from sync.clinical.stored import news2_of_readings
from sync.fhir.interpretation import INTERPRETATION_FR
from sync.fhir.narrative import ANSWERS_FR, fr_quantity
from sync.fhir.report import attribution
from sync.fhir.resources import device_display
from sync.fhir.terminology import CONSENT_GRANTORS, SITE_KINDS, STAFF_ROLES
from sync.store.consents import consents as session_consents
from sync.store.database import Database
from sync.store.measurements import measurements as session_measurements
from sync.store.notes import addenda as session_addenda, get_summary, notes as session_notes
from sync.vocabulary import OBSERVATION_TYPES

NEWS2_PARAMETERS_FR = {"respiration_rate": "fréquence respiratoire", "spo2": "saturation en oxygène (SpO2)",
                       "air_or_oxygen": "air ou oxygène", "systolic": "pression systolique",
                       "pulse": "fréquence cardiaque", "consciousness": "conscience (ACVPU)",
                       "temperature": "température"}
NEWS2_BANDS_FR = {"high": "risque élevé", "medium": "risque moyen",
                  "low_medium": "risque faible à moyen (un paramètre à 3)", "low": "risque faible",
                  "incomplete": "incomplet"}


@dataclass(frozen=True)
class Patient:
    """The RNIV identity traits; `ins` and `ins_oid` only for a qualified identity (INS authority OID, no urn)."""
    local_id: str
    birth_family_name: str
    first_given_name: str
    given_names: str  # every birth given name, space-separated, the first one first
    birth_date: str  # YYYY-MM-DD
    sex: str  # F, M or I (INS)
    birthplace_insee: str  # INSEE COG code of the commune, or 99xxx for a country
    usual_name: str | None
    identity_status: str  # PROV, RECUP, VALI, QUAL
    ins: str | None = None
    ins_oid: str | None = None

    @property
    def qualified(self) -> bool:
        return self.ins is not None


@dataclass(frozen=True)
class Site:
    local_id: str
    name: str
    kind: str  # ehpad or pharmacie
    kind_label: str
    finess: str | None = None


@dataclass(frozen=True)
class Professional:
    name: str
    role: str | None = None  # staff role code (sync.store staff), None for the remote doctor
    role_label: str | None = None
    rpps: str | None = None


@dataclass(frozen=True)
class Measurement:
    label: str  # French label
    value: str  # as stored ("37.60"), or the coded answer in French words
    unit: str  # UCUM code ("" for a coded answer)
    display_value: str  # French: "37,60 °C", "alerte (A)"
    device: str | None  # manufacturer, model and name; None when entered by hand
    flag: str | None  # the interpretation in words ("élevée"), None when in range
    time: str  # ISO date-time, the device's time when known, else when received

    @property
    def manual(self) -> bool:
        return self.device is None


@dataclass(frozen=True)
class News2Result:
    score: int
    risk: str  # high, medium, low_medium, low, incomplete (sync.clinical.news2)
    band: str  # the band in French, "au moins …" when the score is partial
    complete: bool
    missing: tuple[str, ...]  # French names of the parameters not assessed
    spo2_scale: int = 1


@dataclass(frozen=True)
class Remark:
    """A note, a consent decision or an addendum: its text, who wrote it, when."""
    text: str
    author: str
    time: str


@dataclass(frozen=True)
class ReportContent:
    session_id: str
    patient: Patient
    site: Site | None
    staff: Professional | None  # the accompanying staff member, who closed the session
    remote_doctor: Professional | None
    reason: str | None
    start: str
    end: str | None
    closed_at: str | None
    measurements: tuple[Measurement, ...]
    news2: News2Result | None
    consents: tuple[Remark, ...]
    conclusions: tuple[Remark, ...]
    orientation: tuple[Remark, ...]
    prescriptions: tuple[Remark, ...]
    staff_notes: tuple[Remark, ...]
    emergency_calls: tuple[Remark, ...]
    summary: str | None
    addenda: tuple[Remark, ...] = ()
    gp: Professional | None = None
    # who wrote the conclusions: the doctor themselves, or the staff member who typed them (None: not recorded)
    conclusions_by: str | None = None
    conclusions_transcriber: Professional | None = None  # the staff member who typed them, when transcribed
    act: Act = ACTS["teleconsultation"]  # teleconsultation or téléexpertise: the title, roles and NGAP code follow


def _ins_oid(db: Database) -> str:
    """The INS authority of this store (demo, test), else the FHIR mapping's switch, as a bare OID."""
    system = getattr(db, "ins_system", None) or fhir.INS_SYSTEM
    return system.removeprefix("urn:oid:")


def _patient(row: Mapping[str, Any], ins_oid: str) -> Patient:
    qualified = row.get("identity_status") == "QUAL" and bool(row.get("ins"))
    return Patient(local_id=row["id"], birth_family_name=row["family_name"], first_given_name=row["given_name"],
                   given_names=row.get("birth_given_names") or row["given_name"], birth_date=row["birth_date"],
                   sex=row["sex"], birthplace_insee=row["birth_place_insee"], usual_name=row.get("usual_name"),
                   identity_status=row["identity_status"], ins=row["ins"] if qualified else None,
                   ins_oid=ins_oid if qualified else None)


def _staff(row: Mapping[str, Any] | None) -> Professional | None:
    if row is None:
        return None
    return Professional(name=row["display_name"], role=row["role"], role_label=STAFF_ROLES[row["role"]],
                        rpps=row.get("rpps"))


def _measurement(m: Mapping[str, Any]) -> Measurement:
    kind = OBSERVATION_TYPES[m["code"]]
    if kind.answers is not None:
        display = ANSWERS_FR.get(m["code"], {}).get(m["value"], m["value"])
    else:
        display = fr_quantity(m["value"], m["unit"])
    flag = m.get("interpretation")
    device = None if m.get("source") == "manual" else (device_display(m) or "appareil connecté")
    return Measurement(label=kind.label_fr, value=m["value"], unit=m["unit"], display_value=display, device=device,
                       flag=INTERPRETATION_FR[flag] if flag else None,
                       time=m.get("measured_at") or m["received_at"])


def news2_of(measurements: Sequence[Mapping[str, Any]]) -> News2Result | None:
    """NEWS2 over the stored readings (the last of each kind), None when no reading feeds it."""
    score = news2_of_readings(measurements)
    if score is None:
        return None
    band = NEWS2_BANDS_FR[score.risk]
    return News2Result(score=score.score, risk=score.risk, band=f"au moins {band}" if score.at_least else band,
                       complete=score.complete, missing=tuple(NEWS2_PARAMETERS_FR[p] for p in score.missing),
                       spo2_scale=score.spo2_scale)


def _remarks(notes: Sequence[Mapping[str, Any]], kind: str) -> tuple[Remark, ...]:
    return tuple(Remark(n["text"], n["author"], n["created_at"]) for n in notes if n["kind"] == kind)


def _conclusions_by(notes: Sequence[Mapping[str, Any]], staff: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The report's sentence saying who wrote the doctor's conclusions (sync.fhir.report.attribution)."""
    conclusion = next((n for n in notes if n["kind"] == "remote_doctor_conclusion"), None)
    return attribution(conclusion, staff) if conclusion else None


def _transcriber(notes: Sequence[Mapping[str, Any]], staff: Mapping[str, Mapping[str, Any]]) -> Professional | None:
    conclusion = next((n for n in notes if n["kind"] == "remote_doctor_conclusion"), None)
    if conclusion is None or conclusion.get("written_by") != "staff" or not conclusion.get("staff_id"):
        return None
    return _staff(staff[conclusion["staff_id"]])


def _consent(consent: Mapping[str, Any], staff_names: Mapping[str, str]) -> Remark:
    grantor = consent.get("given_by") or "patient"
    who = "le patient" if grantor == "patient" else f"{consent['given_by_name']} ({CONSENT_GRANTORS[grantor]})"
    text = f"{'donné' if consent['decision'] == 'given' else 'refusé'} par {who}"
    if consent.get("mes_opposed"):
        text += " (opposé à une copie dans Mon espace santé)"
    return Remark(text, staff_names.get(consent["recorded_by"], ""), consent["recorded_at"])


def report_content(db: Database, session_id: str) -> ReportContent:
    """Everything the report says about a closed session, read in the caller's transaction."""
    session = db.row("sessions", session_id)
    patient = db.row("patients", session["patient_id"])
    site = db.row("sites", session["site_id"]) if session.get("site_id") else None
    rows = session_measurements(db, session_id)
    notes = session_notes(db, session_id)
    consents = session_consents(db, session_id)
    later = session_addenda(db, session_id)
    staff_ids = {session.get("staff_id"), *(c["recorded_by"] for c in consents), *(a["staff_id"] for a in later),
                 *(n["staff_id"] for n in notes)}
    staff_rows = {sid: db.row("staff", sid) for sid in staff_ids if sid}
    names = {sid: row["display_name"] for sid, row in staff_rows.items()}
    summary = get_summary(db, session_id)
    staff = _staff(staff_rows.get(session.get("staff_id")))
    if staff is None and session.get("staff"):
        staff = Professional(name=session["staff"])
    doctor = None
    if session.get("remote_doctor_name") or session.get("remote_doctor_rpps"):
        doctor = Professional(name=session.get("remote_doctor_name") or act_of(session).doctor_role,
                              rpps=session.get("remote_doctor_rpps"))
    gp = None
    if patient.get("gp_name") or patient.get("gp_rpps"):
        gp = Professional(name=patient.get("gp_name") or "Médecin traitant", rpps=patient.get("gp_rpps"))
    return ReportContent(
        session_id=session_id, patient=_patient(patient, _ins_oid(db)),
        site=Site(site["id"], site["name"], site["kind"], SITE_KINDS[site["kind"]], site.get("finess"))
        if site else None,
        staff=staff, remote_doctor=doctor, reason=session.get("reason"),
        start=session.get("started_at") or session["opened_at"],
        end=session.get("ended_at") or session.get("closed_at"), closed_at=session.get("closed_at"),
        measurements=tuple(_measurement(m) for m in rows), news2=news2_of(rows),
        consents=tuple(_consent(c, names) for c in consents),
        conclusions=_remarks(notes, "remote_doctor_conclusion"), orientation=_remarks(notes, "orientation"),
        prescriptions=_remarks(notes, "prescription"), staff_notes=_remarks(notes, "staff_note"),
        emergency_calls=_remarks(notes, "emergency_call"),
        summary=summary["text"] if summary else None,
        addenda=tuple(Remark(a["text"], names.get(a["staff_id"], ""), a["created_at"]) for a in later), gp=gp,
        conclusions_by=_conclusions_by(notes, staff_rows), conclusions_transcriber=_transcriber(notes, staff_rows),
        act=act_of(session))

