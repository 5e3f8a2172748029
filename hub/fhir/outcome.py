"""Errors on FHIR endpoints, as OperationOutcome with ``application/fhir+json``.

Routers under /fhir use ``FhirRoute`` as their route class: any HubError, invalid request or
unexpected failure inside such a route (its dependencies included) leaves as an
OperationOutcome instead of the hub's plain JSON error body. The issue carries the hub's
stable error code in ``details`` so that clients can branch on it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fhir.resources.R4B.operationoutcome import OperationOutcome
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.db.engine import DATABASE_UNAVAILABLE
from hub.errors import HubError
from hub.logging import log

FHIR_JSON = "application/fhir+json"
ERROR_SYSTEM = "urn:ehh:error"
# HTTP status -> the OperationOutcome issue type (http://hl7.org/fhir/issue-type).
ISSUE_TYPE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    500: "exception",
    503: "transient",
}


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def outcome(
    *,
    code: str,
    message: str,
    status_code: int,
    expressions: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """One OperationOutcome: an issue per problem (``(expression, message)``), or one overall.

    The issue type is for FHIR clients, the hub's code in ``details`` for scripts, the words
    for people; a failure of the hub itself (5xx) is ``fatal``.
    """
    issue_type = ISSUE_TYPE.get(status_code, "processing" if status_code < 500 else "exception")
    severity = "error" if status_code < 500 else "fatal"
    details = {"coding": [{"system": ERROR_SYSTEM, "code": code}], "text": message}
    issues: list[dict[str, Any]] = [
        {
            "severity": severity,
            "code": issue_type,
            "details": {**details, "text": text},
            "expression": [where],
        }
        for where, text in expressions
    ] or [{"severity": severity, "code": issue_type, "details": details, "diagnostics": message}]
    resource = {"resourceType": "OperationOutcome", "issue": issues}
    OperationOutcome.model_validate(resource)
    return resource


def outcome_response(
    *,
    code: str,
    message: str,
    status_code: int,
    expressions: Sequence[tuple[str, str]] = (),
    headers: dict[str, str] | None = None,
) -> FhirResponse:
    return FhirResponse(
        outcome(code=code, message=message, status_code=status_code, expressions=expressions),
        status_code=status_code,
        headers=headers,
    )


class FhirError(HubError):
    """A HubError that names where in a resource each problem is."""

    def __init__(
        self, message: str, *, code: str, expressions: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message, code=code, status_code=400)
        self.expressions = list(expressions)


class FhirRoute(APIRoute):
    """Every failure under /fhir leaves as an OperationOutcome, never as the /v1 error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except HubError as exc:
                return outcome_response(
                    code=exc.code,
                    message=exc.message,
                    status_code=exc.status_code,
                    expressions=exc.expressions if isinstance(exc, FhirError) else (),
                    headers=exc.headers,
                )
            except RequestValidationError as exc:
                problems = [
                    (
                        ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "request",
                        str(e.get("msg", "invalid")),
                    )
                    for e in exc.errors()[:20]
                ]
                return outcome_response(
                    code="invalid-field",
                    message="The request is not valid.",
                    status_code=400,
                    expressions=problems,
                )
            except DATABASE_UNAVAILABLE as exc:
                log.warning("database_unavailable", error=type(exc.orig).__name__)
                return outcome_response(
                    code="unavailable",
                    message="The hub's database is unavailable; try again shortly.",
                    status_code=503,
                    headers={"Retry-After": "5"},
                )
            except StarletteHTTPException as exc:  # e.g. a body that is not JSON at all
                return outcome_response(
                    code="invalid-request" if exc.status_code == 400 else "http-error",
                    message="The request body is not valid FHIR JSON."
                    if exc.status_code == 400
                    else str(exc.detail),
                    status_code=exc.status_code,
                )
            except Exception as exc:  # a FHIR client gets an OperationOutcome, never a trace
                log.error("unexpected_error", error=type(exc).__name__)
                return outcome_response(
                    code="internal-error",
                    message="Something went wrong in the hub. It has been logged.",
                    status_code=500,
                )

        return handle
