"""Build the FastAPI application around one running ``Hub``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.api import audit, imports, linkage, log_proofs, openapi, public, v1
from hub.api.guards import RequestGuard
from hub.api.guards import SafeJSONResponse as JSONResponse
from hub.api.metrics import router as metrics_router
from hub.api.ratelimit import RateLimit
from hub.console.web import create_console
from hub.db.engine import DATABASE_UNAVAILABLE
from hub.errors import HubError, error_body
from hub.fhir import audit as fhir_audit
from hub.fhir import consent as fhir_consent
from hub.fhir.router import router as fhir_router
from hub.logging import log
from hub.runtime import Hub

DESCRIPTION = """
The secure broker between the agencies around a child in England. Agency systems sign in
with OAuth 2.0 client credentials and a signed client assertion (SMART backend services),
register the people and involvements they hold, and ask who else works with a child. Every
decision, permit or deny, is written with its reasons to a tamper-evident disclosure log.
"""


def create_app(hub: Hub) -> FastAPI:
    app = FastAPI(
        title="Early Help Hub",
        version="0.1.0",
        description=DESCRIPTION,
        default_response_class=JSONResponse,
    )
    app.state.hub = hub
    # Routes are matched in order, each candidate costing a few microseconds: the agency API,
    # where the load is, goes first (bench/e2e.py: about 0.1 ms of CPU a request).
    app.include_router(v1.router)
    app.include_router(public.router)
    app.include_router(log_proofs.router)
    app.include_router(audit.router)
    app.include_router(fhir_consent.router)
    app.include_router(imports.router)
    app.include_router(fhir_audit.router)
    app.include_router(fhir_router)
    app.mount("/console", create_console(hub))
    app.include_router(metrics_router)
    app.include_router(linkage.router)
    _install_error_handlers(app)
    app.add_middleware(RateLimit, rate=hub.settings.rate_limit, tokens=hub.tokens)
    app.add_middleware(RequestGuard, limit=hub.settings.max_request_bytes)
    openapi.install(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HubError)
    async def _hub_error(_request: Request, exc: HubError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_describe(e) for e in exc.errors()[:20]]
        message = "The request is not valid: " + "; ".join(e["description"] for e in errors)
        return JSONResponse({"message": message, "errors": errors}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {
            404: "There is nothing at this address.",
            405: "This address does not accept that method.",
        }
        message = messages.get(exc.status_code, str(exc.detail))
        code = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
            exc.status_code, "http-error"
        )
        return JSONResponse(error_body(message, code), status_code=exc.status_code)

    @app.exception_handler(DataError)
    async def _unstorable(_request: Request, exc: DataError) -> JSONResponse:
        """A value the database cannot hold (PostgreSQL refuses NUL characters in text)."""
        log.info("unstorable_value", error=type(exc.orig).__name__)
        return JSONResponse(
            error_body(
                "A value in the request cannot be stored: text must not contain control "
                "characters such as NUL.",
                "invalid-value",
            ),
            status_code=400,
        )

    async def _database_down(_request: Request, exc: Exception) -> JSONResponse:
        """The database went away (or a connection to it did): try again, not a 500."""
        log.warning("database_unavailable", error=type(getattr(exc, "orig", exc)).__name__)
        return JSONResponse(
            error_body("The hub's database is unavailable; try again shortly.", "unavailable"),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_down)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected_error", error=type(exc).__name__)
        return JSONResponse(
            error_body("Something went wrong in the hub. It has been logged.", "internal-error"),
            status_code=500,
        )


def _describe(error: Any) -> dict[str, str]:
    """A validation error without echoing the submitted value back."""
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "request"
    return {"code": "invalid-field", "description": f"{where}: {error.get('msg', 'invalid')}"}
