"""The teleconsultation report and its addenda as HL7 FHIR R4 Compositions typed LOINC 11488-4 "Consult note", in
French: the reason (LOINC 29299-5), how the call went, the consent, the measurements (LOINC 8716-3, with references
to their Observations), the remote doctor's conclusion, the staff's notes and the summary for the patient's own
doctor (médecin traitant). Sections are titled and ordered so that they can map onto a CI-SIS document later.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from sync.fhir.acts import Act, act_of
from sync.fhir.interpretation import INTERPRETATION_FR
from sync.fhir.narrative import (ANSWERS_FR, conclusions_attribution_fr, fr_datetime, fr_phone, fr_quantity,
                                 narrative, yes_no)
from sync.fhir.observations import observation_groups
from sync.fhir.resources import fhir_datetime, staff_row
from sync.fhir.terminology import (ADDENDUM_ID_SYSTEM, COMPOSITION_ID_SYSTEM, CONSENT_GRANTORS, CONSULT_NOTE,
                                   ENCOUNTER_ID_SYSTEM, LOINC, SITE_KINDS, STAFF_ROLES)
from sync.vocabulary import BP_COMPONENT_ORDER, OBSERVATION_TYPES


def _panel_line(group: Sequence[Mapping[str, Any]]) -> str:
    """Tension artérielle : pression systolique 185 mmHg (élevée), … — the panel's readings in one line."""
    by_code = {m["code"]: m for m in group}
    parts = []
    for code in BP_COMPONENT_ORDER:
        if code in by_code:
            m = by_code[code]
            flag = m.get("interpretation")
            text = f"{OBSERVATION_TYPES[code].label_fr.lower()} {fr_quantity(m['value'], m['unit'])}"
            parts.append(f"{text} ({INTERPRETATION_FR[flag]})" if flag else text)
    return f"Tension artérielle : {', '.join(parts)}"


