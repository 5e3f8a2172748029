"""Signing notification bodies so the receiver can tell they came from this hub, unaltered.

A detached JWS (RFC 7515 appendix F) over the exact bytes of the body, with the hub's
ES256 key whose public half is at /.well-known/jwks.json. The body itself carries the
notification's id and time, so a receiver can also refuse replays.
"""

from __future__ import annotations

from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, KeySet

SIGNATURE_HEADER = "X-Hub-Signature"
ALGORITHM = "ES256"
TYPE = "ehh-notification+jws"


def sign(body: bytes, *, key: ECKey, key_id: str) -> str:
    protected = {"alg": ALGORITHM, "kid": key_id, "typ": TYPE}
    compact = jws.serialize_compact(protected, body, key, algorithms=[ALGORITHM])
    return jws.detach_content(compact)


def verify(signature: str, body: bytes, jwks: dict[str, Any]) -> dict[str, Any]:
    """What a receiver does: check the signature over the body against the hub's published keys.

    Raises joserfc's BadSignatureError (or another JoseError) when it does not hold.
    """
    keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    found = jws.deserialize_compact(signature, keys, algorithms=[ALGORITHM], payload=body)
    if found.protected.get("typ") != TYPE:
        raise ValueError("not a hub notification signature")
    return dict(found.protected)
