"""Errors on the FHIR face as OperationOutcome, with the hub's stable code inside.

Kept small on purpose: the lead unifies it with hub/fhir/outcome.py on merge.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome

FHIR_JSON = "application/fhir+json"
ERROR_CODE_SYSTEM = "urn:ehh:error"

# HTTP status -> the OperationOutcome issue type (http://hl7.org/fhir/issue-type).
ISSUE_TYPES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    500: "exception",
    503: "transient",
}


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def operation_outcome(message: str, code: str, status: int) -> dict[str, Any]:
    """One error issue: the issue type for FHIR clients, our code for scripts, words for people."""
    outcome = OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error" if status < 500 else "fatal",
                    "code": ISSUE_TYPES.get(status, "processing"),
                    "details": {
                        "coding": [{"system": ERROR_CODE_SYSTEM, "code": code}],
                        "text": message,
                    },
                    "diagnostics": message,
                }
            ],
        }
    )
    return outcome.model_dump(mode="json", exclude_none=True)


def outcome_response(
    message: str, code: str, status: int, headers: dict[str, str] | None = None
) -> FhirResponse:
    return FhirResponse(
        operation_outcome(message, code, status), status_code=status, headers=headers
    )
