"""The patient's own copy of the report, in their Mon espace santé (MES) secure mailbox.

The address is the patient's INS matricule (15 characters) at patient.mssante.fr, as in the ANS examples of the
CI-SIS volet TLM-CR ("mailto:279035121518989@patient.mssante.fr", ansforge TestContenuCDA examples) and of the
HL7 v2 MSSanté guide. Since the address *is* the matricule, it is only built from a qualified identity (INS
qualified through the INSi teleservice: identity status QUAL), and only when the patient, asked at consent, did
not oppose it (the consent's `mes_opposed` = 0). Otherwise no address, and the reason why:
`not_qualified`, `not_asked` (consent recorded without the question, as before schema v8), `opposed`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

MES_DOMAIN = "patient.mssante.fr"
MES_REASONS = ("not_qualified", "not_asked", "opposed")


@dataclass(frozen=True)
class MesDecision:
    address: str | None   # <INS>@patient.mssante.fr, or None
    reason: str | None    # why there is no address (MES_REASONS), None when there is one


def mes_decision(patient: Mapping[str, Any], consent: Mapping[str, Any] | None) -> MesDecision:
    """Whether the report goes to the patient's Mon espace santé, and to which address."""
    ins = (patient.get("ins") or "").strip()
    if patient.get("identity_status") != "QUAL" or len(ins) != 15 or not ins.isalnum():
        return MesDecision(None, "not_qualified")
    opposed = (consent or {}).get("mes_opposed")
    if opposed is None:
        return MesDecision(None, "not_asked")
    if opposed:
        return MesDecision(None, "opposed")
    return MesDecision(f"{ins}@{MES_DOMAIN}", None)


def mes_address(patient: Mapping[str, Any], consent: Mapping[str, Any] | None) -> str | None:
    """<INS>@patient.mssante.fr for a qualified identity whose patient did not oppose; None otherwise (the reason
    is `mes_decision(...).reason`)."""
    return mes_decision(patient, consent).address
