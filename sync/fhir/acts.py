"""What kind of telemedicine act a closed session was, and how the report names it.

French law (Code de la santé publique, art. R6316-1) distinguishes the teleconsultation (the patient consults a
remote doctor, here by video with a care worker beside them) from the téléexpertise (a professional asks a remote
doctor's advice, without the patient in a call). A session is a téléexpertise when staff asked for advice without a
call and no call was started afterwards; every other session is a teleconsultation. The report's title, the remote
doctor's role and the NGAP act code of the CDA serviceEvent (one of those the ANS TLM-CR volet allows: TC, TE2, …)
all follow from that one decision, so the FHIR Composition, the PDF, the CDA and the mail never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Act:
    kind: str  # teleconsultation or teleexpertise (sync.fhir.exchange.REQUEST_KINDS)
    name: str  # the act in a sentence: "téléconsultation assistée"
    title: str  # the report's title
    heading: str  # the report's section about the act
    doctor_role: str  # what the remote doctor was in this act
    ngap: tuple[str, str]  # NGAP act code and display name (CDA serviceEvent, XDS contentTypeCode)
    document_type: str  # the Composition's type in words
    reason_title: str  # the report's section giving the reason
    for_patient: str  # the act as told to the patient in the report's mail: "votre téléconsultation du …"
    conclusion_title: str  # the report's section holding the remote doctor's words
    file_label: str  # the short name in the PDF's file name: "CR téléconsultation"


ACTS = {
    "teleconsultation": Act("teleconsultation", "téléconsultation assistée",
                            "Compte rendu de téléconsultation assistée", "Téléconsultation",
                            "Médecin téléconsultant", ("TC", "Téléconsultation"),
                            "Compte rendu de téléconsultation", "Motif de la téléconsultation",
                            "votre téléconsultation", "Conclusion du médecin téléconsultant",
                            "CR téléconsultation"),
    "teleexpertise": Act("teleexpertise", "demande d'avis (téléexpertise)",
                         "Compte rendu de demande d'avis (téléexpertise)", "Demande d'avis (téléexpertise)",
                         "Médecin requis", ("TE2", "Téléexpertise"),
                         "Compte rendu de téléexpertise", "Motif de la demande d'avis",
                         "la demande d'avis médical faite pour vous", "Avis du médecin requis",
                         "CR téléexpertise"),
}


def act_of(session: Mapping[str, Any]) -> Act:
    """The act a session was: advice asked without a call, and no call after it, is a téléexpertise."""
    if session.get("request_kind") == "teleexpertise" and not session.get("started_at"):
        return ACTS["teleexpertise"]
    return ACTS["teleconsultation"]
