"""The HL7 FHIR R4 mapping of a session: what callers import as `from sync import fhir`. Pure functions, no I/O.

The package, one job per module:
- `terminology`: identifier systems, code systems, FR Core profiles and national identifiers, display tables;
- `resources`: Patient, Practitioner and PractitionerRole, Organization, Device, Encounter, Consent;
- `observations`: vital-signs Observations and the blood pressure panel;
- `interpretation`: the out-of-range thresholds and their ObservationInterpretation flags;
- `narrative`: French narrative text and formatting; `report`: the Consult note Compositions;
- `bundle`: the transaction Bundles, every entry a conditional create; `codec`: their deterministic JSON bytes.
What is measured and how it is coded (LOINC, UCUM, decimal text, INS authorities) is `sync.vocabulary`'s, and is
re-exported here for the callers that know it as `fhir.X`.

The INS authority: a build that must never send a real INS (demo, training) sets
`sync.fhir.INS_SYSTEM = INS_DEMO_SYSTEM` once at start-up; a call naming `ins_system` (as `Store(...,
ins_system=...)` does) overrides it. The builders below read the switch at call time.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from sync.fhir import bundle as _bundle
from sync.fhir import resources as _resources
from sync.fhir.bundle import if_none_exist, resource_uuid, site_tag
from sync.fhir.codec import dumps, dumps_bundle, loads
from sync.fhir.observations import bp_panel_resource, observation_resource
from sync.fhir.report import composition_resource
from sync.fhir.resources import (consent_resource, device_key, device_resource, encounter_resource, fhir_datetime,
                                 organization_key, organization_resource, practitioner_key, practitioner_resource,
                                 practitioner_role_resource, remote_doctor_resource)
from sync.fhir.terminology import (ADDENDUM_ID_SYSTEM, ARS_DECLARATION_SYSTEM, BUNDLE_ID_SYSTEM, COMPOSITION_ID_SYSTEM,
                                   CONSENT_GRANTORS, CONSENT_ID_SYSTEM, CONSULT_NOTE, DEVICE_ADDRESS_SYSTEM,
                                   DEVICE_SERIAL_SYSTEM, ENCOUNTER_ID_SYSTEM, FINESS_SYSTEM, IDNAT_PS_SYSTEM,
                                   IDNAT_STRUCT_SYSTEM, LOINC, NS, OBSERVATION_ID_SYSTEM, PATIENT_ID_SYSTEM,
                                   RESIDENT_ID_SYSTEM, ROOM_EXTENSION, RPPS_SYSTEM, SITE_ID_SYSTEM, SITE_KINDS,
                                   SITE_TAG_SYSTEM, STAFF_ID_SYSTEM, STAFF_ROLES, UCUM)
from sync.vocabulary import (BASE, BP_DIASTOLIC, BP_MEAN, BP_PANEL_CODE, BP_SYSTOLIC, INS_DEMO_SYSTEM,
                             INS_IDENTIFIER_TYPES, INS_NIR_SYSTEM, INS_TEST_SYSTEM, OBSERVATION_TYPES, PANEL_CODES,
                             decimal_from_text, kpa_to_mmhg)

INS_SYSTEM = INS_NIR_SYSTEM  # the INS authority when a call names none (see above)


def patient_resource(patient: Mapping[str, Any], *, ins_system: str | None = None,
                     organization_ref: str | None = None) -> dict[str, Any]:
    """`resources.patient_resource` under the INS authority `ins_system`, else the module switch INS_SYSTEM."""
    return _resources.patient_resource(patient, ins_system=ins_system or INS_SYSTEM, organization_ref=organization_ref)


def session_bundle(patient: Mapping[str, Any], session: Mapping[str, Any],
                   measurements: Iterable[Mapping[str, Any]], *, site: Mapping[str, Any] | None = None,
                   staff: Mapping[str, Mapping[str, Any]] | None = None,
                   consents: Sequence[Mapping[str, Any]] = (), notes: Sequence[Mapping[str, Any]] = (),
                   summary: Mapping[str, Any] | None = None, ins_system: str | None = None,
                   live: bool = False) -> dict[str, Any]:
    """`bundle.session_bundle` under the INS authority `ins_system`, else the module switch INS_SYSTEM."""
    return _bundle.session_bundle(patient, session, measurements, site=site, staff=staff, consents=consents,
                                  notes=notes, summary=summary, ins_system=ins_system or INS_SYSTEM, live=live)


def addendum_bundle(patient: Mapping[str, Any], session: Mapping[str, Any], addendum: Mapping[str, Any], *,
                    author: Mapping[str, Any], ins_system: str | None = None) -> dict[str, Any]:
    """`bundle.addendum_bundle` under the INS authority `ins_system`, else the module switch INS_SYSTEM."""
    return _bundle.addendum_bundle(patient, session, addendum, author=author, ins_system=ins_system or INS_SYSTEM)


__all__ = [
    # builders
    "session_bundle", "addendum_bundle", "patient_resource", "observation_resource", "bp_panel_resource",
    "encounter_resource", "consent_resource", "composition_resource", "organization_resource", "organization_key",
    "practitioner_resource", "practitioner_key", "practitioner_role_resource", "remote_doctor_resource",
    "device_resource", "device_key", "fhir_datetime", "resource_uuid", "if_none_exist", "site_tag",
    # wire form
    "dumps", "dumps_bundle", "loads",
    # identifier and code systems, display tables
    "BASE", "NS", "PATIENT_ID_SYSTEM", "RESIDENT_ID_SYSTEM", "OBSERVATION_ID_SYSTEM", "BUNDLE_ID_SYSTEM",
    "ENCOUNTER_ID_SYSTEM", "CONSENT_ID_SYSTEM", "COMPOSITION_ID_SYSTEM", "ADDENDUM_ID_SYSTEM", "STAFF_ID_SYSTEM",
    "SITE_ID_SYSTEM", "ARS_DECLARATION_SYSTEM", "DEVICE_ADDRESS_SYSTEM", "DEVICE_SERIAL_SYSTEM", "RPPS_SYSTEM",
    "ROOM_EXTENSION", "SITE_TAG_SYSTEM",
    "IDNAT_PS_SYSTEM", "FINESS_SYSTEM", "IDNAT_STRUCT_SYSTEM", "LOINC", "UCUM", "CONSULT_NOTE", "STAFF_ROLES",
    "SITE_KINDS", "CONSENT_GRANTORS",
    # from sync.vocabulary
    "INS_SYSTEM", "INS_NIR_SYSTEM", "INS_TEST_SYSTEM", "INS_DEMO_SYSTEM", "INS_IDENTIFIER_TYPES",
    "OBSERVATION_TYPES", "PANEL_CODES", "BP_PANEL_CODE", "BP_SYSTOLIC", "BP_DIASTOLIC", "BP_MEAN",
    "decimal_from_text", "kpa_to_mmhg",
]
