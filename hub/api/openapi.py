"""The OpenAPI document states every answer the hub can give, errors included.

FastAPI documents only the success and its own 422; the hub answers malformed requests with
400 and its error body, and any route can also be refused by the size guard (413), the rate
limit (429) or an unavailable database (503). Declaring them lets a client (and the
schemathesis tests) check every response against the document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict

from hub.api.public import PUBLIC_PATHS


class ErrorItem(BaseModel):
    code: str
    description: str


class ErrorOut(BaseModel):
    """``{"message", "errors": [{"code", "description"}]}``; refusals may add a receipt."""

    model_config = ConfigDict(extra="allow")

    message: str
    errors: list[ErrorItem]


_DESCRIPTIONS = {
    "400": "The request is malformed; the message says what to change.",
    "401": "No valid access token.",
    "403": "The token does not allow this, or the agency may not do it.",
    "404": "There is no such record, involvement or consent held by your agency.",
    "409": "The request conflicts with what is held.",
    "413": "The request body is too large.",
    "429": "Too many requests from this client; wait for the Retry-After seconds.",
    "503": "The hub's database is unavailable; try again after Retry-After seconds.",
}
_PUBLIC = ("400", "413", "429", "503")
FHIR_JSON = "application/fhir+json"
OPERATION_OUTCOME: dict[str, Any] = {
    "type": "object",
    "description": "A FHIR OperationOutcome: every error under /fhir.",
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {"type": "array", "minItems": 1, "items": {"type": "object"}},
    },
    "required": ["resourceType", "issue"],
}


def install(app: FastAPI) -> None:
    """Replace FastAPI's document builder with one that declares the hub's error answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorOut"] = _error_schema(schemas)
        schemas["OperationOutcome"] = OPERATION_OUTCOME
        for path, item in schema.get("paths", {}).items():
            statuses = _PUBLIC if path in PUBLIC_PATHS else tuple(_DESCRIPTIONS)
            # Under /fhir every error is an OperationOutcome in FHIR's own media type.
            content = (
                {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}}
                if path.startswith("/fhir")
                else {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
            )
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                if path.startswith("/fhir"):
                    _fhir_media_type(responses)
                for status in statuses:
                    responses.setdefault(
                        status, {"description": _DESCRIPTIONS[status], "content": content}
                    )
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error_schema(schemas: dict[str, Any]) -> dict[str, Any]:
    full = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in full.pop("$defs", {}).items():
        schemas[name] = definition
    return full


def _fhir_media_type(responses: dict[str, Any]) -> None:
    """FHIR answers are application/fhir+json; FastAPI documents plain JSON by default."""
    for response in responses.values():
        content = response.get("content") or {}
        if "application/json" in content and FHIR_JSON not in content:
            content[FHIR_JSON] = content.pop("application/json")
