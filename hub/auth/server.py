"""The token endpoint: authlib's framework-neutral OAuth 2.0 server, glued to FastAPI.

Agency systems use the client-credentials grant and authenticate with ``private_key_jwt``
(RFC 7523, as SMART backend services require): a one-time assertion signed with the
system's private key. The hub keeps only public keys, and remembers every assertion id
until the assertion would have expired, in the database, so a replay fails even after a
restart.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.agencies.models import ApiClient, UsedAssertion
from hub.auth.scopes import ALL_SCOPES
from hub.auth.tokens import TokenService
from hub.settings import Settings

AUTH_METHOD = "private_key_jwt"
ASSERTION_ALGORITHMS = ["ES384", "ES256", "RS384"]


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth2Request over an already-parsed form, as authlib's integrations build."""

    def __init__(self, uri: str, headers: Mapping[str, str], form: dict[str, str]) -> None:
        super().__init__(method="POST", uri=uri, headers=dict(headers))
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class RegisteredClient(ClientMixin):  # type: ignore[misc]
    """authlib's view of an ``ApiClient`` row."""

    def __init__(self, row: ApiClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.row.scopes.split()
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == AUTH_METHOD and endpoint == "token"

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [AUTH_METHOD]


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = AUTH_METHOD

    def __init__(self, session: Session, settings: Settings) -> None:
        super().__init__(leeway=settings.clock_leeway_seconds)
        self._session = session
        self._settings = settings

    def get_audiences(self) -> list[str]:
        return [self._settings.token_endpoint]

    def resolve_client_public_key(self, client: RegisteredClient) -> KeySet:
        return KeySet.import_key_set(json.loads(client.row.public_jwks))

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        headers, claims = super().extract_assertion(assertion)
        if headers.get("alg") not in ASSERTION_ALGORITHMS:
            raise InvalidClientError(
                description="The client assertion must be signed with ES384, ES256 or RS384."
            )
        return headers, claims

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        """As authlib's, but naming SMART's algorithms (joserfc's default list omits ES384)."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except JoseError as exc:
            raise InvalidClientError(
                description="The client assertion's signature is not valid."
            ) from exc
        except ValueError as exc:
            raise InvalidClientError(description="The client assertion is malformed.") from exc
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: Any) -> None:
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp - time.time() > (
            self._settings.assertion_max_lifetime_seconds + self._settings.clock_leeway_seconds
        ):
            raise InvalidClientError(
                description="The client assertion must expire within five minutes."
            )
        super().verify_claims(claims)

    def validate_jti(self, claims: Mapping[str, Any], jti: Any) -> bool:
        """Spend the assertion id; a second use of the same id is a replay."""
        if not isinstance(jti, str) or not jti:
            return False
        digest = hashlib.sha256(f"{claims['sub']}\x1f{jti}".encode()).hexdigest()
        if self._session.get(UsedAssertion, digest) is not None:
            return False
        expires = datetime.fromtimestamp(float(claims["exp"]), UTC)
        try:
            with self._session.begin_nested():
                self._session.add(UsedAssertion(jti_hash=digest, expires_at=expires))
        except IntegrityError:
            return False
        return True


class HubAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, session: Session, settings: Settings, tokens: TokenService) -> None:
        super().__init__(scopes_supported=list(ALL_SCOPES))
        self._session = session
        self._settings = settings
        self._tokens = tokens
        self.register_grant(ClientCredentials)
        self.register_client_auth_method(AUTH_METHOD, PrivateKeyJwt(session, settings))
        self.register_token_generator("default", self._generate_token)

    def query_client(self, client_id: str) -> RegisteredClient | None:
        row = self._session.execute(
            select(ApiClient).where(ApiClient.client_id == client_id, ApiClient.active)
        ).scalar_one_or_none()
        return RegisteredClient(row) if row is not None else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Access tokens are self-contained signed JWTs; nothing to store."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal bus here; the flows log what matters."""

    def _generate_token(
        self,
        grant_type: str,
        client: RegisteredClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        scopes = client.get_allowed_scope(scope).split()
        token = self._tokens.issue(
            client_id=client.row.client_id,
            agency_code=client.row.agency.code,
            agency_kind=client.row.agency.kind,
            scopes=scopes,
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self._settings.access_token_ttl_seconds,
            "scope": " ".join(scopes),
        }

    def create_oauth2_request(self, request: Mapping[str, Any]) -> OAuth2Request:
        return FormRequest(self._settings.token_endpoint, request["headers"], dict(request["form"]))

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        if body.get("error") == "invalid_client":
            status = 401  # RFC 6749 §5.2 allows it; the issue asks every refused assertion be a 401
        if "error" in body:
            body = {**body, "message": body.get("error_description") or body["error"]}
        return status, body, headers


def forget_expired_assertions(session: Session) -> int:
    """Spent assertion ids are needed only until they would have expired anyway."""
    result = session.execute(
        delete(UsedAssertion).where(UsedAssertion.expires_at < datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)
