"""The hub's own access tokens: short-lived JWTs signed with the hub's key (ES256).

Resource endpoints verify them without a database round trip; the agency and the scopes
travel inside the signed token.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from hub.crypto.keys import Keyring
from hub.db.base import new_id
from hub.errors import Unauthenticated
from hub.settings import Settings

ALGORITHM = "ES256"
_VERIFIED_CACHE = 4096


@dataclass(frozen=True)
class Caller:
    """An authenticated agency system, as its access token says."""

    client_id: str
    agency_code: str
    agency_kind: str
    scopes: frozenset[str]


class TokenService:
    def __init__(self, settings: Settings, keyring: Keyring) -> None:
        self._settings = settings
        self._key = keyring.token_signing_key
        self._public = ECKey.import_key(self._key.as_dict(private=False))
        self.key_id = self._key.thumbprint()
        self._verified: OrderedDict[str, tuple[Caller, float, float]] = OrderedDict()
        self._verified_lock = threading.Lock()

    def public_jwks(self) -> dict[str, object]:
        jwk = self._key.as_dict(private=False)
        jwk.update({"kid": self.key_id, "use": "sig", "alg": ALGORITHM})
        return {"keys": [jwk]}

    def issue(
        self, *, client_id: str, agency_code: str, agency_kind: str, scopes: list[str]
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": self._settings.public_url,
            "aud": self._settings.public_url,
            "sub": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + self._settings.access_token_ttl_seconds,
            "jti": new_id(),
            "agency": agency_code,
            "agency_kind": agency_kind,
            "scope": " ".join(scopes),
        }
        header = {"alg": ALGORITHM, "kid": self.key_id, "typ": "at+jwt"}
        return jwt.encode(header, claims, self._key, algorithms=[ALGORITHM])

    def verify(self, token: str) -> Caller:
        """Check signature, issuer, audience and time; any failure is one clear 401.

        A token already verified is remembered (by its exact text, until it expires), so an
        agency system reusing its token costs a dictionary lookup and the time check, not an
        ECDSA verification, on every request. Nothing else about a token can change: the
        claims are inside the signature.
        """
        now = time.time()
        leeway = self._settings.clock_leeway_seconds
        with self._verified_lock:
            known = self._verified.get(token)
        if known is not None:
            caller, not_before, expires = known
            if not_before - leeway <= now <= expires + leeway:
                return caller
            with self._verified_lock:
                self._verified.pop(token, None)
        caller, not_before, expires = self._verify_signed(token)
        with self._verified_lock:
            self._verified[token] = (caller, not_before, expires)
            if len(self._verified) > _VERIFIED_CACHE:
                self._verified.popitem(last=False)
        return caller

    def _verify_signed(self, token: str) -> tuple[Caller, float, float]:
        try:
            decoded = jwt.decode(token, self._public, algorithms=[ALGORITHM])
        except JoseError:
            raise Unauthenticated(
                "The access token is not valid: it is malformed or not signed by this hub.",
                code="invalid-token",
            ) from None
        except ValueError:
            raise Unauthenticated("The access token is malformed.", code="invalid-token") from None
        registry = jwt.JWTClaimsRegistry(
            leeway=self._settings.clock_leeway_seconds,
            iss={"essential": True, "value": self._settings.public_url},
            aud={"essential": True, "value": self._settings.public_url},
            exp={"essential": True},
            sub={"essential": True},
            agency={"essential": True},
            agency_kind={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            reason = "has expired" if "expired" in str(exc).lower() else "is not valid here"
            raise Unauthenticated(
                f"The access token {reason}: request a new one from the token endpoint.",
                code="invalid-token",
            ) from None
        claims = decoded.claims
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise Unauthenticated("The access token's scope is malformed.", code="invalid-token")
        caller = Caller(
            client_id=str(claims["sub"]),
            agency_code=str(claims["agency"]),
            agency_kind=str(claims["agency_kind"]),
            scopes=frozenset(scope.split()),
        )
        not_before = claims.get("nbf", claims.get("iat", 0))
        return (
            caller,
            float(not_before) if isinstance(not_before, int | float) else 0.0,
            float(claims["exp"]),
        )
