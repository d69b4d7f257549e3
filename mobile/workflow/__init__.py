"""The assisted-teleconsultation session workflow, as plain Python (no Kivy): screens bind to it and stay thin.

A session: sign in → choose or create the patient → reason, consent and room checklist → measure with the
Bluetooth devices (review each value: accept, retake, or type it by hand) → respiration rate, consciousness,
oxygen and NEWS2 → the call with the remote doctor → the summary for the patient's own doctor → close, which
queues the session for upload in the same transaction. One module per step; :class:`SessionWorkflow`
(mobile.workflow.facade) composes them.

Safety rules kept here, where they can be tested without a screen:
- a device error (NaN, NRes, ±INF) or an implausible value is never proposed as a reading;
- a reading is bound to the session it was started for: changing patient mid-measurement discards it;
- values keep the precision the device sent ("37.60" stays "37.60").
Refusals are :class:`WorkflowError` codes with parameters; mobile.messages words them for the screens.
"""
from mobile.workflow.context import DeviceClaims
from mobile.workflow.facade import SessionWorkflow
from mobile.workflow.patients import parse_birth_date
from mobile.workflow.readings import LOINC_BODY_TEMPERATURE, check_temperature, parse_manual_temperature
from mobile.workflow.state import (STEPS, DuplicateWarning, Proposal, ProposedValue, WorkflowError, WorkflowState,
                                   format_temperature)

__all__ = ["DeviceClaims", "DuplicateWarning", "LOINC_BODY_TEMPERATURE", "Proposal", "ProposedValue", "STEPS",
           "SessionWorkflow", "WorkflowError", "WorkflowState", "check_temperature", "format_temperature",
           "parse_birth_date", "parse_manual_temperature"]