def measurement_lines(measurements: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per Observation, in the bundle's order: value, flag in words, time, and how it was taken."""
    lines = []
    for group in observation_groups(measurements):
        first = group[0]
        kind = OBSERVATION_TYPES[first["code"]]
        when = fr_datetime(first.get("measured_at") or first["received_at"])
        how = "saisie manuelle" if first.get("source") == "manual" else "appareil connecté"
        if kind.panel:
            lines.append(f"{_panel_line(group)} — {when}, {how}")
        elif kind.answers is not None:
            answer = ANSWERS_FR.get(first["code"], {}).get(first["value"], first["value"])
            lines.append(f"{kind.label_fr} : {answer} — {when}, {how}")
        else:
            flag = first.get("interpretation")
            text = f"{kind.label_fr} : {fr_quantity(first['value'], first['unit'])}"
            lines.append(f"{text}{f' ({INTERPRETATION_FR[flag]})' if flag else ''} — {when}, {how}")
    return lines


def _context_lines(session: Mapping[str, Any], site: Mapping[str, Any] | None,
                   staff: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The "Déroulement" section: where, with whom, when, who else was there, the number to call back."""
    context = []
    if site is not None:
        context.append(f"Lieu : {site['name']} ({SITE_KINDS[site['kind']]})")
    if session.get("staff_id"):
        row = staff_row(staff, session["staff_id"])
        context.append(f"Professionnel accompagnant : {row['display_name']} ({STAFF_ROLES[row['role']]})")
    elif session.get("staff"):
        context.append(f"Professionnel accompagnant : {session['staff']}")
    if session.get("remote_doctor_name") or session.get("remote_doctor_rpps"):
        rpps = f" (RPPS {session['remote_doctor_rpps']})" if session.get("remote_doctor_rpps") else ""
        context.append(f"{act_of(session).doctor_role} : {session.get('remote_doctor_name') or 'non renseigné'}{rpps}")
    start = session.get("started_at") or session["opened_at"]
    end = session.get("ended_at") or session.get("closed_at")
    context.append(f"Début : {fr_datetime(start)}" + (f" ; fin : {fr_datetime(end)}" if end else ""))
    if yes_no(session.get("companion_present")):
        context.append(f"Accompagnant présent : {yes_no(session.get('companion_present'))}")
    if yes_no(session.get("interpreter_present")):
        context.append(f"Interprète présent : {yes_no(session.get('interpreter_present'))}")
    if session.get("callback_phone"):
        context.append(f"Numéro de rappel : {fr_phone(session['callback_phone'])}")
    return context


def _consent_lines(consents: Sequence[Mapping[str, Any]], staff: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One sentence per recorded decision: given or refused, by whom, when, recorded by whom."""
    lines = []
    for consent in consents:
        grantor = consent.get("given_by") or "patient"
        who = ("le patient" if grantor == "patient"
               else f"{consent['given_by_name']} ({CONSENT_GRANTORS[grantor]})")
        verb = "donné" if consent["decision"] == "given" else "refusé"
        recorder = ""
        if consent.get("recorded_by"):
            recorder = f", recueilli par {staff_row(staff, consent['recorded_by'])['display_name']}"
        lines.append(f"Consentement {verb} par {who} le {fr_datetime(consent['recorded_at'])}{recorder}.")
    return lines


def _summary_lines(summary: Mapping[str, Any]) -> list[str]:
    lines = []
    if summary.get("recipient_name") or summary.get("recipient_rpps"):
        rpps = f" (RPPS {summary['recipient_rpps']})" if summary.get("recipient_rpps") else ""
        lines.append(f"Destinataire : {summary.get('recipient_name') or 'médecin traitant'}{rpps}")
    lines.append(summary["text"])
    return lines


def _note_section(title: str, notes: Sequence[Mapping[str, Any]], kind: str) -> list[dict[str, Any]]:
    """A section of the notes of one kind, each followed by its author; none when there is no such note."""
    chosen = [n for n in notes if n["kind"] == kind]
    return [{"title": title, "text": narrative([f"{n['text']} ({n['author']})" for n in chosen])}] if chosen else []


def attribution(note: Mapping[str, Any], staff: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Who wrote the doctor's conclusions (narrative.conclusions_attribution_fr), the transcriber from `staff`."""
    transcriber = staff_row(staff, note["staff_id"]) if note.get("staff_id") else None
    role = STAFF_ROLES[transcriber["role"]] if transcriber else None
    return conclusions_attribution_fr(note, transcriber, role)


def _doctor_sections(notes: Sequence[Mapping[str, Any]], staff: Mapping[str, Mapping[str, Any]],
                     act: Act) -> list[dict[str, Any]]:
    """The remote doctor's conclusion, orientation and prescriptions. When the tablet knows who wrote them, the
    section first says so, then gives the words alone, as written; older notes keep their "(author)" form."""
    sections = []
    for title, kind in ((act.conclusion_title, "remote_doctor_conclusion"),
                        ("Orientation", "orientation"), ("Prescriptions", "prescription")):
        chosen = [n for n in notes if n["kind"] == kind]
        if not chosen:
            continue
        if chosen[0].get("written_by") is None:
            sections += _note_section(title, notes, kind) if kind == "remote_doctor_conclusion" else []
            continue
        lines = [line for n in chosen for line in (attribution(n, staff), n["text"])]
        sections.append({"title": title, "text": narrative(lines)})
    return sections


def _sections(session: Mapping[str, Any], measurements: Sequence[Mapping[str, Any]], *,
              site: Mapping[str, Any] | None, staff: Mapping[str, Mapping[str, Any]],
              consents: Sequence[Mapping[str, Any]], notes: Sequence[Mapping[str, Any]],
              summary: Mapping[str, Any] | None, observation_refs: Sequence[str],
              consent_refs: Sequence[str]) -> list[dict[str, Any]]:
    sections: list[dict[str, Any]] = [
        {"title": act_of(session).reason_title,
         "code": {"coding": [{"system": LOINC, "code": "29299-5"}]},
         "text": narrative([session.get("reason") or "Motif non renseigné."])},
        {"title": "Déroulement", "text": narrative(_context_lines(session, site, staff))},
    ]
    if consents:
        sections.append({"title": "Consentement", "text": narrative(_consent_lines(consents, staff)),
                         "entry": [{"reference": r} for r in consent_refs]})
    sections.append({"title": "Mesures", "code": {"coding": [{"system": LOINC, "code": "8716-3"}]},
                     "text": narrative(measurement_lines(measurements) or ["Aucune mesure."]),
                     **({"entry": [{"reference": r} for r in observation_refs]} if observation_refs else {})})
    sections += _doctor_sections(notes, staff, act_of(session))
    sections += _note_section("Appel au SAMU (15)", notes, "emergency_call")
    sections += _note_section("Notes de l'équipe soignante", notes, "staff_note")
    if summary is not None:
        sections.append({"title": "Synthèse pour le médecin traitant", "text": narrative(_summary_lines(summary))})
    return sections


def composition_resource(patient: Mapping[str, Any], session: Mapping[str, Any],
                         measurements: Sequence[Mapping[str, Any]], *, site: Mapping[str, Any] | None,
                         staff: Mapping[str, Mapping[str, Any]], consents: Sequence[Mapping[str, Any]],
                         notes: Sequence[Mapping[str, Any]], summary: Mapping[str, Any] | None, patient_ref: str,
                         encounter_ref: str, observation_refs: Sequence[str], consent_refs: Sequence[str],
                         author_refs: Sequence[str], organization_ref: str | None) -> dict[str, Any]:
    """The teleconsultation report (LOINC 11488-4 Consult note), in French: reason and context, consent,
    measurements (with references to the Observations), the remote doctor's conclusion, staff notes, and the
    summary for the patient's own doctor. Dated by the session's close, else by its newest note or summary."""
    sections = _sections(session, measurements, site=site, staff=staff, consents=consents, notes=notes,
                         summary=summary, observation_refs=observation_refs, consent_refs=consent_refs)
    date = session.get("closed_at") or max(
        [n["created_at"] for n in notes] + ([summary["created_at"]] if summary else []))
    authors = [{"reference": r} for r in author_refs]
    if not authors:
        authors = [{"reference": organization_ref}] if organization_ref else [{"display": "Relais"}]
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "identifier": {"system": COMPOSITION_ID_SYSTEM, "value": session["idempotency_key"]},
        "status": "final",
        "type": {"coding": [dict(CONSULT_NOTE)],
                 "text": act_of(session).document_type},
        "subject": {"reference": patient_ref},
        "encounter": {"reference": encounter_ref},
        "date": fhir_datetime(date),
        "author": authors,
        "title": act_of(session).title,
        "section": sections,
    }
    if organization_ref:
        composition["custodian"] = {"reference": organization_ref}
    return composition


def addendum_composition_resource(session: Mapping[str, Any], addendum: Mapping[str, Any], *,
                                  author: Mapping[str, Any], patient_ref: str, author_ref: str) -> dict[str, Any]:
    """A remark written after the session was closed: a Composition that *appends* to the session's report
    (Composition.relatesTo code `appends`, target by identifier). The frozen report itself never changes."""
    key = session["idempotency_key"]
    remark = f"{addendum['text']} ({author['display_name']}, {fr_datetime(addendum['created_at'])})"
    return {
        "resourceType": "Composition",
        "identifier": {"system": ADDENDUM_ID_SYSTEM, "value": addendum["id"]},
        "status": "final",
        "type": {"coding": [dict(CONSULT_NOTE)],
                 "text": "Addendum au compte rendu de téléconsultation"},
        "subject": {"reference": patient_ref},
        # a logical reference (by identifier): it needs no resolution, so any server stores it as sent (Medplum
        # keeps a conditional reference `Encounter?identifier=…` verbatim, unresolved)
        "encounter": {"type": "Encounter", "identifier": {"system": ENCOUNTER_ID_SYSTEM, "value": key}},
        "date": fhir_datetime(addendum["created_at"]),
        "author": [{"reference": author_ref}],
        "title": "Addendum au compte rendu de téléconsultation assistée",
        "relatesTo": [{"code": "appends",
                       "targetIdentifier": {"system": COMPOSITION_ID_SYSTEM, "value": key}}],
        "section": [{"title": "Addendum", "text": narrative([remark])}],
    }
