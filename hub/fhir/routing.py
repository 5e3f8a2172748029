"""The route class for /fhir: every failure leaves as an OperationOutcome."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.errors import HubError
from hub.fhir.errors import outcome_response
from hub.logging import log


class FhirRoute(APIRoute):
    """Every failure under /fhir leaves as an OperationOutcome, never as the /v1 error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handle(request)
            except HubError as exc:
                return outcome_response(exc.message, exc.code, exc.status_code, exc.headers)
            except RequestValidationError as exc:
                where = "; ".join(
                    ".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()[:5]
                )
                return outcome_response(
                    f"The request is not valid: check {where or 'the request'}.",
                    "invalid-field",
                    400,
                )
            except OperationalError as exc:
                log.warning("database_unavailable", error=type(exc.orig).__name__)
                return outcome_response(
                    "The hub's database is unavailable; try again shortly.",
                    "unavailable",
                    503,
                    {"Retry-After": "5"},
                )
            except StarletteHTTPException as exc:  # e.g. a body that is not JSON at all
                message = (
                    "The request body is not valid FHIR JSON."
                    if exc.status_code == 400
                    else str(exc.detail)
                )
                return outcome_response(message, "invalid-request", exc.status_code)
            except Exception as exc:
                log.error("unexpected_error", error=type(exc).__name__)
                return outcome_response(
                    "Something went wrong in the hub. It has been logged.", "internal-error", 500
                )

        return guarded
