"""What Relais measures and how each value is coded: LOINC codes, UCUM units, the French label, the R4 vital-signs
profile, blood pressure panel membership, coded answers; the decimal text every value travels as; the INS
authorities. Shared by the store (which refuses what it could not ship), the FHIR mapping and the clinical rules,
so none of them imports another for a code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping

# Namespace of the code systems and identifiers this product defines itself.
BASE = "https://relais.example.org/fhir"

# INS authorities (ANS, Référentiel INS): production NIR, and the test / demo authorities for training mode (never a real INS).
INS_NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
INS_TEST_SYSTEM = "urn:oid:1.2.250.1.213.1.4.10"
INS_DEMO_SYSTEM = "urn:oid:1.2.250.1.213.1.4.11"
INS_IDENTIFIER_TYPES = {INS_NIR_SYSTEM: "INS-NIR", INS_TEST_SYSTEM: "INS-NIR-TEST", INS_DEMO_SYSTEM: "INS-NIR-DEMO"}


@dataclass(frozen=True)
class ObservationType:
    """How one LOINC code becomes a vital-signs Observation. Append entries to OBSERVATION_TYPES for new devices."""

    code: str
    display: str
    profile: str
    units: Mapping[str, str]  # allowed UCUM codes → human unit text
    label_fr: str = ""
    codings: tuple[tuple[str, str], ...] = ()  # LOINC codings sent, in order; default: (code, display)
    panel: str | None = None  # "bp": a component of the blood pressure panel, never an Observation of its own
    answers: Mapping[str, str] | None = None  # a coded value: stored code → display (unit "")
    answer_system: str | None = None

    @property
    def sent_codings(self) -> tuple[tuple[str, str], ...]:
        return self.codings or ((self.code, self.display),)


VS = "http://hl7.org/fhir/StructureDefinition"
_SPO2_CODINGS = (("2708-6", "Oxygen saturation in Arterial blood"),
                 ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"))
_BP_UNITS = {"mm[Hg]": "mmHg", "kPa": "kPa"}
OBSERVATION_TYPES: dict[str, ObservationType] = {
    "8310-5": ObservationType("8310-5", "Body temperature", f"{VS}/bodytemp", {"Cel": "Cel", "[degF]": "[degF]"},
                              "Température corporelle"),
    # the R4 oxygensat profile requires 2708-6; pulse oximeters report 59408-5: both codings are sent
    "59408-5": ObservationType("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", f"{VS}/oxygensat",
                               {"%": "%"}, "Saturation en oxygène (SpO2)", _SPO2_CODINGS),
    "2708-6": ObservationType("2708-6", "Oxygen saturation in Arterial blood", f"{VS}/oxygensat", {"%": "%"},
                              "Saturation en oxygène (SpO2)", _SPO2_CODINGS),
    "8867-4": ObservationType("8867-4", "Heart rate", f"{VS}/heartrate", {"/min": "/min"}, "Fréquence cardiaque"),
    "8480-6": ObservationType("8480-6", "Systolic blood pressure", f"{VS}/bp", _BP_UNITS, "Pression systolique",
                              panel="bp"),
    "8462-4": ObservationType("8462-4", "Diastolic blood pressure", f"{VS}/bp", _BP_UNITS, "Pression diastolique",
                              panel="bp"),
    "8478-0": ObservationType("8478-0", "Mean blood pressure", f"{VS}/bp", _BP_UNITS, "Pression artérielle moyenne",
                              panel="bp"),
    "9279-1": ObservationType("9279-1", "Respiratory rate", f"{VS}/resprate", {"/min": "/min"},
                              "Fréquence respiratoire"),
    # NEWS2 inputs entered by staff. LOINC 67775-7 "Level of responsiveness" carries the ACVPU answer; there is no
    # LOINC answer list for ACVPU (the NHS codes belong to the SNOMED CT UK extension), so the answers use a local
    # code system. Supplemental oxygen ("air or oxygen?" of NEWS2): a local code, value yes/no.
    "67775-7": ObservationType("67775-7", "Level of responsiveness", "", {"": ""},
                               "Conscience (ACVPU)", answers={"A": "Alert", "C": "New confusion", "V": "Voice",
                                                              "P": "Pain", "U": "Unresponsive"},
                               answer_system=f"{BASE}/CodeSystem/acvpu"),
    "supplemental-oxygen": ObservationType("supplemental-oxygen", "Supplemental oxygen", "",
                                           {"": ""}, "Oxygène", answers={"yes": "On oxygen", "no": "On air"},
                                           codings=(("supplemental-oxygen", "Supplemental oxygen"),)),
    # NEWS2 SpO2 scale 2 (RCP 2017 chart): used only when a doctor prescribed a SpO2 target of 88–92 % (hypercapnic
    # respiratory failure); staff tick it on the vitals form. A local code, value yes, stored only when ticked.
    "spo2-target-88-92": ObservationType("spo2-target-88-92", "Prescribed SpO2 target 88-92 % (NEWS2 scale 2)", "",
                                         {"": ""}, "Cible SpO2 88–92 % prescrite (NEWS2 échelle 2)",
                                         answers={"yes": "Yes", "no": "No"},
                                         codings=(("spo2-target-88-92",
                                                   "Prescribed SpO2 target 88-92 % (NEWS2 scale 2)"),)),
}
# The NEWS2 inputs with a local code (system NEWS2_INPUT_SYSTEM of the FHIR mapping) and a yes/no value.
NEWS2_YES_NO_INPUTS = frozenset({"supplemental-oxygen", "spo2-target-88-92"})
BP_PANEL_CODE, BP_PANEL_DISPLAY = "85354-9", "Blood pressure panel with all children optional"
BP_SYSTOLIC, BP_DIASTOLIC, BP_MEAN = "8480-6", "8462-4", "8478-0"
BP_COMPONENT_ORDER = (BP_SYSTOLIC, BP_DIASTOLIC, BP_MEAN)
PANEL_CODES = frozenset(c for c, t in OBSERVATION_TYPES.items() if t.panel == "bp")
MMHG_PER_KPA = Decimal("7.500616827")  # 760 mmHg / 101.325 kPa


_DECIMAL_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def decimal_from_text(text: str) -> Decimal:
    """A JSON-number-shaped decimal string ("37.60") → Decimal keeping every digit; anything else → ValueError."""
    if not isinstance(text, str) or not _DECIMAL_TEXT.fullmatch(text):
        raise ValueError(f"not a decimal string: {text!r}")
    return Decimal(text)



def kpa_to_mmhg(value: Decimal) -> Decimal:
    """kPa → mmHg rounded to the unit (blood pressure is read and charted to the mmHg)."""
    return (value * MMHG_PER_KPA).quantize(Decimal(1), rounding=ROUND_HALF_UP)
