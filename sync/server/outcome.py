"""How the development server says no: an HTTP status with an OperationOutcome (HL7 FHIR R4 RESTful API,
"Handling errors"; issue codes from the IssueType value set, e.g. `invalid`, `duplicate`, `login`, `throttled`).

Every refusal of the server, from a malformed body to a tablet writing for a site it is not registered for, is a
FhirError raised where the rule lives and turned into a reply by the HTTP front (sync.server.handler).
"""
from __future__ import annotations

from typing import Any


class FhirError(Exception):
    """An error answered as an OperationOutcome with an HTTP status (`code`: the FHIR IssueType)."""

    def __init__(self, status: int, diagnostics: str, code: str = "invalid", *,
                 retry_after: float | None = None) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code
        self.retry_after = retry_after


def operation_outcome(diagnostics: str, code: str = "invalid", severity: str = "error") -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}
