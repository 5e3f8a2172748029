"""The routes that need no access token: discovery, the token endpoint, health.

Everything else is authenticated; a test walks the app's routes against this list.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import text

from hub.api.deps import HubDep, SessionDep
from hub.api.guards import SafeJSONResponse as JSONResponse
from hub.auth.scopes import ALL_SCOPES
from hub.auth.server import ASSERTION_ALGORITHMS, HubAuthorizationServer

router = APIRouter(tags=["discovery and sign-in"])

PUBLIC_PATHS = frozenset(
    {
        "/.well-known/smart-configuration",
        "/.well-known/jwks.json",
        "/oauth/token",
        "/healthz",
        "/readyz",
        "/fhir/metadata",
        "/metrics",
    }
)


@router.get("/.well-known/smart-configuration")
def smart_configuration(hub: HubDep) -> dict[str, Any]:
    """SMART backend services discovery: where and how an agency system gets a token."""
    base = hub.settings.public_url
    return {
        "issuer": base,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": hub.settings.token_endpoint,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "scopes_supported": list(ALL_SCOPES),
        "capabilities": ["client-confidential-asymmetric"],
    }


@router.get("/.well-known/jwks.json")
def jwks(hub: HubDep) -> dict[str, object]:
    """The keys that verify the hub's access tokens."""
    return hub.tokens.public_jwks()


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthErrorOut(BaseModel):
    """RFC 6749 §5.2 error, with the hub's plain-words ``message``."""

    error: str
    error_description: str | None = None
    message: str


_TOKEN_FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["grant_type", "client_assertion_type", "client_assertion"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "client_assertion_type": {
                        "type": "string",
                        "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
                    },
                    "client_assertion": {"type": "string", "maxLength": 8000},
                    "scope": {"type": "string", "maxLength": 500},
                },
            }
        }
    },
}


@router.post(
    "/oauth/token",
    response_model=TokenOut,
    responses={
        400: {"model": OAuthErrorOut, "description": "The request is not a valid grant."},
        401: {"model": OAuthErrorOut, "description": "The client assertion is refused."},
    },
    openapi_extra={"requestBody": _TOKEN_FORM},
)
async def token(request: Request, hub: HubDep, session: SessionDep) -> JSONResponse:
    """Client credentials with private_key_jwt; spent assertion ids are committed here."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}

    def exchange() -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        server = HubAuthorizationServer(session, hub.settings, hub.tokens)
        answer = server.create_token_response({"headers": dict(request.headers), "form": fields})
        session.commit()
        return answer  # type: ignore[no-any-return]

    status, body, headers = await run_in_threadpool(exchange)
    return JSONResponse(body, status_code=status, headers=dict(headers))


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(session: SessionDep) -> JSONResponse:
    """Ready when the database answers; a load balancer stops sending work when it does not."""
    try:
        session.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})
