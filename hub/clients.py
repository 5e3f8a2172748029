"""Registering agency systems, and the client side of the private_key_jwt exchange.

``hub client add`` writes the new system's private key to a file for its operators and keeps
only the public key; ``hub client token`` uses that file to perform the real exchange
against a running hub, for scripts and the demo.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.agencies.models import Agency, ApiClient
from hub.auth.scopes import ALL_SCOPES, DEFAULT_SCOPES
from hub.disclosure import log
from hub.vocab import AgencyKind, LogEvent

ASSERTION_ALGORITHM = "ES384"


class ClientError(RuntimeError):
    """The client cannot be registered or cannot sign in; the message says why."""


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    token_endpoint: str
    private_jwk: dict[str, Any]

    def assertion(self, *, lifetime: int = 240, jti: str | None = None) -> str:
        now = int(time.time())
        key = ECKey.import_key(self.private_jwk)
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_endpoint,
            "iat": now,
            "exp": now + lifetime,
            "jti": jti or str(uuid.uuid4()),
        }
        header = {"alg": ASSERTION_ALGORITHM, "kid": self.private_jwk["kid"], "typ": "JWT"}
        return jwt.encode(header, claims, key, algorithms=[ASSERTION_ALGORITHM])

    def token_form(self, scope: str | None = None, **assertion_args: Any) -> dict[str, str]:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.assertion(**assertion_args),
        }
        if scope:
            form["scope"] = scope
        return form

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "client_id": self.client_id,
                    "token_endpoint": self.token_endpoint,
                    "private_jwk": self.private_jwk,
                },
                handle,
                indent=2,
            )

    @classmethod
    def load(cls, path: Path) -> ClientCredentials:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["client_id"], data["token_endpoint"], data["private_jwk"])
        except FileNotFoundError:
            raise ClientError(
                f"No client key file at {path}; run 'hub client add' first."
            ) from None
        except (ValueError, KeyError):
            raise ClientError(f"The client key file {path} is malformed.") from None


def ensure_agency(
    session: Session, *, code: str, name: str, kind: AgencyKind, contact: str | None = None
) -> Agency:
    agency = session.execute(select(Agency).where(Agency.code == code)).scalar_one_or_none()
    if agency is None:
        agency = Agency(code=code, name=name, kind=kind, contact=contact)
        session.add(agency)
        session.flush()
    return agency


def register_client(
    session: Session,
    *,
    client_id: str,
    agency: Agency,
    token_endpoint: str,
    scopes: list[str] | None = None,
) -> ClientCredentials:
    """Make a key pair, keep the public half, and hand back the private half once."""
    if session.execute(select(ApiClient).where(ApiClient.client_id == client_id)).first():
        raise ClientError(f"A client named '{client_id}' is already registered.")
    granted = scopes or list(DEFAULT_SCOPES)
    unknown = set(granted) - set(ALL_SCOPES)
    if unknown:
        raise ClientError(f"Unknown scopes: {', '.join(sorted(unknown))}")
    key = ECKey.generate_key("P-384", private=True)
    private = key.as_dict(private=True)
    private["kid"] = key.thumbprint()
    public = key.as_dict(private=False)
    public.update({"kid": private["kid"], "alg": ASSERTION_ALGORITHM, "use": "sig"})
    session.add(
        ApiClient(
            client_id=client_id,
            agency_id=agency.id,
            public_jwks=json.dumps({"keys": [public]}),
            scopes=" ".join(granted),
        )
    )
    log.append(
        session,
        event=LogEvent.CLIENT_REGISTERED,
        agency=agency.code,
        body={"client": client_id, "scopes": sorted(granted), "key_id": private["kid"]},
    )
    session.flush()
    return ClientCredentials(client_id, token_endpoint, private)


def fetch_token(
    credentials: ClientCredentials, *, scope: str | None = None, timeout: float = 10
) -> str:
    """Perform the real private_key_jwt exchange with a running hub."""
    try:
        response = httpx.post(
            credentials.token_endpoint, data=credentials.token_form(scope), timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise ClientError(f"Cannot reach the hub at {credentials.token_endpoint}: {exc}") from None
    body = response.json()
    if response.status_code != 200:
        raise ClientError(f"The hub refused the token request: {body.get('message', body)}")
    return str(body["access_token"])
