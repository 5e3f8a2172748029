"""The token endpoint refuses every bad client assertion with a 401 and issues nothing."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from hub.app import create_app
from hub.clients import ClientCredentials
from hub.runtime import Hub
from tests.factories import World, make_world

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        yield make_world(hub, api)


def claims_for(client: ClientCredentials, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": client.token_endpoint,
        "iat": now,
        "exp": now + 240,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def signed(client: ClientCredentials, claims: dict[str, Any], key: ECKey | None = None) -> str:
    key = key or ECKey.import_key(client.private_jwk)
    header = {"alg": "ES384", "kid": client.private_jwk["kid"], "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=["ES384"])


def unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def exchange(world: World, assertion: str) -> Any:
    return world.api.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


Forge = Callable[[ClientCredentials], str]
NOW = int(time.time())

BAD_ASSERTIONS: dict[str, Forge] = {
    "expired": lambda c: signed(c, claims_for(c, iat=NOW - 900, exp=int(time.time()) - 300)),
    "not-yet-valid": lambda c: signed(c, claims_for(c, nbf=int(time.time()) + 600)),
    "wrong-audience": lambda c: signed(c, claims_for(c, aud="https://elsewhere.example/token")),
    "wrong-issuer": lambda c: signed(c, claims_for(c, iss="someone-else")),
    "alg-none": lambda c: unsigned(claims_for(c)),
    "another-key": lambda c: signed(c, claims_for(c), ECKey.generate_key("P-384", private=True)),
    "no-expiry": lambda c: signed(c, claims_for(c, exp=None)),
    "too-long-lived": lambda c: signed(c, claims_for(c, exp=int(time.time()) + 3600)),
    "no-jti": lambda c: signed(c, claims_for(c, jti=None)),
    "unknown-client": lambda c: signed(c, claims_for(c, iss="ghost", sub="ghost")),
    "garbage": lambda c: "not.a.jwt",
}


@pytest.mark.parametrize("forge", BAD_ASSERTIONS.values(), ids=BAD_ASSERTIONS.keys())
def test_a_bad_assertion_is_refused_with_401(world: World, forge: Forge) -> None:
    response = exchange(world, forge(world.clients["COUNCIL"]))

    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "invalid_client"
    assert "access_token" not in body


def test_a_replayed_assertion_is_refused_with_401(world: World) -> None:
    client = world.clients["COUNCIL"]
    assertion = signed(client, claims_for(client))

    first = exchange(world, assertion)
    replayed = exchange(world, assertion)

    assert first.status_code == 200, first.text
    assert replayed.status_code == 401
    assert "access_token" not in replayed.json()


def test_a_good_assertion_gets_a_token(world: World) -> None:
    client = world.clients["COUNCIL"]

    response = exchange(world, signed(client, claims_for(client)))

    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
