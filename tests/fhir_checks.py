"""Checks shared by the FHIR tests: every body the hub returns must be a valid R4B resource."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class


def valid(body: dict[str, Any]) -> dict[str, Any]:
    """Validate with fhir.resources (and every resource inside a Bundle); return the body."""
    model = get_fhir_model_class(body["resourceType"])
    model.model_validate(body)
    for entry in body.get("entry", []):
        inner = entry["resource"]
        get_fhir_model_class(inner["resourceType"]).model_validate(inner)
    return body


def outcome_code(body: dict[str, Any]) -> str:
    """The hub's stable code inside an OperationOutcome (and check it is one)."""
    assert body["resourceType"] == "OperationOutcome", body
    valid(body)
    code: str = body["issue"][0]["details"]["coding"][0]["code"]
    return code
